"""Display formatters for tensors: registration, removal, and never raising into the user's face.

Printers are registered by type name (``torch.Tensor``, and the subclasses ``Parameter``, ``DTensor`` and
the jagged ``NestedTensor``, whose own ``__repr__`` would otherwise win IPython's pretty-printer lookup;
JAX's and CuPy's arrays, and those ``TensorView.array_types`` lists) so that loading imports none of
those libraries.
Where torch is already imported, they go into ``type_printers`` directly, because IPython prefers a
type printer to a deferred one. Whatever was registered before is recorded and put back by
:meth:`TensorFormatters.unregister`.

The text and HTML of one output describe the tensor as it is at that output: they share one summary
for the length of one ``DisplayFormatter.format`` call, and nothing is remembered from one output to
the next, so no write to a tensor (through NumPy, ``.data`` or anything else) can leave a display stale.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import warnings
from collections import deque

from IPython.lib.pretty import Breakable
from IPython.utils.dir2 import get_real_method

from .adapters import adapter_for, displayable
from .config import TensorView, trait_value
from .convert import one_line as error_line
from .render_html import render_html
from .render_text import one_line, render_text
from .summary import Summary, summarize
from .tensor_kinds import TensorConversionError, plain_tensor
from .thumbnail import thumbnail

# Tensor, plus the subclasses whose own __repr__ would win IPython's pretty-printer lookup
TARGETS = (
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.nested._internal.nested_tensor", "NestedTensor"),
    ("torch.distributed.tensor", "DTensor"),
    # other libraries' arrays, by the names of their concrete classes (JAX's moved in jaxlib 0.4.36)
    ("jaxlib._jax", "ArrayImpl"),
    ("jaxlib.xla_extension", "ArrayImpl"),
    ("cupy", "ndarray"),
)


_ABSENT = object()


def _fallback_repr(obj, error: Exception, nested: bool = False) -> str:
    """The object's own repr, then one line saying why ours failed; inside a container, a single line."""
    reason = error_line(error)
    if nested:
        return f"{type(obj).__name__} (ipython_tensorview could not display it: {reason})"
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return f"{text}\n(ipython_tensorview could not display this tensor: {reason})"


def _columns_left(p) -> int:
    """The columns a pretty printer ``p`` leaves for the text it is given next: the line starts where its
    last pending break would put it, so a long text breaks the line there rather than at its edge."""
    column = p.output_width
    pending = 0
    for item in reversed(p.buffer):
        if isinstance(item, Breakable):
            column = item.indentation + pending
            break
        pending += item.width
    return max(20, p.max_width - column - len(p.stack))  # a closing bracket per container, or a comma


def _other_tables(display_formatter, formatters: dict) -> list[tuple]:
    """The printer tables of every formatter but text/plain's and text/html's that is on: its singleton,
    type and deferred printers and its special method's name."""
    plain, html = formatters.get("text/plain"), formatters.get("text/html")
    others = [trait_value(display_formatter, name) for name in ("ipython_display_formatter", "mimebundle_formatter")]
    others += [f for f in formatters.values() if f is not plain and f is not html]
    return [(trait_value(f, "singleton_printers"), trait_value(f, "type_printers"), trait_value(f, "deferred_printers"),
             trait_value(f, "print_method")) for f in others if trait_value(f, "enabled")]


def _may_claim(tables: tuple, obj, classes: list[tuple]) -> bool:
    """Whether a formatter that is on, with these printer ``tables``, could return something for ``obj``: it
    has a printer for it or one of its ``classes`` (each with its deferred printers' key), or finds its
    special method (``_repr_png_``...) on it."""
    singletons, by_type, deferred, print_method = tables
    if id(obj) in singletons:
        return True
    for cls, key in classes:
        if cls in by_type or key in deferred:
            return True
    return get_real_method(obj, print_method) is not None  # as IPython looks its method up


# values that hold nothing to look into, skipped cheaply by the record search
_LEAVES = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _repr_owner(cls):
    """The class of ``cls``'s MRO that defines the ``__repr__`` it prints with."""
    return next(c for c in cls.__mro__ if "__repr__" in vars(c))


