"""Tensor -> numpy.ndarray, the reliable way, saying whether the result shares memory.

``t.numpy()`` refuses tensors on a GPU, tensors that require grad, conj/neg views, bfloat16, float8,
complex32, sparse, quantized, meta and nested tensors; and where ``t.detach().cpu().numpy()`` works on a
CPU tensor, the array silently shares memory with it. :func:`convert` handles every kind it can, copies
only when the conversion needs it or the copy policy asks for it, and reports what it did.

Nothing here imports IPython, and torch is only looked up in ``sys.modules``: an object can only be a
torch tensor if torch is already imported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tensor_kinds
from .config import COPY_POLICIES, TensorView, current_settings
from .tensor_kinds import TensorConversionError, is_tensor

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # pragma: no cover - NumPy 1.x
    byte_bounds = np.byte_bounds

__all__ = ["Conversion", "TensorConversionError", "convert", "to_numpy", "format_bytes"]


@dataclass(frozen=True)
class Conversion:
    """The result of :func:`convert`: the array, whether it shares memory, and what was done."""

    array: np.ndarray
    #: True exactly when the array's memory overlaps the source's memory.
    shares_memory: bool
    #: Each transformation done, in order, e.g. ("detach", "cuda:0 -> cpu", "bfloat16 -> float32").
    steps: tuple[str, ...] = ()
    #: What the array came from: "tensor", "ndarray" or the source's type name.
    source: str = "tensor"
    #: Why a shared result was left shared, where the policy would otherwise have copied it.
    reason: str = ""

    def __str__(self) -> str:
        head = f"ndarray {self.array.dtype} {tuple(self.array.shape)}"
        if not self.shares_memory and self.array.size == 0 and not self.steps:
            return f"{head}: empty, no memory to share"
        if not self.shares_memory:
            return f"{head}: copied" + (f": {', '.join(self.steps)}" if self.steps else "")
        if self.array.flags.writeable:
            sharing = f"shares memory with the {self.source}: in-place writes to either show in both"
        else:
            sharing = (
                f"shares memory with the {self.source}, read-only: "
                f"in-place writes to the {self.source} show in the array"
            )
        details = [f"steps: {', '.join(self.steps)}"] if self.steps else []
        details += [self.reason] if self.reason else []
        return f"{head}: {sharing}" + (f" ({'; '.join(details)})" if details else "")


def convert(obj, copy=None, *, settings: TensorView | None = None) -> Conversion:
    """Convert a tensor (or any array-like) to a NumPy array, copying only when needed.

    ``copy`` is None (use ``settings.copy``, by default the loaded extension's ``TensorView``),
    "never", "always", "auto", or a bool (True is "always", False is "never"). The user's tensor is
    never modified and no autograd graph is recorded. Raises :class:`TensorConversionError` for
    objects that cannot become an array (meta, fake and ragged nested tensors, arbitrary objects).
    """
    settings = settings or current_settings()
    policy = _resolve_policy(copy, settings)
    if isinstance(obj, np.ndarray):
        array, steps, source = obj, [], "ndarray"
        shares = True
    elif is_tensor(obj):
        array, steps, span = tensor_kinds.tensor_to_array(obj, ml_dtypes=settings.ml_dtypes)
        source = "tensor"
        shares = span is not None and _overlaps(array, span)
    else:
        array, shares = _array_like_to_array(obj)
        steps, source = [], type(obj).__name__

    reason = ""
    if shares:
        copy_it = policy == "always" or (policy == "auto" and array.nbytes <= settings.auto_copy_max_bytes)
        if copy_it:
            array, shares = array.copy(order="K"), False
            steps.append(f"copy (policy {policy!r})")
        elif policy == "auto":
            reason = (
                f"{format_bytes(array.nbytes)} is over auto_copy_max_bytes = "
                f"{format_bytes(settings.auto_copy_max_bytes)}"
            )
    if shares and source == "tensor" and _has_zero_stride(array):
        array = _readonly_view(array)
        reason = "; ".join(filter(None, [reason, "stride 0 from expand(): one element stands for many"]))
    elif shares and settings.readonly_shared:
        array = _readonly_view(array)
    return Conversion(array, shares, tuple(steps), source, reason)


def to_numpy(obj, copy=None, *, settings: TensorView | None = None) -> np.ndarray:
    """``convert(obj, copy).array``: the NumPy array alone."""
    return convert(obj, copy, settings=settings).array


def would_copy(tensor, copy=None, *, settings: TensorView | None = None) -> bool:
    """Whether :func:`convert` would return a copy of ``tensor``, judged without converting it."""
    settings = settings or current_settings()
    policy = _resolve_policy(copy, settings)
    if tensor_kinds.conversion_copies(tensor, ml_dtypes=settings.ml_dtypes):
        return True
    nbytes = tensor.numel() * tensor.element_size()
    return policy == "always" or (policy == "auto" and nbytes <= settings.auto_copy_max_bytes)


def format_bytes(n: int) -> str:
    """A byte count for people: 512 B, 3.0 KiB, 64.0 MiB, 1.5 GiB."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"


def _resolve_policy(copy, settings: TensorView) -> str:
    if copy is None:
        return settings.copy
    if isinstance(copy, bool):
        return "always" if copy else "never"
    if isinstance(copy, str) and copy.lower() in COPY_POLICIES:
        return copy.lower()
    raise ValueError(f"copy must be None, True, False, 'never', 'always' or 'auto', not {copy!r}")


def _array_like_to_array(obj) -> tuple[np.ndarray, bool]:
    if hasattr(obj, "__array__"):
        array = np.asarray(obj)
        # An object that hands out a view of its own buffer gives the same memory each time.
        return array, np.shares_memory(array, np.asarray(obj))
    if hasattr(obj, "__dlpack__"):
        try:
            return np.from_dlpack(obj), True  # DLPack exchanges are zero-copy by definition
        except (BufferError, RuntimeError, TypeError, ValueError) as e:
            raise TensorConversionError(
                f"{type(obj).__name__} exposes __dlpack__ but NumPy cannot import it ({e}); "
                "move it to host memory first"
            ) from e
    raise TensorConversionError(
        f"{type(obj).__name__} is not a tensor or an array: it has neither __array__ nor __dlpack__"
    )


def _overlaps(array: np.ndarray, span: tuple[int, int]) -> bool:
    if array.size == 0:
        return False
    low, high = byte_bounds(array)
    return low < span[1] and span[0] < high


def _has_zero_stride(array: np.ndarray) -> bool:
    return array.size > 1 and any(s == 0 and n > 1 for s, n in zip(array.strides, array.shape))


def _readonly_view(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
