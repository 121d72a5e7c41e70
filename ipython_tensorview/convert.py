"""Tensor -> numpy.ndarray, the reliable way, saying whether the result shares memory.

``t.numpy()`` refuses tensors on a GPU, tensors that require grad, conj/neg views, bfloat16, float8,
complex32, sparse, quantized, meta and nested tensors; and where ``t.detach().cpu().numpy()`` works on a
CPU tensor, the array silently shares memory with it. :func:`convert` handles every kind it can, copies
only when the conversion needs it or the copy policy asks for it, and reports what it did.

Nothing here imports IPython, and torch is only looked up in ``sys.modules``: an object can only be a
torch tensor if torch is already imported.
"""

from __future__ import annotations

import reprlib
import sys
import weakref
from dataclasses import dataclass

import numpy as np

from . import tensor_kinds
from .adapters import adapter_for
from .config import COPY_POLICIES, TensorView, current_settings, trait_value
from .tensor_kinds import (
    TensorConversionError,
    format_bytes,
    is_tensor,
    no_memory_message,
    overlaps,
)

__all__ = ["Conversion", "TensorConversionError", "convert", "to_numpy", "verdict", "format_bytes"]


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
    #: The array holds the memory of a tensor that nothing else held (one ``%np``'s expression made, ``-x``):
    #: it shares with nothing, and needed no copy.
    held_alone: bool = False

    def __init__(self, array: np.ndarray, shares_memory: bool, steps: tuple[str, ...] = (), source: str = "tensor",
                 reason: str = "", held_alone: bool = False) -> None:
        # the fields at once: the generated __init__ of a frozen dataclass sets each through
        # object.__setattr__, at twice the cost (a fifth of a small tensor's whole conversion)
        vars(self).update(array=array, shares_memory=shares_memory, steps=steps, source=source, reason=reason,
                          held_alone=held_alone)

    def __str__(self) -> str:
        head = f"ndarray {self.array.dtype} {tuple(self.array.shape)}"
        steps = f" (steps: {', '.join(self.steps)})" if self.steps else ""
        if self.held_alone:
            return f"{head}: shares memory with nothing: a new tensor's, which only the array holds{steps}"
        if not self.shares_memory and self.array.size == 0:  # nothing copied, whatever the steps
            return f"{head}: empty, no memory to share{steps}"
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


_COPY_STEPS = {policy: f"copy (policy {policy!r})" for policy in COPY_POLICIES}


def convert(obj, copy=None, *, settings: TensorView | None = None) -> Conversion:
    """Convert a tensor (or any array-like) to a NumPy array, copying only when needed.

    ``copy`` is None (use ``settings.copy``, by default the loaded extension's ``TensorView``),
    "never", "always", "auto", or a bool (True is "always", False is "never"). The user's tensor is
    never modified and no autograd graph is recorded. Raises :class:`TensorConversionError` for
    objects that cannot become an array (meta, fake and ragged nested tensors, arbitrary objects), and
    for errors raised by the object's own code (``__array__``, ``__dlpack__``); :class:`MemoryError`,
    saying how many bytes, where a copy does not fit in memory.
    """
    settings = _settings_or_current(settings)
    policy = _resolve_policy(copy, settings)
    adapter = None
    if (shared := tensor_kinds.shared_host_array(obj)) is not None:  # the commonest case, asked first
        # a plain CPU tensor: its .numpy() is a view, shared unless empty
        (array, steps), source = shared, "tensor"
        shares = array.size > 0
    elif issubclass(type(obj), np.ndarray):  # the real type: a mock's claimed __class__ is no array
        array, steps, source = obj, [], "ndarray"
        shares = array.size > 0  # no memory to share
    elif (adapter := adapter_for(obj)) is not None:  # DTensor, JAX, any DLPack array
        try:
            array, steps, shares = adapter.to_array(obj, ml_dtypes=settings.ml_dtypes)
        except (TensorConversionError, MemoryError):
            raise
        except Exception as e:  # the library's own code failed
            raise TensorConversionError(f"{adapter.type_name(obj)} could not be read: {one_line(e)}") from e
        source = adapter.type_name(obj)
    elif is_tensor(obj):
        source = "tensor"
        try:
            array, steps, span = tensor_kinds.tensor_to_array(obj, ml_dtypes=settings.ml_dtypes)
        except (TensorConversionError, MemoryError):
            raise
        except Exception as e:  # a subclass's own code (__torch_dispatch__ ...) failed
            raise TensorConversionError(f"{type(obj).__name__} could not be read: {one_line(e)}") from e
        shares = overlaps(array, span)
    else:
        array, shares = _array_like_to_array(obj)
        steps, source = [], type(obj).__name__

    reason = ""
    if shares:
        if _copies(policy, array, settings):
            repeated = _keeps_repeats(array)
            array, shares = _copy(array, policy), False
            steps += [_COPY_STEPS[policy], tensor_kinds.STORED_ONLY] if repeated else [_COPY_STEPS[policy]]
        elif policy == "auto":
            reason = (
                f"{format_bytes(array.nbytes)} is over auto_copy_max_bytes = "
                f"{format_bytes(settings.auto_copy_max_bytes)}"
            )
    if shares and not array.flags.writeable and source != "ndarray":
        read_only = getattr(adapter, "READ_ONLY_REASON", f"the {source}'s memory is read-only")
        reason = "; ".join(filter(None, [reason, read_only]))
    if shares and source == "tensor" and _has_zero_stride(array):
        array = _readonly_view(array)
        reason = "; ".join(filter(None, [reason, "stride 0 from expand(): one element stands for many"]))
    elif shares and trait_value(settings, "readonly_shared"):
        array = _readonly_view(array)
    return Conversion(array, shares, tuple(steps), source, reason)