def _record_fields(value) -> list[tuple[str, object]] | None:
    """The fields a record's own generated repr shows, as (name, value): a repr @dataclass wrote (not one of
    the class's own), namedtuple()'s or torch.return_types'; None for anything else."""
    cls = type(value)
    if isinstance(value, type) or hasattr(cls, "_repr_pretty_"):
        return None
    owner = _repr_owner(cls)
    if dataclasses.is_dataclass(owner) and _written_by_dataclass(vars(owner)["__repr__"]):
        # the fields that repr shows: its own class's, which a subclass with repr=False inherits
        return [(f.name, getattr(value, f.name, None)) for f in dataclasses.fields(owner) if f.repr]
    if isinstance(value, tuple):
        if cls.__module__ == "torch.return_types":  # torch's structseqs: torch.return_types.max(values=...)
            return list(zip(cls.__match_args__, value))
        if "_fields" in vars(owner):  # the repr namedtuple() wrote, not a subclass's own
            return list(zip(owner._fields, value))
    return None


def _written_by_dataclass(method) -> bool:
    """Whether a ``__repr__`` is the one @dataclass compiles from source text (wrapped recursion-safe), not a
    class's own, decorated or not."""
    while hasattr(method, "__wrapped__"):
        method = method.__wrapped__
    code = getattr(method, "__code__", None)
    return code is not None and code.co_filename == "<string>"


def _pretty_printer(plain, cls):
    """The printer IPython's pretty printer (``plain``'s) prints a ``cls`` with, as it looks one up: that of
    the first class of the MRO with a type or deferred printer, unless a class before it has a
    ``_repr_pretty_`` or ``__repr__`` of its own; None where the object's own repr prints it."""
    type_printers, deferred = trait_value(plain, "type_printers"), trait_value(plain, "deferred_printers")
    for c in cls.__mro__:
        printer = type_printers.get(c) or deferred.get((c.__module__, c.__name__))
        if printer is not None:
            return printer
        if c is not object and ("_repr_pretty_" in vars(c) or callable(vars(c).get("__repr__"))):
            return None
    return None


def _record_printer(obj, p, cycle) -> None:
    """``Name(field=value, ...)`` with each value through the pretty printer, as the record's own repr reads."""
    cls = type(obj)
    if cls.__module__ == "torch.return_types":
        name = f"{cls.__module__}.{cls.__name__}"
    else:
        name = cls.__qualname__ if dataclasses.is_dataclass(obj) else cls.__name__
    if cycle:
        p.text(f"{name}(...)")
        return
    with p.group(len(name) + 1, f"{name}(", ")"):
        for index, (field, value) in enumerate(_record_fields(obj)):
            if index:
                p.text(",")
                p.breakable()
            p.text(f"{field}=")
            p.pretty(value)


