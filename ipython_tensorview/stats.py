"""Statistics of a tensor, computed on its device in bounded chunks.

Two passes over the data: the first gathers, per chunk, min, max, sum and the sum of squared deviations
from the chunk's mean (merged exactly with Chan's formula); the second counts the histogram of the finite
values. Extra memory is a few chunks' worth whatever the tensor's size, and nothing is synchronised with
the device until each pass ends. Chunks that hold NaN or +-Inf are visited again to count them and to
keep them out of the statistics.

Above ``max_elements`` the statistics cover a deterministic strided sample and say so.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .tensor_kinds import dtype_name

# elements per chunk: about 1 MiB temporaries on the CPU (cache-sized); 4 MiB on a GPU, where each
# chunk costs a few kernel launches
CHUNK_ELEMENTS = {"cpu": 1 << 18}
DEFAULT_CHUNK_ELEMENTS = 1 << 20
_INTEGERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}


@dataclass(frozen=True)
class Stats:
    """What the header shows. ``count`` is the number of finite values the statistics describe."""

    count: int
    min: float
    max: float
    mean: float
    std: float
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    histogram: tuple[int, ...] = ()
    of: str = ""  # what the values are: "" for the elements, "|z|" for complex magnitudes
    sampled_from: int = 0  # the element count the sample was drawn from; 0 when exact

    def non_finite(self) -> list[tuple[str, int]]:
        """("nan", n), ("+inf", n), ("-inf", n) for the counts that are not zero."""
        return [(label, n) for label, n in (("nan", self.nan), ("+inf", self.posinf), ("-inf", self.neginf)) if n]


def _torch():
    return sys.modules["torch"]


def _work_dtype(dtype):
    torch = _torch()
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype.is_floating_point:
        return torch.float32
    return torch.float64


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


def chunks(t, limit: int):
    """Flat pieces of ``t`` of at most ``limit`` elements; only a piece is ever copied, never the whole."""
    if t.is_quantized:  # per-channel quantized tensors cannot be permuted or flattened: dequantize by rows
        rows = max(1, limit // max(1, t[0].numel())) if t.dim() else 1
        for start in range(0, t.shape[0] if t.dim() else 1, rows):
            yield from chunks((t[start : start + rows] if t.dim() else t).dequantize(), limit)
        return
    if t.dim() > 1:  # statistics ignore order: walk memory in stride order
        t = t.permute(sorted(range(t.dim()), key=lambda d: -t.stride(d)))
    if t.numel() <= limit or t.dim() == 0:
        yield t.reshape(-1)
        return
    if t.is_contiguous():
        flat = t.view(-1)
        for start in range(0, flat.numel(), limit):
            yield flat[start : start + limit]
        return
    inner = t[0].numel() if t.dim() > 1 else 1
    if inner <= limit:
        step = max(1, limit // inner)
        for start in range(0, t.shape[0], step):
            yield t[start : start + step].reshape(-1)
    else:
        for index in range(t.shape[0]):
            yield from chunks(t[index], limit)


class _Workspace:
    """Chunk-sized buffers reused by every chunk of a pass.

    Temporaries of a chunk's size allocated anew for each chunk, between small results that outlive
    them, fragment the C heap until it has grown by about the tensor's size; writing into the same
    few buffers keeps the extra memory at a few chunks whatever the tensor's size.
    """

    def __init__(self, t, limit: int):
        torch = _torch()
        size = min(limit, t.numel())
        self.dtype = _work_dtype(torch.float32 if t.is_complex() else t.dtype)
        # a buffer for converted values only where the dtype needs converting
        self.values = None if t.dtype == self.dtype else torch.empty(size, dtype=self.dtype, device=t.device)
        self.scratch = torch.empty(size, dtype=self.dtype, device=t.device)
        self.index = torch.empty(size, dtype=torch.int32, device=t.device)  # half the traffic of int64

    def real_values(self, piece):
        """The chunk as real numbers: upcast low precision, magnitude of complex (into the buffer)."""
        torch = _torch()
        if piece.dtype == self.dtype:
            return piece
        out = self.values[: piece.numel()]
        if piece.is_complex():
            if piece.dtype == torch.complex32:
                piece = piece.to(torch.complex64)
            return torch.abs(piece, out=out) if piece.dtype == torch.complex64 else out.copy_(piece.abs())
        return out.copy_(piece)

    def moments_into(self, values, row) -> None:
        """Write min, max, sum and M2 of a chunk into ``row``, without a host synchronisation."""
        torch = _torch()
        low, high = torch.aminmax(values)
        total = values.sum()
        centred = torch.sub(values, total / values.numel(), out=self.scratch[: values.numel()])
        row[0], row[1], row[2], row[3] = low, high, total, torch.dot(centred, centred)

    def bin_counts(self, values, low: float, scale: float, bins: int):
        torch = _torch()
        positions = torch.sub(values, low, out=self.scratch[: values.numel()]).mul_(scale).clamp_(0, bins - 1)
        index = self.index[: values.numel()].copy_(positions)  # truncates towards zero, as floor for >= 0
        return torch.bincount(index, minlength=bins)


def _finite_moments(values):
    """(count, min, max, sum, M2, nan, +inf, -inf) of a chunk that holds non-finite values, in float64."""
    torch = _torch()
    values = values.to(torch.float64)
    nan = int(torch.isnan(values).sum())
    posinf = int((values == math.inf).sum())
    neginf = int((values == -math.inf).sum())
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return 0, math.inf, -math.inf, 0.0, 0.0, nan, posinf, neginf
    low, high = torch.aminmax(finite)
    total = finite.sum()
    centred = finite - total / finite.numel()
    return finite.numel(), float(low), float(high), float(total), float(centred.dot(centred)), nan, posinf, neginf


def _merge(count_a, mean_a, m2_a, count_b, mean_b, m2_b):
    """Chan et al.'s exact merge of two (count, mean, M2) partial results."""
    count = count_a + count_b
    if count == 0:
        return 0, 0.0, 0.0
    delta = mean_b - mean_a
    mean = mean_a + delta * count_b / count
    return count, mean, m2_a + m2_b + delta * delta * count_a * count_b / count


