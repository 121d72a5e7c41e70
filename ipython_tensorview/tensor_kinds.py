"""Every kind of torch tensor, brought to a NumPy array with the fewest copies.

The route is: unwrap (torch.func transforms, subclasses), refuse what has no data (meta, fake, wrapper
subclasses without storage, vmap-batched tensors, ragged nested tensors), make the layout strided
(sparse, quantized, nested, ZeroTensor), detach, then one copy into host memory only where the device,
the dtype or a conj/neg bit requires it. ``t.numpy()`` on the result shares its memory.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from contextlib import contextmanager, nullcontext

import numpy as np

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # pragma: no cover - NumPy 1.x
    byte_bounds = np.byte_bounds


class TensorConversionError(TypeError):
    """An object that cannot become a NumPy array; the message says what it is and what to do.

    ``short`` names the reason in a few words, for tables (``%np``'s listing).
    """

    def __init__(self, message: str, short: str = ""):
        super().__init__(message)
        self.short = short or message


def is_tensor(obj) -> bool:
    """True for torch tensors (and subclasses) without importing torch.

    Judged by the real type, not ``isinstance``: an object that claims ``__class__ = torch.Tensor``
    (``MagicMock(spec=torch.Tensor)``) is no tensor, and torch's C functions crash on it.
    """
    torch = sys.modules.get("torch")
    return torch is not None and issubclass(type(obj), torch.Tensor)


def dtype_name(dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


_DTYPE_NAMES: dict = {}


def _torch():
    return sys.modules["torch"]


# floats NumPy lacks: upcast to float32 (exact), or kept as ml_dtypes' types with ml_dtypes=True
_LOW_PRECISION_FLOATS = {
    "bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
}
# sub-byte and packed dtypes torch can neither copy nor convert (and every "bits*"): their raw bytes
_RAW = {
    "uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7",
    "int1", "int2", "int3", "int4", "int5", "int6", "int7", "float4_e2m1fn_x2",
}
_NATIVE = {
    "bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}
_UNWRAP_GRAD = "unwrap torch.func.grad"
# a copy of an expand()ed tensor larger than this holds each stored element once, repeated by stride 0 as
# before (read-only, as np.broadcast_to makes it), and says so; a smaller one is an ordinary array
REPEATS_KEPT_ABOVE = 64 * 2**20
STORED_ONLY = "stored elements only (stride 0, read-only)"


def is_raw_dtype(dtype) -> bool:
    """True for dtypes whose elements are shown and converted as raw bytes."""
    name = dtype_name(dtype)
    return name in _RAW or name.startswith("bits")


def raw_carrier(dtype):
    """The unsigned integer dtype of the same size that carries a raw dtype's bytes."""
    return _torch().uint16 if dtype.itemsize == 2 else _torch().uint8


def _host_dtype(dtype, ml_dtypes: bool):
    """The torch dtype the host copy must have, and the ml_dtypes NumPy type to view it as (or None)."""
    torch = _torch()
    name = dtype_name(dtype)
    if name in _NATIVE or is_raw_dtype(dtype):
        return dtype, None
    if name in _LOW_PRECISION_FLOATS:
        if ml_dtypes:
            import ml_dtypes as mld

            return dtype, np.dtype(getattr(mld, name))
        return torch.float32, None
    if name == "complex32":
        return torch.complex64, None
    raise TensorConversionError(f"tensor of dtype {name} has no NumPy equivalent")


def _describe(t) -> str:
    return f"{type(t).__name__} of shape {tuple(t.shape)} and dtype {dtype_name(t.dtype)}"


def _has_data(t) -> bool:
    if t.numel() == 0:
        return True
    try:
        # a storage that resize_(0) freed has no pointer either, and is refused later as freed
        return t.data_ptr() != 0 or t.untyped_storage().nbytes() == 0
    except RuntimeError:  # "Cannot access data pointer of Tensor that doesn't have storage"
        return False


def _unwrap(t, steps: list[str]):
    """Peel torch.func wrappers and subclasses off; refuse tensors that have no data."""
    torch = _torch()
    functorch = torch._C._functorch
    while functorch.is_functorch_wrapped_tensor(t):
        if functorch.is_batchedtensor(t):
            raise TensorConversionError(
                "this tensor is batched by torch.func.vmap: it stands for a whole batch and has no data "
                "of its own; return it from the vmapped function and convert the result",
                "vmap-batched, no data",
            )
        if not functorch.is_gradtrackingtensor(t):
            raise TensorConversionError(
                "this tensor is wrapped by a torch.func transform that exposes no data; "
                "return it from the transformed function and convert the result",
                "torch.func wrapper, no data",
            )
        t = functorch.get_unwrapped(t)
        if _UNWRAP_GRAD not in steps:
            steps.append(_UNWRAP_GRAD)
    if t.is_nested:
        return t
    if isinstance(t, torch.nn.parameter.UninitializedTensorMixin):
        raise TensorConversionError(
            f"this {type(t).__name__} has no data yet: a lazy module makes it on its first forward pass; "
            "run one, then convert it",
            "uninitialized, no data",
        )
    fake = sys.modules.get("torch._subclasses.fake_tensor")
    if fake is not None and isinstance(t, fake.FakeTensor):
        raise TensorConversionError(
            f"{_describe(t)} holds no data: it only records shape and dtype for tracing; "
            "convert a real tensor",
            "fake, no data",
        )
    if type(t) is not torch.Tensor:
        if t.layout == torch.strided and not t.is_meta and not _has_data(t):
            raise TensorConversionError(
                f"{_describe(t)} has no storage (a wrapper subclass): materialise it with the "
                "subclass's own API (e.g. full_tensor(), dequantize()) and convert the result",
                "no storage",
            )
        subclass = type(t)
        with torch._C.DisableTorchFunctionSubclass():
            t = t.as_subclass(torch.Tensor)
        if subclass is not torch.nn.Parameter:
            steps.append(f"{subclass.__name__} -> Tensor")
    if t.is_meta:
        raise TensorConversionError(
            f"{_describe(t)} is on the meta device and has no data: create it on a real device "
            "(e.g. torch.empty(..., device='cpu'), or module.to_empty(device='cpu') for a module)",
            "meta, no data",
        )
    if not _storage_holds(t):
        raise TensorConversionError(
            f"{_describe(t)} has had its storage freed or shrunk (as FSDP does to a resharded parameter, "
            "or untyped_storage().resize_()): its elements are not in memory; gather or reload it, then "
            "convert it",
            "storage freed",
        )
    return t


def _storage_holds(t) -> bool:
    """Whether a strided tensor's storage reaches its last element: a storage resized to nothing (or less)
    leaves the tensor's view pointing at memory that is not its own."""
    torch = _torch()
    if t.layout != torch.strided or t.is_nested or t.is_quantized or not t.numel() or t._is_zerotensor():
        return True
    if t.is_contiguous():
        end = t.storage_offset() + t.numel()
    else:
        end = t.storage_offset() + 1 + sum((size - 1) * stride for size, stride in zip(t.shape, t.stride()))
    return end * t.element_size() <= t.untyped_storage().nbytes()


def nested_parts(t) -> tuple:
    """The components of a nested tensor (views, no copy); raises for ragged ones, which have no array shape."""
    parts = t.unbind()
    shapes = {tuple(p.shape) for p in parts}
    if len(shapes) > 1:
        shown = ", ".join(str(tuple(p.shape)) for p in parts[:4]) + (", ..." if len(parts) > 4 else "")
        raise TensorConversionError(
            f"nested tensor with ragged component shapes [{shown}] has no single array shape: "
            "use torch.nested.to_padded_tensor(t, padding) or convert each of t.unbind()",
            "ragged nested",
        )
    return parts


def _to_strided(t, steps: list[str]):
    """Sparse, quantized, nested and ZeroTensor layouts become ordinary strided tensors."""
    torch = _torch()
    if t.is_nested:
        parts = nested_parts(t)
        t = torch.stack(parts) if parts else torch.empty((0,), dtype=t.dtype, device=t.device)
        steps.append(f"nested -> stacked {tuple(t.shape)}")
    elif t.layout != torch.strided:
        layout = str(t.layout).removeprefix("torch.")
        if t.device.type != "cpu":  # move the compressed form, not the dense one
            steps.append(f"{t.device} -> cpu")
            t = t.cpu()
        t = _allocating(t.to_dense, t.numel() * t.element_size())
        steps.append(f"{layout} -> dense")
    elif t.is_quantized:
        quantized = dtype_name(t.dtype)
        t = _allocating(t.dequantize, t.numel() * 4)  # to float32
        steps.append(f"{quantized} -> dequantized {dtype_name(t.dtype)}")
    elif t._is_zerotensor():  # no data to move: the zeros are made on the host
        steps.append("ZeroTensor -> zeros" if t.device.type == "cpu" else f"ZeroTensor on {t.device} -> zeros on cpu")
        t = _allocating(lambda: torch.zeros(t.shape, dtype=t.dtype, device="cpu"), t.numel() * t.element_size())
    return t


def overlaps(array: np.ndarray, span: tuple[int, int] | None) -> bool:
    """Whether ``array``'s memory overlaps the byte span ``span`` (a tensor's storage, from
    :func:`tensor_to_array`)."""
    if span is None or array.size == 0:
        return False
    low, high = byte_bounds(array)
    return low < span[1] and span[0] < high


def storage_span(t) -> tuple[int, int] | None:
    if t.layout != _torch().strided or t.is_nested or t.is_quantized or t._is_zerotensor():
        return None
    storage = t.untyped_storage()
    start = storage.data_ptr()
    return start, start + storage.nbytes()


def tensor_to_array(t, *, ml_dtypes: bool = False) -> tuple[np.ndarray, list[str], tuple[int, int] | None]:
    """The array for ``t``, the steps taken, and the byte span of the memory ``t`` reads from.

    The span is None where the tensor's data is not in one storage (sparse, nested, quantized...),
    in which case the array, made by a copy, cannot share it.
    """
    torch = _torch()
    with torch._C.DisableTorchFunctionSubclass():  # a subclass's __torch_function__ is not ours to run
        return _tensor_to_array(t, ml_dtypes)


def _tensor_to_array(t, ml_dtypes: bool):
    torch = _torch()
    steps: list[str] = []
    repeated = False
    with torch.no_grad():  # a subclass's as_subclass would record an alias in the graph
        t = _unwrap(t, steps)
    # inside a torch.func transform, even the unwrapped tensor's ops go through the transform's layer
    outside_transforms = torch._C._DisableFuncTorch() if steps[:1] == [_UNWRAP_GRAD] else nullcontext()
    with torch.no_grad(), outside_transforms:
        span = storage_span(t)
        if t.requires_grad:
            t = t.detach()
            steps.append("detach")
        t = _to_strided(t, steps)
        target, numpy_view = _host_dtype(t.dtype, ml_dtypes)
        name = dtype_name(t.dtype)
        if is_raw_dtype(t.dtype) or numpy_view is not None:
            if t.is_neg():  # a view as another dtype reads the stored bits: the values' own first, copied
                # through float32 (exact both ways), since float8 has no neg kernel but copy_ resolves the bit
                t = torch.empty_like(t, dtype=torch.float32).copy_(t).to(t.dtype)
                steps.append("resolve neg")
            # torch cannot copy or print these; their bytes travel as unsigned integers
            t = t.view(raw_carrier(t.dtype))
            target = t.dtype
            if numpy_view is None:
                steps.append(f"{name} -> raw bytes ({dtype_name(t.dtype)})")
        if t.device.type != "cpu" or target != t.dtype or t.is_conj() or t.is_neg():
            if t.device.type != "cpu":
                steps.append(f"{t.device} -> cpu")
            if target != t.dtype:
                steps.append(f"{name} -> {dtype_name(target)}")
            if t.is_conj():
                steps.append("resolve conj")
            if t.is_neg():
                steps.append("resolve neg")
            # one copy does the device move, the upcast and the conj/neg resolution together (of the stored
            # elements alone, where a large expand()ed tensor repeats them)
            stored = t[one_of_each_repeat(t.stride())] if t.numel() * target.itemsize > REPEATS_KEPT_ABOVE else t
            host = allocate_host(stored.shape, target)
            host.copy_(stored)
            repeated = stored.shape != t.shape
            t = host.expand(t.shape) if repeated else host
            if repeated:
                steps.append(STORED_ONLY)
        array = t.numpy()
    if repeated:
        array.flags.writeable = False
    if numpy_view is not None:
        array = array.view(numpy_view)
    return array, steps, span


def shared_host_array(t):
    """The commonest case in one step: a plain CPU tensor of a NumPy dtype gives ``(array, steps)`` that
    shares its memory; anything else (or torch not imported) gives None and takes the full route of
    :func:`tensor_to_array`. This runs on every ``%np`` and ``convert``, so torch's own ``numpy()`` makes
    the checks it makes anyway (device, layout, dtype, conj and neg bits, nested) by refusing."""
    torch = sys.modules.get("torch")
    if torch is None or not (type(t) is torch.Tensor or type(t) is torch.nn.Parameter):
        return None
    # numpy() would read a zero tensor's missing storage, or a functorch wrapper's inner value
    if not t.is_cpu or t._is_zerotensor() or is_transform_wrapper(t):
        return None
    try:
        array, steps = (t.detach().numpy(), ["detach"]) if t.requires_grad else (t.numpy(), [])
    except Exception:  # what it refuses, or a dispatch mode in force objects to: the full route says what
        return None
    # nor one whose storage was freed or shrunk (resize_): the full route refuses it. A dense array's end is
    # its offset and its bytes, found at a third of the cost of the general reckoning
    if array.flags.c_contiguous:
        holds = t.storage_offset() * array.itemsize + array.nbytes <= t.untyped_storage().nbytes()
    else:
        holds = _storage_holds(t)
    return (array, steps) if holds else None


def is_transform_wrapper(t) -> bool:
    """Whether ``t`` is torch.func's wrapper of a value inside a transform (vmap, grad...): torch has no
    public test for it."""
    return _functorch_test()(t)


@functools.cache
def _functorch_test():
    """torch's private test behind :func:`is_transform_wrapper`, looked up once (three attribute lookups
    on every conversion)."""
    return _torch()._C._functorch.is_functorch_wrapped_tensor


def read_unrecorded(t):
    """A context within which torch ops on ``t`` and on what :func:`plain_tensor` unwraps of it record no
    autograd graph, and inside a torch.func transform run on the values themselves (even the unwrapped
    tensor's ops would otherwise go through the transform's layer). Nothing at all for a plain tensor that
    does not require grad, which records none: no_grad costs more than a small tensor's statistics."""
    torch = _torch()
    wrapped = is_transform_wrapper(t)
    if type(t) is torch.Tensor and not t.requires_grad and not wrapped:
        return nullcontext()
    return _unrecorded(wrapped)


@contextmanager
def _unrecorded(wrapped: bool):
    torch = _torch()
    with torch.no_grad(), torch._C._DisableFuncTorch() if wrapped else nullcontext():
        yield


def allocate_host(shape, dtype):
    """An empty CPU tensor; MemoryError saying how many bytes, where torch's allocator fails."""
    return _allocating(lambda: _torch().empty(shape, dtype=dtype, device="cpu"), math.prod(shape) * dtype.itemsize)


def _allocating(make, nbytes: int):
    """``make()``, which allocates ``nbytes``; MemoryError saying how many, where torch's allocator fails."""
    ensure_memory_for(nbytes)
    try:
        return make()
    except RuntimeError as e:
        if "can't allocate memory" not in str(e) and "not enough memory" not in str(e):
            raise
        raise MemoryError(no_memory_message(nbytes)) from e


# copies up to this size are made without asking the system how much memory is left (reading it costs more)
UNCHECKED_BYTES = 64 * 2**20


def ensure_memory_for(nbytes: int) -> None:
    """MemoryError saying how many bytes, before a copy of ``nbytes`` that the host cannot hold is begun.

    Where the system overcommits memory (Linux often does), an allocation larger than the memory left
    succeeds, and the process is killed while the copy fills it: so the size is checked first.
    """
    if not memory_for(nbytes):
        raise MemoryError(no_memory_message(nbytes))


def memory_for(nbytes: int) -> bool:
    """Whether a copy of ``nbytes`` fits in the memory left (one up to ``UNCHECKED_BYTES`` is taken to)."""
    return nbytes <= UNCHECKED_BYTES or nbytes <= available_memory()


def available_memory() -> float:
    """Bytes the process can still be given: on Linux, MemAvailable plus free swap, and no more than its
    control group's limit leaves (a container's); elsewhere, the physical memory."""
    try:
        with open("/proc/meminfo", "rb") as f:
            fields = dict(line.split(b":", 1) for line in f)
        host = sum(int(fields[name].split()[0]) * 1024 for name in (b"MemAvailable", b"SwapFree"))
    except (OSError, KeyError, ValueError):
        try:
            return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):  # (Windows has no sysconf; it does not overcommit)
            return math.inf
    return min(host, _control_group_room())