class TensorFormatters:
    """The text/plain and text/html printers of one shell, and the printers they displaced."""

    def __init__(self, settings: TensorView):
        self.settings = settings
        # (formatter, (module, name), the class where it was imported, our printer, previous type printer,
        # previous deferred printer)
        self._replaced: list[tuple] = []
        self._registered_on: tuple = ()  # register()'s arguments, to register again when array_types changes
        # records of array_types names whose module was not imported when listed: IPython finds a deferred
        # printer by the class's own module, which a name that re-exports it does not give
        self._unresolved: list[int] = []
        # the summaries of the output being formatted in this thread: {id: (tensor, Summary)}, else None
        self._output = threading.local()
        # (DisplayFormatter, our format wrapper, its previous instance attribute or _ABSENT)
        self._wrapped: tuple | None = None

    def text(self, obj, p, cycle) -> None:
        """IPython pretty-printer for text/plain: the whole block at the top of an output, one line for a
        tensor inside a list, tuple or dict, each fitted to the printer's width."""
        if len(p.stack) > 1:  # inside a container that IPython's pretty printer is printing
            p.text(self.text_of(obj, width=_columns_left(p), nested=True))
        else:
            p.text(self.text_of(obj, width=p.max_width))

    def text_of(self, obj, width: int = 0, nested: bool = False) -> str:
        with warnings.catch_warnings():  # nothing of ours reaches the user's cell
            warnings.simplefilter("ignore")
            return self._text_of(obj, width, nested)

    def _text_of(self, obj, width: int, nested: bool) -> str:
        try:
            if not (self.settings.formatters and displayable(obj)):  # a mock claiming to be a Tensor is not
                return repr(obj)
            if nested:
                return one_line(summarize(obj, self.settings, values=False), width)
            return render_text(self.summary(obj), width)
        except Exception as e:  # a display never raises: torch's repr, with one line saying why
            return _fallback_repr(obj, e, nested)

    def html(self, obj) -> str | None:
        """text/html printer; None (no HTML, the text shows) when turned off or on failure."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self._html(obj)

    def _html(self, obj) -> str | None:
        try:
            if not (self.settings.formatters and self.settings.html and displayable(obj)):
                return None
            if not self._text_is_ours(type(obj)):  # a subclass's own repr is IPython's text: no HTML beside it
                return None
            return render_html(self.summary(obj), self._thumbnail(obj))
        except Exception:
            return None

    def _text_is_ours(self, cls) -> bool:
        """Whether IPython's pretty printer prints a ``cls`` with our text printer: it takes the first class
        of the MRO that has a printer, or a ``_repr_pretty_`` or ``__repr__`` of its own (a tensor subclass's)."""
        plain = self._registered_on[0] if self._registered_on else None
        if plain is None or cls is getattr(sys.modules.get("torch"), "Tensor", None):
            return True
        return _pretty_printer(plain, cls) == self.text

    def summary(self, obj) -> Summary:
        """The tensor's summary: shared by the formatters of one output, computed afresh for every other."""
        return self._read(obj)[0]

    def _read(self, obj) -> tuple[Summary, object]:
        """The summary and the adapter's view (None for a torch tensor) of one output, read once for both."""
        shared = getattr(self._output, "summaries", None)
        entry = shared.get(id(obj)) if shared is not None else None
        if entry is None or entry[0] is not obj:
            adapter = adapter_for(obj)
            view = adapter.view(obj) if adapter is not None else None
            entry = (obj, summarize(obj, self.settings, view=view), view)
            if shared is not None:
                shared[id(obj)] = entry
        return entry[1], entry[2]

    def share_within_outputs(self, display_formatter) -> None:
        """Wrap ``display_formatter.format`` so that the printers of one output share one summary."""
        previous = vars(display_formatter).get("format", _ABSENT)
        original = display_formatter.format

        def format(obj, include=None, exclude=None):
            outermost = getattr(self._output, "summaries", None) is None
            if outermost:
                self._output.summaries = {}
            plain, lent = trait_value(display_formatter, "formatters").get("text/plain"), []
            try:
                if self._unresolved:
                    self._resolve_listed()
                if outermost and self.settings.formatters:
                    lent = self._lend_record_printers(plain, obj)
                if include is None and exclude is None:
                    ours = self._ours_alone(display_formatter, obj)
                    if ours is not None:
                        return ours
                return original(obj, include=include, exclude=exclude)
            finally:
                for cls in lent:
                    plain.type_printers.pop(cls, None)
                if outermost:
                    self._output.summaries = None  # the output is complete: forget everything

        display_formatter.format = format
        self._wrapped = (display_formatter, format, previous)

    def _ours_alone(self, display_formatter, obj) -> tuple[dict, dict] | None:
        """The output of an array that no printer but ours formats, as IPython would compose it, without
        IPython's dispatch (a dozen formatters, each called through a signature-binding decorator, cost
        more than a small tensor's whole display). None where another printer could claim a part of it."""
        cls = type(obj)
        formatters = trait_value(display_formatter, "formatters")
        plain, html = formatters.get("text/plain"), formatters.get("text/html")
        if plain is None or not trait_value(plain, "pprint"):
            return None
        if trait_value(plain, "type_printers").get(cls) != self.text:
            return None
        if id(obj) in trait_value(plain, "singleton_printers") or (
                html is not None and id(obj) in trait_value(html, "singleton_printers")):
            return None  # a printer for this very object comes first
        classes = [(c, (c.__module__, c.__name__)) for c in cls.__mro__]
        if any(_may_claim(tables, obj, classes) for tables in _other_tables(display_formatter, formatters)):
            return None
        html_on = html is not None and trait_value(html, "enabled")
        if html_on and trait_value(html, "type_printers").get(cls) != self.html:
            return None
        with warnings.catch_warnings():  # once for both parts (each printer's own costs as much again)
            warnings.simplefilter("ignore")
            data = {"text/plain": self._text_of(obj, trait_value(plain, "max_width"), False)}
            shown = self._html(obj) if html_on else None
        if shown is not None:
            data["text/html"] = shown
        return data, {}

    def _lend_record_printers(self, plain, obj) -> list:
        """Printers, for this output only, for the records it shows (dataclasses, named tuples,
        torch.return_types), at any depth of its lists, tuples and dicts, where it holds arrays: IPython
        prints a record with its own ``__repr__``, which prints a tensor in it with torch's, over many
        lines; ours prints its fields through the pretty printer, where each array takes one line. Looks at
        a thousand values at most, breadth first (what shows first is found first), and lends nothing where
        looking fails (an object's own code raising). Returns the classes given one."""
        if plain is None or displayable(obj):  # an array alone: no record to look for
            return []
        records, holds_arrays, seen, pending, budget = {}, False, set(), deque([obj]), 1000
        try:
            while pending and budget:
                value, budget = pending.popleft(), budget - 1
                if type(value) in _LEAVES or id(value) in seen:
                    continue
                seen.add(id(value))
                fields = _record_fields(value)
                if fields is not None:
                    records.setdefault(type(value), None)
                    pending += [field for _, field in fields]
                elif isinstance(value, (list, tuple)):
                    pending += value[:budget]
                elif isinstance(value, dict):
                    pending += list(value.values())[:budget]
                elif not holds_arrays:
                    holds_arrays = displayable(value)
        except Exception:  # an object's own code (a property, __getitem__, __class__) failed: IPython will say
            return []
        # each record printed with its own repr, which ours replaces (not a printer of anyone's)
        lent = [cls for cls in records if _pretty_printer(plain, cls) is None] if holds_arrays else []
        for cls in lent:
            plain.type_printers[cls] = _record_printer
        return lent

    def _thumbnail(self, obj):
        if not self.settings.thumbnail:
            return None
        try:
            summary, view = self._read(obj)
            tensor = view.tensor if view is not None else obj  # another library's: as torch
            if tensor is None or tensor.dim() not in (2, 3):  # read where it lies (a sharded JAX array), or
                return None  # a shape no picture has (see thumbnail.image_layout)
            printed_whole = summary.preview is not None and not summary.preview.summarise
            host = summary.preview.array if printed_whole else None  # the values as printed: no second copy
            return thumbnail(plain_tensor(tensor), self.settings.thumbnail_size, host)
        except TensorConversionError:
            return None

    def register(self, plain_text, html, display_formatter=None) -> None:
        """Install the printers on a ``PlainTextFormatter`` and an ``HTMLFormatter``, recording what they replace.

        With ``display_formatter`` (the shell's), its outputs compute each tensor's summary once for both.
        """
        if display_formatter is not None:
            self.share_within_outputs(display_formatter)
        self._add_printers(plain_text, html)
        self._registered_on = (plain_text, html)
        self.settings.observe(self._array_types_changed, "array_types")

    def _array_types_changed(self, change) -> None:
        """``%config TensorView.array_types = [...]``: printers for the classes added, the printers of those
        taken out removed; every other printer, ours or one registered since, stays."""
        before, now = _keys(change["old"]), _keys(change["new"])
        self._remove_printers([key for key in before if key not in now and key not in TARGETS])
        self._add_printers(*self._registered_on)

    def _add_printers(self, plain_text, html) -> None:
        """Printers for the classes of ``TARGETS`` and ``array_types`` that have none of ours yet."""
        ours = {(formatter, key) for formatter, key, *_ in self._replaced}
        for formatter, printer in ((plain_text, self.text), (html, self.html)):
            for key in dict.fromkeys(TARGETS + _keys(self.settings.array_types)):
                if (formatter, key) in ours:
                    continue
                module, name = key
                cls = getattr(sys.modules.get(module), name, None)
                previous_type = formatter.type_printers.get(cls) if cls is not None else None
                if previous_type == printer:  # ours, for the same class under another name: nothing to restore
                    previous_type = None
                previous_deferred = formatter.deferred_printers.get(key)
                if cls is not None:
                    formatter.type_printers[cls] = printer
                    formatter.deferred_printers.pop(key, None)
                else:
                    formatter.deferred_printers[key] = printer
                self._replaced.append((formatter, key, cls, printer, previous_type, previous_deferred))
        self._unresolved = self._listed_unresolved()

    def _listed_unresolved(self) -> list[int]:
        """Positions in ``_replaced`` of array_types names registered before their module was imported."""
        return [position for position, (_, key, cls, *_) in enumerate(self._replaced)
                if cls is None and key not in TARGETS]

    def _resolve_listed(self) -> None:
        """The classes of array_types names whose module has been imported since: printers by class."""
        pending = []
        for position in self._unresolved:
            formatter, key, _, printer, _, previous_deferred = self._replaced[position]
            cls = getattr(sys.modules.get(key[0]), key[1], None)
            if cls is None:
                pending.append(position)
                continue
            if formatter.deferred_printers.get(key) == printer:
                del formatter.deferred_printers[key]
            if cls not in formatter.type_printers:  # one registered since the name was listed stays
                formatter.type_printers[cls] = printer
            self._replaced[position] = (formatter, key, cls, printer, None, previous_deferred)
        self._unresolved = pending

    def unregister(self) -> None:
        """Remove the printers wherever IPython moved them, and put back the ones they replaced."""
        if self._registered_on:
            self.settings.unobserve(self._array_types_changed, "array_types")
            self._registered_on = ()
        self._remove_printers()
        if self._wrapped is not None:
            display_formatter, ours, previous = self._wrapped
            # put back what was there, unless something wrapped ours since (ours then passes through)
            if vars(display_formatter).get("format") is ours:
                if previous is _ABSENT:
                    del display_formatter.format
                else:
                    display_formatter.format = previous
            self._wrapped = None

    def _remove_printers(self, keys=None) -> None:
        """Take out the printers of the classes ``keys`` names (all of ours by default), wherever IPython moved
        them, and put back the ones they replaced; a class another name still lists keeps its printer."""
        self._resolve_listed()
        kept, removed = [], []
        for record in self._replaced:
            (removed if keys is None or record[1] in keys else kept).append(record)
        # the classes the kept records print, those registered by name (deferred) too, where imported since
        still_listed = {(id(formatter), cls or getattr(sys.modules.get(key[0]), key[1], None))
                        for formatter, key, cls, *_ in kept}
        for formatter, key, cls, printer, previous_type, previous_deferred in reversed(removed):
            if formatter.deferred_printers.get(key) == printer:
                del formatter.deferred_printers[key]
            for registered_cls, registered in list(formatter.type_printers.items()):
                # the class registered itself (a name may re-export it), or the one IPython found for the name
                if registered == printer and (registered_cls is cls or _key_of(registered_cls) == key) and (
                        (id(formatter), registered_cls) not in still_listed):
                    del formatter.type_printers[registered_cls]
                    if previous_type is not None:
                        formatter.type_printers[registered_cls] = previous_type
            if previous_deferred is not None:
                formatter.deferred_printers[key] = previous_deferred
        self._replaced = kept
        self._unresolved = self._listed_unresolved()


def _keys(names) -> tuple[tuple[str, str], ...]:
    """("module", "Class") for each "module.Class" name."""
    return tuple(tuple(name.rsplit(".", 1)) for name in names)


def _key_of(cls) -> tuple[str, str]:
    return cls.__module__, cls.__name__