def tensor_stats(t, *, bins: int = 24, max_elements: int = 0) -> Stats | None:
    """Statistics of a strided numeric tensor; None where they do not apply (bool, raw bits, empty)."""
    torch = _torch()
    numeric = t.is_floating_point() or t.is_complex() or t.is_quantized or dtype_name(t.dtype) in _INTEGERS
    if t.numel() == 0 or not numeric:
        return None
    sampled_from = 0
    if max_elements and t.numel() > max_elements:
        sampled_from, t = t.numel(), strided_sample(t, max_elements)
    limit = CHUNK_ELEMENTS.get(t.device.type, DEFAULT_CHUNK_ELEMENTS)
    with torch.no_grad():
        t = t.detach()
        work = _Workspace(t, limit)
        sizes = [piece.numel() for piece in chunks(t, limit)]
        table = torch.empty((len(sizes), 4), dtype=work.dtype, device=t.device)
        for row, piece in zip(table, chunks(t, limit)):
            work.moments_into(work.real_values(piece), row)
        table = table.to(torch.float64).cpu().numpy()  # the pass's one synchronisation

        nan = posinf = neginf = 0
        unclean = set(np.flatnonzero(~np.isfinite(table).all(axis=1)).tolist())
        if unclean:
            for index, piece in enumerate(chunks(t, limit)):
                if index in unclean:
                    sizes[index], *table[index], a, b, c = _finite_moments(work.real_values(piece))
                    nan, posinf, neginf = nan + a, posinf + b, neginf + c

        count, mean, m2 = 0, 0.0, 0.0
        for (_, _, total, part_m2), n in zip(table, sizes):
            if n:
                count, mean, m2 = _merge(count, mean, m2, n, total / n, part_m2)
        finite_rows = table[np.array(sizes) > 0]
        low = float(finite_rows[:, 0].min()) if count else math.nan
        high = float(finite_rows[:, 1].max()) if count else math.nan
        histogram = _histogram(t, work, limit, bins, low, high, unclean) if count else ()
    return Stats(
        count=count,
        min=low,
        max=high,
        mean=float(mean) if count else math.nan,
        std=math.sqrt(m2 / count) if count else math.nan,
        nan=nan,
        posinf=posinf,
        neginf=neginf,
        histogram=histogram,
        of="|z|" if t.is_complex() else "",
        sampled_from=sampled_from,
    )


def _histogram(t, work: _Workspace, limit, bins, low, high, unclean_chunks) -> tuple[int, ...]:
    torch = _torch()
    scale = bins / (high - low) if high > low else 0.0
    counts = torch.zeros(bins, dtype=torch.int64, device=t.device)
    for index, piece in enumerate(chunks(t, limit)):
        values = work.real_values(piece)
        if index in unclean_chunks:
            values = values[torch.isfinite(values)]
        counts += work.bin_counts(values, low, scale, bins)
    return tuple(counts.tolist())