# a control group's memory limit and use: version 2's files, then version 1's
_CONTROL_GROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def _control_group_room() -> float:
    """What the memory limit of this process's control group leaves, or infinity where none is set (version
    2 writes "max"; version 1 a number near 2**63)."""
    for limit_file, usage_file in _CONTROL_GROUP_FILES:
        try:
            with open(limit_file, "rb") as f:
                limit = f.read().strip()
            if limit == b"max" or int(limit) >= 2**62:
                return math.inf
            with open(usage_file, "rb") as f:
                return int(limit) - int(f.read())
        except (OSError, ValueError):
            continue
    return math.inf


def no_memory_message(nbytes: int) -> str:
    return (
        f"the copy needs {format_bytes(nbytes)} ({nbytes:,} bytes), more memory than can be allocated: "
        "convert a slice of it"
    )


def format_bytes(n: int) -> str:
    """A byte count for people: 512 B, 3.0 KiB, 64.0 MiB, 1.5 GiB."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"


def distinct_view(t):
    """``t`` without its dimensions of stride 0, and how many times each of its elements stands in ``t``.

    An ``expand()``ed tensor repeats each stored element along its stride-0 dimensions; statistics and
    sizes are those of the distinct elements, counted that many times.
    """
    torch = _torch()
    if t.layout != torch.strided or t.is_quantized or t.is_nested:
        return t, 1
    repeats, index = 1, []
    for size, stride in zip(t.shape, t.stride()):
        if stride == 0 and size > 1:
            repeats *= size
            index.append(0)
        else:
            index.append(slice(None))
    return (t[tuple(index)], repeats) if repeats > 1 else (t, 1)


def one_of_each_repeat(strides) -> tuple:
    """An index that keeps one element along each dimension of stride 0 (of a tensor's or an array's
    strides), every dimension kept: what is stored, in the shape that broadcasts back to the whole."""
    return tuple(slice(0, 1) if stride == 0 else slice(None) for stride in strides)


def copy_bytes(t, *, ml_dtypes: bool = False) -> int:
    """Bytes of the host array that a copying conversion of ``t`` makes (dequantized, upcast...)."""
    if t.is_quantized:
        return t.numel() * 4  # dequantized to float32
    try:
        itemsize = _host_dtype(t.dtype, ml_dtypes)[0].itemsize
    except TensorConversionError:
        itemsize = t.element_size()
    if t.numel() * itemsize > REPEATS_KEPT_ABOVE:  # a large expand()ed tensor's stored elements are copied once
        return distinct_view(t)[0].numel() * itemsize
    return t.numel() * itemsize


def conversion_copies(t, *, ml_dtypes: bool = False) -> bool:
    """Whether converting ``t`` needs a copy whatever the policy (a cheap look, no conversion)."""
    torch = _torch()
    if t.is_nested or t.layout != torch.strided or t.is_quantized or t.is_meta:
        return True
    if t.device.type != "cpu" or t.is_conj() or t.is_neg() or t._is_zerotensor():
        return True
    name = dtype_name(t.dtype)
    return not (name in _NATIVE or is_raw_dtype(t.dtype) or (ml_dtypes and name in _LOW_PRECISION_FLOATS))


def plain_tensor(t):
    """``t`` as a plain ``torch.Tensor`` over the same memory (nested tensors stay nested).

    Raises :class:`TensorConversionError` for tensors without data (meta, fake, storage-less wrappers,
    vmap-batched). Inside ``torch.func.grad`` this gives the unwrapped values.
    """
    with _torch()._C.DisableTorchFunctionSubclass():
        return _unwrap(t, [])


def shape_of(t) -> str:
    """The shape as text; a ragged nested tensor, which has none, shows its component count."""
    try:
        return str(tuple(t.shape))
    except RuntimeError:
        shapes = {tuple(part.shape) for part in t.unbind()}
        if len(shapes) == 1:
            return str((t.size(0), *shapes.pop()))
        return f"nested({t.size(0)} ragged)"
