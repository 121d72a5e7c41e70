"""The ``%np`` line magic: a tensor from the namespace as a NumPy array, saying whether it shares memory.

    %np w                    # prints "w -> ndarray float32 (3, 4): shares memory with the tensor: ..."
    b = %np model.fc.weight[0]
    %np x[:, -1]             # the expression is Python, exactly as typed
    %np -c t                 # a copy, whatever the policy
    %np -q -o arr t          # no annotation; the array is also stored as ``arr``
    %np -- -c                # "--" ends the options: the negation of a variable c
    %np                      # the tensors in the namespace, and what %np would do with each

Options come first; the rest of the line is the expression, verbatim: IPython's ``$var`` and ``{expr}``
expansion is off for ``%np``, since braces in Python (sets, dicts, f-strings) mean what they say.
"""

from __future__ import annotations

import functools
import keyword
import sys
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments

from .adapters import adapter_for, displayable
from .adapters.torch import grad_state, held_by_nothing_else, stored_bytes
from .config import TensorView
from .convert import convert, one_line, verdict
from .tensor_kinds import (
    TensorConversionError,
    dtype_name,
    format_bytes,
    shape_of,
)

# after the failure of an expression that starts with "-" (but for "--")
_OPTIONS_HINT = (" (options come first and are -c, -s, -q, -g, -o NAME and their long forms; -- ends them; "
                 "%np --help says more)")


@functools.cache
def _as_it_is(ml_dtypes: bool) -> TensorView:
    """Settings that convert a tensor's memory as it is: no copy, nothing made read-only (made once: a
    ``TensorView`` costs more than a small tensor's whole ``%np``)."""
    return TensorView(copy="never", readonly_shared=False, ml_dtypes=ml_dtypes)