def to_numpy(obj, copy=None, *, settings: TensorView | None = None) -> np.ndarray:
    """``convert(obj, copy).array``: the NumPy array alone."""
    return convert(obj, copy, settings=settings).array


def verdict(tensor, copy=None, *, settings: TensorView | None = None) -> str:
    """What :func:`convert` would do with ``tensor``, in a word: "share", "copy", "empty" or "refused: why".

    Judged without copying: a conversion that needs a copy is not made; one that shares memory costs
    nothing and is made, so the verdict is the engine's own. Any other array is judged as ``convert``
    reads it: another library's through the torch tensor its adapter sees (a sharded JAX array is
    gathered: a copy), an ndarray or array-like by a conversion that copies nothing more.
    """
    settings = _settings_or_current(settings)
    policy = _resolve_policy(copy, settings)
    if not tensor_kinds.is_tensor(tensor) or adapter_for(tensor) is not None:
        return _verdict_of_other(tensor, policy, settings)
    try:
        with sys.modules["torch"].no_grad():  # the look records no autograd graph either
            plain = tensor_kinds.plain_tensor(tensor)  # unwrapped: its attributes run no subclass code
            if plain.is_nested:
                tensor_kinds.nested_parts(plain)  # refuses a ragged one; a regular one is stacked: a copy
                return _copy_verdict(tensor_kinds.copy_bytes(plain, ml_dtypes=settings.ml_dtypes))
            if tensor_kinds.conversion_copies(plain, ml_dtypes=settings.ml_dtypes):
                return _copy_verdict(tensor_kinds.copy_bytes(plain, ml_dtypes=settings.ml_dtypes))
        array, steps, span = tensor_kinds.tensor_to_array(tensor, ml_dtypes=settings.ml_dtypes)
    except TensorConversionError as e:
        return f"refused: {e.short}"
    return _verdict_of(array, overlaps(array, span), policy, settings)


def _verdict_of_other(obj, policy: str, settings: TensorView) -> str:
    adapter = adapter_for(obj)
    try:
        if adapter is not None:
            view = adapter.view(obj)
            return "copy" if view.tensor is None else verdict(view.tensor, policy, settings=settings)
        result = convert(obj, "never", settings=settings)
    except TensorConversionError as e:
        return f"refused: {e.short}"
    except Exception as e:  # the object's own code failed, as convert() would say
        return f"refused: {one_line(e)}"
    return _verdict_of(result.array, result.shares_memory, policy, settings)


def _verdict_of(array: np.ndarray, shares: bool, policy: str, settings: TensorView) -> str:
    """The verdict on a conversion whose result is ``array``, which shares memory or not."""
    if not shares:
        return "copy" if array.size else "empty"
    return _copy_verdict(_stored_bytes(array)) if _copies(policy, array, settings) else "share"


def _copies(policy: str, array: np.ndarray, settings: TensorView) -> bool:
    """Whether ``policy`` copies an array that shares memory with its source."""
    return policy == "always" or (policy == "auto" and array.nbytes <= trait_value(settings, "auto_copy_max_bytes"))


def _copy_verdict(nbytes: int) -> str:
    """"copy", or a refusal where the copy is larger than the machine's memory (it cannot succeed); "empty"
    where there is nothing to copy."""
    if not nbytes:
        return "empty"
    if not tensor_kinds.memory_for(nbytes):  # as the conversion would refuse it
        return f"refused: copy of {format_bytes(nbytes)}, over memory"
    return "copy"


