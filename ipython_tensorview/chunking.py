"""Walking a tensor in bounded chunks on its device, with reused buffers, and exact power-of-two scaling.

The statistics and the histogram read a tensor a chunk at a time: extra memory is a few chunks' worth,
whatever the tensor's size, and nothing is synchronised with the device inside a walk.
"""

from __future__ import annotations

import math
import sys


def _torch():
    return sys.modules["torch"]


def to_host(t):
    """A device result as a NumPy array: every wait for the device in the statistics goes through here."""
    return t.cpu().numpy()


def to_device(array, device):
    """A small host array on ``device``, copied from pinned memory without waiting for the device."""
    tensor = _torch().from_numpy(array)
    if device.type == "cpu":
        return tensor
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


def work_dtype(dtype):
    torch = _torch()
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype.is_floating_point:
        return torch.float32
    return torch.float64


def chunks(t, limit: int, buffer=None):
    """Flat pieces of ``t`` of at most ``limit`` elements; only a piece is ever copied, never the whole.

    Pieces that are not contiguous in memory are copied into ``buffer`` (``limit`` elements of
    ``t``'s dtype) where one is given, so that a walk allocates nothing per piece; each such piece is
    valid until the next one is taken.
    """
    if t.is_quantized:  # per-channel quantized tensors cannot be permuted or flattened: dequantize by rows
        rows = max(1, limit // max(1, t[0].numel())) if t.dim() else 1
        for start in range(0, t.shape[0] if t.dim() else 1, rows):
            yield from chunks((t[start : start + rows] if t.dim() else t).dequantize(), limit)
        return
    t = _in_memory_order(t)  # statistics ignore order: walk memory in stride order
    if t.is_contiguous():
        flat = t.view(-1)
        for start in range(0, flat.numel(), limit):
            yield flat[start : start + limit]
        return
    if t.numel() <= limit or t.dim() <= 1:
        step = limit if t.dim() == 1 else t.shape[0]
        for start in range(0, max(1, t.shape[0] if t.dim() else 1), step):
            yield _flat_copy(t[start : start + step] if t.dim() else t, buffer)
        return
    inner = t[0].numel()
    if inner <= limit:
        step = max(1, limit // inner)
        for start in range(0, t.shape[0], step):
            yield _flat_copy(t[start : start + step], buffer)
    else:
        for index in range(t.shape[0]):
            yield from chunks(t[index], limit, buffer)


def _in_memory_order(t):
    """``t`` with its dimensions permuted from the largest stride to the smallest (a view)."""
    return t.permute(sorted(range(t.dim()), key=lambda d: -t.stride(d))) if t.dim() > 1 else t


def flat_in_memory_order(t):
    """A flat view of ``t``'s elements in the order they lie in memory, or None where no view has it."""
    if t.is_quantized:
        return None
    t = _in_memory_order(t)
    return t.view(-1) if t.is_contiguous() else None


def sampling_step(t, target: int) -> int:
    """The step s of a sample of about ``target`` elements taken every s-th element in memory order.

    s is a prime that divides no dimension, so that the sample does not fall into step with rows,
    columns or channels (a step of 2 on interleaved data, or of 3 on an H,W,C image, would see one kind).
    """
    step = max(2, t.numel() // max(1, target))
    while not _is_prime(step) or any(size % step == 0 for size in t.shape):
        step += 1
    return step


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def sample_in_memory_order(t, target: int):
    """A view of about ``target`` elements of ``t``: every s-th in memory order (see :func:`sampling_step`).

    Where no flat view of ``t`` exists (a slice with gaps along several dimensions), every k-th element
    along each dimension instead.
    """
    flat = flat_in_memory_order(t)
    if flat is None:
        return strided_sample(t, target)
    step = sampling_step(t, target)
    return flat[step // 2 :: step]


def strided_sample(t, max_elements: int):
    """A view of about ``max_elements`` elements: every k-th along each dimension, from mid-stride.

    The factor to shed is spread evenly over the dimensions (smallest first, so what a short dimension
    cannot shed passes to the longer ones), and each stride starts half a step in, so that a sample of
    a trend is not biased towards its beginning.
    """
    factor = t.numel() / max_elements
    steps = [1] * t.dim()
    dims = sorted(range(t.dim()), key=lambda d: t.shape[d])
    for position, dim in enumerate(dims):
        if factor <= 1:
            break
        share = factor ** (1 / (len(dims) - position))
        steps[dim] = min(t.shape[dim], math.ceil(share))
        factor /= steps[dim]
    return t[tuple(slice(step // 2, None, step) for step in steps)]


def _flat_copy(piece, buffer):
    """``piece`` as a flat contiguous tensor, copied into ``buffer`` where one is given."""
    if buffer is None:
        return piece.reshape(-1)
    out = buffer[: piece.numel()]
    out.view(piece.shape).copy_(piece)
    return out


def exponent(magnitude: float) -> int:
    """e such that magnitude / 2**e lies in [0.5, 1): dividing by 2**e scales without rounding."""
    return math.frexp(magnitude)[1] if magnitude else 0


def scale_(values, exponent: int):
    """``values *= 2**exponent`` in place, in steps whose factors float64 can hold (subnormals need two)."""
    while exponent:
        step = max(-1000, min(1000, exponent))
        values.mul_(2.0**step)
        exponent -= step
    return values


class Workspace:
    """Chunk-sized buffers reused by every chunk of a pass.

    Temporaries of a chunk's size allocated anew for each chunk, between small results that outlive
    them, fragment the C heap until it has grown by about the tensor's size; writing into the same
    few buffers keeps the extra memory at a few chunks whatever the tensor's size. Buffers are made
    on first use, so a pass that never needs one never pays for it.
    """

    def __init__(self, t, limit: int):
        torch = _torch()
        self.size = min(limit, t.numel())
        self.device = t.device
        # complex values are read as their magnitudes, in the precision of their parts
        if t.is_complex():
            self.dtype = torch.float64 if t.dtype == torch.complex128 else torch.float32
        else:
            self.dtype = work_dtype(t.dtype)
        self._buffers = {}

    def buffer(self, name: str, dtype, n: int):
        if name not in self._buffers:
            self._buffers[name] = _torch().empty(self.size, dtype=dtype, device=self.device)
        return self._buffers[name][:n]

    def chunks(self, t, limit: int):
        """:func:`chunks` of ``t``, copying pieces that are not contiguous into one reused buffer."""
        return chunks(t, limit, self.buffer("chunk", t.dtype, self.size) if not t.is_quantized else None)

    def real_values(self, piece):
        """The chunk as real numbers: upcast low precision and integers, magnitude of complex."""
        torch = _torch()
        if piece.dtype == self.dtype:
            return piece
        out = self.buffer("values", self.dtype, piece.numel())
        if piece.is_complex():
            if piece.dtype == torch.complex32:  # no abs kernel for it
                piece = piece.to(torch.complex64)
            return torch.abs(piece, out=out)
        return out.copy_(piece)

    def non_finite_mask(self, values):
        """A mask of the NaN and +-Inf values, in buffers of its own."""
        torch = _torch()
        n = values.numel()
        magnitude = torch.abs(values, out=self.buffer("magnitude", values.dtype, n))
        finite = torch.lt(magnitude, math.inf, out=self.buffer("finite", torch.bool, n))  # NaN < inf is False
        return torch.logical_not(finite, out=self.buffer("non-finite", torch.bool, n))

    def ones(self, n: int):
        """``n`` int64 ones, filled once per workspace."""
        torch = _torch()
        if "ones" not in self._buffers:
            self.buffer("ones", torch.int64, self.size).fill_(1)
        return self._buffers["ones"][:n]

    def wide_values(self, piece):
        """The chunk's real values in float64, in a buffer of its own (they get scaled in place)."""
        torch = _torch()
        return self.buffer("wide", torch.float64, piece.numel()).copy_(self.real_values(piece))

    def integer_keys(self, piece, wide: bool = False):
        """Integers ordered as the chunk's values and as far apart, for exact min, max and sums.

        uint64 values become int64 keys ``value - 2**63``; uint16 and uint32 (which aminmax lacks) and,
        with ``wide``, every integer dtype become int64 in a buffer (the caller may modify it).
        """
        torch = _torch()
        if piece.dtype == torch.uint64:  # flipping the sign bit maps uint64's order onto int64's
            keys = self.buffer("keys", torch.int64, piece.numel())
            return torch.bitwise_xor(piece.view(torch.int64), -(2**63), out=keys)
        if wide or piece.dtype in (torch.uint16, torch.uint32):
            return self.buffer("keys", torch.int64, piece.numel()).copy_(piece)
        return piece