@magics_class
class NpMagics(Magics):
    """Holds ``%np``; reads its settings from the extension's ``TensorView`` at each call."""

    def __init__(self, shell, settings: TensorView):
        super().__init__(shell)
        self.settings = settings
        self._compiled: dict[str, object] = {}  # expression -> code: a line run again is not recompiled

    @line_magic
    @no_var_expand
    @needs_local_scope
    @magic_arguments()
    @argument("-c", "--copy", action="store_true", help="Return a copy that never shares memory (copy='always').")
    @argument("-s", "--share", action="store_true", help="Share memory wherever possible (copy='never').")
    @argument("-q", "--quiet", action="store_true", help="Do not print the annotation.")
    @argument("-o", "--output", metavar="NAME", help="Also store the array in the namespace as NAME.")
    @argument("-g", "--gather", action="store_true",
              help="A DTensor: gather the whole tensor with full_tensor(), a collective that every rank must run "
                   "(e.g. in ipyparallel's %%px); without it, this rank's shard.")
    @argument("expression", nargs="*",
              help="A Python expression giving a tensor, e.g. model.fc.weight[0] or x[:, -1]; it starts at "
                   "the first word that is not an option (or after --) and is taken exactly as typed.")
    def np(self, line="", local_ns=None):
        """Convert a tensor to a NumPy array the reliable way (detach, move to CPU, convert).

        Prints what was done and whether the array shares memory with the tensor, then returns the
        array, so ``b = %np a`` works. The copy policy is ``%config TensorView.copy``; -c and -s
        override it for one call. With no expression, lists the tensors in the namespace. Inside a
        function, the expression sees the function's local variables.
        """
        if line.strip() == "--help":  # the help %np? shows (as an expression, -(-help) could only fail)
            print(self.np.__doc__.removeprefix("::").strip())  # magic_arguments' usage line, then the rest
            return None
        options, expression = split_options(line, self.np.parser)
        # a failure of an expression that starts with "-" names the options, unless "--" ended them
        hint = expression.startswith("-") and line.strip()[: -len(expression)].split()[-1:] != ["--"]
        expression = expression.rstrip(";").rstrip()  # "%np x;" is IPython's way to hide the output
        if options.get("copy") and options.get("share"):
            raise UsageError("%np: -c/--copy and -s/--share contradict each other; give one")
        output = options.get("output")
        if output is not None and not (output.isidentifier() and not keyword.iskeyword(output)):
            raise UsageError(f"%np: -o needs a Python name, not {output!r}")
        if output is not None and output.startswith("__") and output.endswith("__"):
            raise UsageError(f"%np: -o needs a name of your own, not {output!r}: names like __builtins__ are Python's")
        if not expression:
            if options:
                raise UsageError("%np: options need an expression after them, e.g. %np -c t")
            print(self._tensor_table(local_ns))
            return None
        value = self._evaluate(expression, local_ns, hint)
        # a tensor the expression made: no one to share its memory with
        alone = not options.get("gather") and held_by_nothing_else(value)
        distributed = value
        if options.get("gather"):
            value = self._gathered(expression, value)
        copy = "always" if options.get("copy") else "never" if options.get("share") else None
        try:
            if alone:  # its memory becomes the array's, as it is: no copy to make, no one to keep from writing
                conversion = convert(value, settings=_as_it_is(self.settings.ml_dtypes))
                if conversion.shares_memory:  # (a conversion may have copied anyway: bfloat16 to float32)
                    conversion = replace(conversion, shares_memory=False, held_alone=True)
            else:
                conversion = convert(value, copy, settings=self.settings)
            if options.get("gather"):  # what the array shares, it shares with the DTensor's shard or nothing
                from .adapters import dtensor

                shares = conversion.shares_memory and dtensor.shares_with_shard(conversion.array, distributed)
                conversion = replace(conversion, shares_memory=shares, source="DTensor",
                                     steps=("gather: full_tensor()", *conversion.steps))
        except TensorConversionError as e:
            raise UsageError(f"%np {expression}: {e}") from e
        except MemoryError as e:
            raise UsageError(f"%np {expression}: {e if str(e) else one_line(e)}") from e
        except Exception as e:  # nothing the user's objects raise becomes a traceback
            raise UsageError(f"%np {expression}: {one_line(e)}") from e
        if output is not None:
            self.shell.user_ns[output] = conversion.array
        if not options.get("quiet"):
            print(f"{expression} -> {conversion}")
        return conversion.array

    def _gathered(self, expression: str, value):
        from .adapters import dtensor

        if not dtensor.claims(value):
            adapter = adapter_for(value)
            kind = adapter.type_name(value) if adapter is not None else type(value).__name__
            raise UsageError(f"%np -g {expression}: -g/--gather gathers a DTensor's shards, and this is not a "
                             f"DTensor but a {kind}")
        try:
            return dtensor.gather(value)
        except Exception as e:
            raise UsageError(f"%np -g {expression}: full_tensor() failed: {one_line(e)}") from e

    def _evaluate(self, expression: str, local_ns, hint: bool = False):
        try:
            code = self._compiled.get(expression)
            if code is None:
                if len(self._compiled) >= 256:
                    self._compiled.clear()
                code = self._compiled[expression] = compile(expression, "<%np>", "eval")
            names = self.shell.user_global_ns
            if local_ns is not None and local_ns is not self.shell.user_ns:
                # inside a function: one mapping, so that a comprehension or lambda sees its locals too
                names = {**names, **local_ns}
            with self.shell.builtin_trap:
                return eval(code, names, self.shell.user_ns if names is self.shell.user_global_ns else None)
        except SyntaxError as e:
            raise UsageError(f"%np: invalid syntax in {expression!r}: {e.msg}{_OPTIONS_HINT * hint}") from e
        except Exception as e:  # "%np -h" is the negation of h
            raise UsageError(f"%np {expression}: {one_line(e)}{_OPTIONS_HINT * hint}") from e

    def _tensor_table(self, local_ns=None) -> str:
        """The tensors of the namespace, and inside a function its local variables' (which hide the names
        they share)."""
        hidden = self.shell.user_ns_hidden
        names = {name: value for name, value in self.shell.user_ns.items() if name not in hidden}
        if local_ns is not None and local_ns is not self.shell.user_ns:
            names.update(local_ns)
        rows = [
            _table_row(name, value, self.settings)
            for name, value in list(names.items())
            if not name.startswith("_") and _is_tensor(value)
        ]
        if not rows:
            return "No tensors in the namespace."
        header = ("name", "shape", "dtype", "device", "grad", "size", "%np")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows])


