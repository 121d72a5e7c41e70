"""The ``%np`` line magic: a tensor from the namespace as a NumPy array, saying whether it shares memory.

    %np w                    # prints "w -> ndarray float32 (3, 4): shares memory with the tensor: ..."
    b = %np model.fc.weight[0]
    %np -c t                 # a copy, whatever the policy
    %np -q -o arr t          # no annotation; the array is also stored as ``arr``
    %np                      # the tensors in the namespace, and whether %np would share or copy each
"""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .config import TensorView
from .convert import convert, format_bytes, would_copy
from .tensor_kinds import TensorConversionError, dtype_name, is_tensor, shape_of


@magics_class
class NpMagics(Magics):
    """Holds ``%np``; reads its settings from the extension's ``TensorView`` at each call."""

    def __init__(self, shell, settings: TensorView):
        super().__init__(shell)
        self.settings = settings

    @line_magic
    @magic_arguments()
    @argument("-c", "--copy", action="store_true", help="Return a copy that never shares memory (copy='always').")
    @argument("-s", "--share", action="store_true", help="Share memory wherever possible (copy='never').")
    @argument("-q", "--quiet", action="store_true", help="Do not print the annotation.")
    @argument("-o", "--output", metavar="NAME", help="Also store the array in the namespace as NAME.")
    @argument("expression", nargs="*", help="A Python expression giving a tensor, e.g. model.fc.weight[0].")
    def np(self, line=""):
        """Convert a tensor to a NumPy array the reliable way (detach, move to CPU, convert).

        Prints what was done and whether the array shares memory with the tensor, then returns the
        array, so ``b = %np a`` works. The copy policy is ``%config TensorView.copy``; -c and -s
        override it for one call. With no expression, lists the tensors in the namespace.
        """
        args = parse_argstring(self.np, line)
        if args.copy and args.share:
            raise UsageError("%np: -c/--copy and -s/--share contradict each other; give one")
        expression = " ".join(args.expression).strip()
        if not expression:
            print(self._tensor_table())
            return None
        value = self._evaluate(expression)
        copy = "always" if args.copy else "never" if args.share else None
        try:
            conversion = convert(value, copy, settings=self.settings)
        except TensorConversionError as e:
            raise UsageError(f"%np {expression}: {e}") from e
        if args.output:
            if not args.output.isidentifier():
                raise UsageError(f"%np: -o needs a Python name, not {args.output!r}")
            self.shell.user_ns[args.output] = conversion.array
        if not args.quiet:
            print(f"{expression} -> {conversion}")
        return conversion.array

    def _evaluate(self, expression: str):
        try:
            return self.shell.ev(expression)
        except SyntaxError as e:
            raise UsageError(f"%np: invalid syntax in {expression!r}: {e.msg}") from e
        except Exception as e:
            raise UsageError(f"%np {expression}: {type(e).__name__}: {e}") from e

    def _tensor_table(self) -> str:
        hidden = self.shell.user_ns_hidden
        rows = [
            _table_row(name, value, self.settings)
            for name, value in self.shell.user_ns.items()
            if not name.startswith("_") and name not in hidden and is_tensor(value)
        ]
        if not rows:
            return "No tensors in the namespace."
        header = ("name", "shape", "dtype", "device", "grad", "size", "%np")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows])


def _table_row(name: str, t, settings: TensorView) -> tuple[str, ...]:
    grad = f"grad_fn={type(t.grad_fn).__name__}" if t.grad_fn else "requires_grad" if t.requires_grad else ""
    if t.is_meta:
        verdict = "no data"
    else:
        verdict = "copy" if would_copy(t, settings=settings) else "share"
    size = format_bytes(t.numel() * t.element_size())
    return name, shape_of(t), dtype_name(t.dtype), str(t.device), grad, size, verdict
