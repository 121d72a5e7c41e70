"""Display formatters for tensors: registration, removal, and never raising into the user's face.

Printers are registered by type name (``torch.Tensor``, and the subclasses ``Parameter`` and the jagged
``NestedTensor``, whose own ``__repr__`` would otherwise win IPython's pretty-printer lookup) so that
loading does not import torch.
Where torch is already imported, they go into ``type_printers`` directly, because IPython prefers a
type printer to a deferred one. Whatever was registered before is recorded and put back by
:meth:`TensorFormatters.unregister`.
"""

from __future__ import annotations

import sys

from .config import TensorView
from .render_html import render_html
from .render_text import render_text
from .summary import cached
from .tensor_kinds import TensorConversionError, plain_tensor
from .thumbnail import png, thumbnail_rgba

# Tensor, plus the subclasses whose own __repr__ would win IPython's pretty-printer lookup
TARGETS = (
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch.nested._internal.nested_tensor", "NestedTensor"),
)


def _fallback_repr(obj, error: Exception) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return f"{text}\n(ipython_tensorview could not display this tensor: {type(error).__name__}: {error})"


class TensorFormatters:
    """The text/plain and text/html printers of one shell, and the printers they displaced."""

    def __init__(self, settings: TensorView):
        self.settings = settings
        # (formatter, (module, name), our printer, previous type printer, previous deferred printer)
        self._replaced: list[tuple] = []

    def text(self, obj, p, cycle) -> None:
        """IPython pretty-printer for text/plain."""
        p.text(self.text_of(obj))

    def text_of(self, obj) -> str:
        try:
            if not self.settings.formatters:
                return repr(obj)
            return render_text(cached(obj, self.settings))
        except Exception as e:  # a display never raises: torch's repr, with one line saying why
            return _fallback_repr(obj, e)

    def html(self, obj) -> str | None:
        """text/html printer; None (no HTML, the text shows) when turned off or on failure."""
        try:
            if not (self.settings.formatters and self.settings.html):
                return None
            return render_html(cached(obj, self.settings), self._thumbnail(obj))
        except Exception:
            return None

    def _thumbnail(self, obj):
        if not self.settings.thumbnail:
            return None
        try:
            rgba = thumbnail_rgba(plain_tensor(obj), self.settings.thumbnail_size)
        except TensorConversionError:
            return None
        return None if rgba is None else (rgba, png(rgba))

    def register(self, plain_text, html) -> None:
        """Install the printers on a ``PlainTextFormatter`` and an ``HTMLFormatter``, recording what they replace."""
        for formatter, printer in ((plain_text, self.text), (html, self.html)):
            for module, name in TARGETS:
                key = (module, name)
                cls = getattr(sys.modules.get(module), name, None)
                previous_type = formatter.type_printers.get(cls) if cls is not None else None
                previous_deferred = formatter.deferred_printers.get(key)
                if cls is not None:
                    formatter.type_printers[cls] = printer
                    formatter.deferred_printers.pop(key, None)
                else:
                    formatter.deferred_printers[key] = printer
                self._replaced.append((formatter, key, printer, previous_type, previous_deferred))

    def unregister(self) -> None:
        """Remove the printers wherever IPython moved them, and put back the ones they replaced."""
        for formatter, key, printer, previous_type, previous_deferred in reversed(self._replaced):
            if formatter.deferred_printers.get(key) is printer:
                del formatter.deferred_printers[key]
            for cls, registered in list(formatter.type_printers.items()):
                if registered is printer and (cls.__module__, cls.__name__) == key:
                    del formatter.type_printers[cls]
                    if previous_type is not None:
                        formatter.type_printers[cls] = previous_type
            if previous_deferred is not None:
                formatter.deferred_printers[key] = previous_deferred
        self._replaced.clear()