@functools.lru_cache(maxsize=256)
def split_options(line: str, parser) -> tuple[Mapping[str, object], str]:
    """The options at the start of a ``%np`` line (read-only), and the rest of the line: the expression,
    verbatim. Remembered for the last few hundred lines: a line run again (a loop's, a cell run again) is
    not read again, as its expression is not compiled again.

    Options are the words ``parser`` declares (``-c``, ``--copy``, ``-o NAME``, ``--output=NAME``...),
    read while the line starts with one; ``--`` ends them. Anything else, ``-x`` or ``-1`` included,
    starts the expression, which is never split into words or re-joined.
    """
    options: dict[str, object] = {}
    rest = line.strip()
    takes_value = _declared_options(parser) if rest.startswith("-") else {}
    while rest.startswith("-"):
        word, after = _first_word(rest)
        if word == "--":
            rest = after
            break
        name, equals, attached = word.partition("=")
        if name not in takes_value:
            break
        dest, needs_value = takes_value[name]
        if needs_value and dest in options:
            raise UsageError(f"%np: {name} given twice")
        if not needs_value:
            if equals:
                raise UsageError(f"%np: {name} takes no value")
            options[dest] = True
        elif equals:
            options[dest] = attached
        else:
            value, after = _first_word(after)
            if not value:
                raise UsageError(f"%np: {name} needs a value")
            options[dest] = value
        rest = after
    return MappingProxyType(options), rest.strip()


@functools.lru_cache(maxsize=None)
def _declared_options(parser) -> dict[str, tuple[str, bool]]:
    """The options declared with @argument: each option string's destination, and whether it takes a value."""
    return {
        option: (action.dest, action.nargs != 0)
        for action in parser._actions
        for option in action.option_strings
        if option not in ("-h", "--help")
    }


def _first_word(text: str) -> tuple[str, str]:
    word, *rest = text.split(maxsplit=1) or [""]
    return word, rest[0] if rest else ""


def _is_tensor(value) -> bool:
    """A torch tensor, or an array of another library that an adapter reads (a JAX array...)."""
    try:
        return displayable(value)
    except Exception:  # an object whose __class__ raises is not a tensor we can list
        return False


def _table_row(name: str, t, settings: TensorView) -> tuple[str, ...]:
    """One line of the listing; a tensor it cannot inspect is shown with the reason, never an error."""
    try:
        adapter = adapter_for(t)
        if adapter is not None:  # what %np would do with it is what it does with the tensor it reads
            view = adapter.view(t)
            if view.tensor is None:  # read where it lies: %np gathers it
                return name, str(view.shape), view.dtype, view.device, view.grad, format_bytes(view.nbytes), "copy"
            return (name, str(view.shape), dtype_name(view.tensor.dtype), view.device, view.grad,
                    format_bytes(view.nbytes), verdict(view.tensor, settings=settings))
        with sys.modules["torch"]._C.DisableTorchFunctionSubclass():
            logical, stored = t.numel() * t.element_size(), stored_bytes(t)
            size = format_bytes(logical) + (f" ({format_bytes(stored)} stored)" if stored != logical else "")
            return (name, shape_of(t), dtype_name(t.dtype), str(t.device), grad_state(t), size,
                    verdict(t, settings=settings))
    except Exception as e:
        try:  # a tensor without data may lack a shape too (a lazy module's parameter): its refusal says why
            said = verdict(t, settings=settings)
        except Exception:
            said = ""
        return name, "", "", "", "", "", said if said.startswith("refused") else f"cannot inspect: {one_line(e)}"