def _settings_or_current(settings) -> TensorView:
    """``settings``, or the loaded extension's where None."""
    if settings is None:
        return current_settings()
    if not isinstance(settings, TensorView):
        raise TypeError(f"settings must be a TensorView, not {type(settings).__name__}")
    return settings


def _resolve_policy(copy, settings: TensorView) -> str:
    if copy is None:
        return trait_value(settings, "copy")
    if isinstance(copy, (bool, np.bool_)):
        return "always" if copy else "never"
    if not isinstance(copy, str):
        raise TypeError(f"copy must be None, a bool, 'never', 'always' or 'auto', not {type(copy).__name__}")
    if copy.lower() in COPY_POLICIES:
        return copy.lower()
    raise ValueError(f"copy must be None, True, False, 'never', 'always' or 'auto', not {reprlib.repr(copy)}")


def _array_like_to_array(obj) -> tuple[np.ndarray, bool]:
    """The array an object hands out, its protocol method called once, and whether it may share memory."""
    kind = type(obj).__name__
    # looked up on the type, as NumPy does: an instance's __getattr__ is user code that may raise
    if hasattr(type(obj), "__array__"):
        try:
            array = np.asarray(obj)
        except MemoryError:
            raise
        except Exception as e:
            raise TensorConversionError(f"{kind}.__array__ failed: {one_line(e)}") from e
        probe = np.empty(1)[:]  # held as ``array`` is: the reference counts of memory that nothing else holds
        shares = array is obj or _reachable_elsewhere(array, probe)  # (in a return tuple, array has one more)
        return array, shares
    raise TensorConversionError(f"{kind} is not a tensor or an array: it has neither __array__ nor __dlpack__")


def _reachable_elsewhere(array: np.ndarray, probe: np.ndarray) -> bool:
    """Whether anything but ``array`` itself may reach its memory: an object's ``__array__`` may hand out an
    array it keeps (in an attribute, a dict, a global...), a view of one, or memory it does not own. Only an
    array that nothing else holds, over arrays (its bases) that nothing else holds, the last of which owns
    what NumPy allocated for it, certainly shares nothing. Reference counts are compared with those of
    ``probe``, a fresh view of fresh memory held by the caller as ``array`` is, so that the interpreter's own
    counting (which differs between versions) cancels out."""
    if sys.getrefcount(array) > sys.getrefcount(probe) or weakref.getweakrefcount(array):
        return True  # (a weak reference holds no count, and still reaches it)
    probe_base = probe.base
    limit = sys.getrefcount(probe_base)  # its view's base field, this variable, the call's argument
    last, base = array, array.base
    while base is not None:
        if type(base) is not np.ndarray or sys.getrefcount(base) > limit or weakref.getweakrefcount(base):
            return True
        last, base = base, base.base
    return not last.flags.owndata


def _copy(array: np.ndarray, policy: str) -> np.ndarray:
    try:
        tensor_kinds.ensure_memory_for(_stored_bytes(array))
        if _keeps_repeats(array):  # each stored element once, repeated as before (read-only)
            stored = array[tensor_kinds.one_of_each_repeat(array.strides)]
            return np.broadcast_to(stored.copy(order="K"), array.shape)
        return array.copy(order="K")
    except MemoryError as e:
        raise MemoryError(
            f"{no_memory_message(array.size * array.itemsize)}, or share memory (copy='never' instead of "
            f"{policy!r}; %np -s)"
        ) from e


def one_line(error: BaseException) -> str:
    """``Type: message``, the message cut to its first line (an exception's own ``__str__`` may fail too)."""
    try:
        message = str(error).strip().splitlines()
    except Exception:
        message = ["(its message could not be read)"]
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def _keeps_repeats(array: np.ndarray) -> bool:
    """Whether a copy of ``array`` holds its stored elements once: a large expand()ed one's (see
    ``tensor_kinds.REPEATS_KEPT_ABOVE``)."""
    return array.nbytes > tensor_kinds.REPEATS_KEPT_ABOVE and _has_zero_stride(array)


def _stored_bytes(array: np.ndarray) -> int:
    """The bytes a copy of ``array`` takes (see :func:`_keeps_repeats`)."""
    if _keeps_repeats(array):
        return array[tensor_kinds.one_of_each_repeat(array.strides)].nbytes
    return array.nbytes


def _has_zero_stride(array: np.ndarray) -> bool:
    return 0 in array.strides and array.size > 1 and any(s == 0 and n > 1 for s, n in zip(array.strides, array.shape))


def _readonly_view(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
