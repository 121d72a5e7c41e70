"""Statistics of a tensor, computed on its device in bounded chunks, exact across each dtype's range.

The first pass gathers, per chunk, min, max, the sum and the sum of squares; nothing is synchronised
with the device until it ends. The raw sums give the mean and the standard deviation directly for
data centred near zero with an ordinary magnitude, the common case. The host then checks what could
have gone wrong, and only where something did, visits the data again:

- chunks holding NaN or +-Inf are revisited to count them and to keep them out of the statistics;
- data far from zero relative to its spread (|mean| > 3 std), whose sums of squares would cancel,
  and data at the edges of the float range, whose squares overflow or underflow, take a second pass
  in float64, scaled by a power of two (exact) and shifted by an estimate of the mean.

The histogram's bins are NumPy's: the same edges as ``np.histogram`` over the finite values, and each
value's bin corrected against those edges as NumPy corrects it, so the counts are equal.

Dimensions of stride 0 (``expand()``) are never materialised: the statistics describe the distinct
elements, with the counts multiplied by how often each stands in the tensor. Above ``max_elements``
the statistics cover a deterministic strided sample and say so. Extra memory is a few chunks' worth,
whatever the tensor's size.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .tensor_kinds import distinct_view, dtype_name

# elements per chunk: about 1 MiB temporaries on the CPU (cache-sized); 4 MiB on a GPU, where each
# chunk costs a few kernel launches
CHUNK_ELEMENTS = {"cpu": 1 << 18}
DEFAULT_CHUNK_ELEMENTS = 1 << 20
_INTEGERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
# sums of squares in the work dtype lose the spread when the mean is this many times the std or more
_CANCELLING_MEAN_TO_STD = 3.0
# the histogram counts every element up to this many, and a sample of about the second figure above
HISTOGRAM_EXACT_ELEMENTS = 1 << 22
HISTOGRAM_SAMPLE_ELEMENTS = 1 << 20


@dataclass(frozen=True)
class Stats:
    """What the header shows. ``count`` is the number of finite values the statistics describe."""

    count: int
    min: float | int  # exact: a Python int for integer tensors
    max: float | int
    mean: float
    std: float
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    histogram: tuple[int, ...] = ()
    of: str = ""  # what the values are: "" for the elements, "|z|" for complex magnitudes
    sampled_from: int = 0  # the element count the sample was drawn from; 0 when exact
    histogram_step: int = 1  # the histogram counts every element (1) or every n-th in memory order

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
    if t.dim() > 1:  # statistics ignore order: walk memory in stride order
        t = t.permute(sorted(range(t.dim()), key=lambda d: -t.stride(d)))
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


def _flat_copy(piece, buffer):
    """``piece`` as a flat contiguous tensor, copied into ``buffer`` where one is given."""
    if buffer is None:
        return piece.reshape(-1)
    out = buffer[: piece.numel()]
    out.view(piece.shape).copy_(piece)
    return out


def bin_edges(low: float, high: float, bins: int) -> np.ndarray:
    """The histogram's bin edges, as ``np.histogram(values, bins)`` makes them from the finite min and max.

    Where ``high - low`` overflows float64, the edges are made between the scaled ends and scaled
    back by the same power of two, which is exact.
    """
    if low == high:  # NumPy widens an empty range by 0.5 on each side
        low, high = low - 0.5, high + 0.5
    with np.errstate(all="ignore"):
        edges = np.linspace(low, high, bins + 1)
        if np.isfinite(edges).all():
            return edges
        exponent = _exponent(max(abs(low), abs(high)))
        return np.ldexp(np.linspace(math.ldexp(low, -exponent), math.ldexp(high, -exponent), bins + 1), exponent)


def _exponent(magnitude: float) -> int:
    """e such that magnitude / 2**e lies in [0.5, 1): dividing by 2**e scales without rounding."""
    return math.frexp(magnitude)[1] if magnitude else 0


def _scale_(values, exponent: int):
    """``values *= 2**exponent`` in place, in steps whose factors float64 can hold (subnormals need two)."""
    while exponent:
        step = max(-1000, min(1000, exponent))
        values.mul_(2.0**step)
        exponent -= step
    return values


class _Workspace:
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
        self.source_dtype = t.dtype
        self.dtype = _work_dtype(torch.float32 if t.is_complex() else t.dtype)
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
            if piece.dtype == torch.complex32:
                piece = piece.to(torch.complex64)
            return torch.abs(piece, out=out) if piece.dtype == torch.complex64 else out.copy_(piece.abs())
        return out.copy_(piece)

    def wide_values(self, piece):
        """The chunk's real values in float64, in a buffer of its own (they get scaled in place)."""
        torch = _torch()
        return self.buffer("wide", torch.float64, piece.numel()).copy_(self.real_values(piece))

    def integer_keys(self, piece):
        """Integers ordered as the chunk's values, for exact min and max where aminmax lacks the dtype."""
        torch = _torch()
        if piece.dtype == torch.uint64:  # flipping the sign bit maps uint64's order onto int64's
            keys = self.buffer("keys", torch.int64, piece.numel())
            return torch.bitwise_xor(piece.view(torch.int64), -(2**63), out=keys)
        if piece.dtype in (torch.uint16, torch.uint32):
            return self.buffer("keys", torch.int64, piece.numel()).copy_(piece)
        return piece


@dataclass
class _Moments:
    """Per-chunk partial results of the first pass, on the host, in float64."""

    counts: np.ndarray  # finite values per chunk
    low: np.ndarray
    high: np.ndarray
    total: np.ndarray
    squares: np.ndarray
    unclean: np.ndarray  # indices of chunks holding NaN or +-Inf
    nan: int = 0
    posinf: int = 0
    neginf: int = 0
    integer_extremes: tuple[int, int] | None = None


def _first_pass(t, work: _Workspace, limit: int) -> _Moments:
    torch = _torch()
    integers = not (t.is_floating_point() or t.is_complex() or t.is_quantized)
    rows, extremes, sizes = [], [], []
    for piece in work.chunks(t, limit):
        values = work.real_values(piece)
        low, high = torch.aminmax(values)
        rows.append(torch.stack((low, high, values.sum(), torch.dot(values, values))))
        if integers:  # exact, where the float64 values would round int64 and uint64 extremes
            extremes.append(torch.stack(torch.aminmax(work.integer_keys(piece))).to(torch.int64))
        sizes.append(piece.numel())
    table = torch.stack(rows).to(torch.float64).cpu().numpy()  # the pass's one synchronisation
    low, high, total, squares = table.T.copy()
    unclean = np.flatnonzero(~(np.isfinite(low) & np.isfinite(high)))
    moments = _Moments(np.array(sizes, dtype=np.float64), low, high, total, squares, unclean)
    if integers:
        keys = torch.stack(extremes).cpu()
        shift = 2**63 if t.dtype == torch.uint64 else 0
        moments.integer_extremes = (int(keys[:, 0].min()) + shift, int(keys[:, 1].max()) + shift)
    if unclean.size:
        _revisit_unclean(t, work, limit, moments)
    return moments


def _revisit_unclean(t, work: _Workspace, limit: int, moments: _Moments) -> None:
    """Count NaN and +-Inf in the chunks that hold them, and take their finite values' partial sums."""
    torch = _torch()
    wanted = set(moments.unclean.tolist())
    rows = []
    for index, piece in enumerate(work.chunks(t, limit)):
        if index not in wanted:
            continue
        values = work.real_values(piece)
        finite = torch.isfinite(values)
        clean = torch.where(finite, values, 0)
        row = (
            finite.sum(),
            torch.where(finite, values, math.inf).amin(),
            torch.where(finite, values, -math.inf).amax(),
            clean.sum(),
            torch.dot(clean, clean),
            torch.isnan(values).sum(),
            (values == math.inf).sum(),
            (values == -math.inf).sum(),
        )
        rows.append(torch.stack([x.to(torch.float64) for x in row]))
    table = torch.stack(rows).cpu().numpy()  # one synchronisation for all of them
    chosen = moments.unclean
    moments.counts[chosen], moments.low[chosen], moments.high[chosen] = table[:, 0], table[:, 1], table[:, 2]
    moments.total[chosen], moments.squares[chosen] = table[:, 3], table[:, 4]
    moments.nan, moments.posinf, moments.neginf = (int(x) for x in table[:, 5:8].sum(axis=0))


def _raw_mean_std(moments: _Moments, count: int, work_dtype) -> tuple[float, float] | None:
    """Mean and std from the raw sums, or None where they cannot be trusted."""
    torch = _torch()
    info = torch.finfo(work_dtype)
    magnitude = max(abs(moments.low[moments.counts > 0]).max(), abs(moments.high[moments.counts > 0]).max())
    if magnitude and magnitude < math.sqrt(info.tiny) * 2**20:
        return None  # squares near the dtype's smallest normals lose their digits
    with np.errstate(all="ignore"):
        total, squares = moments.total.sum(), moments.squares.sum()
        mean = total / count
        variance = squares / count - mean * mean
    if not (math.isfinite(mean) and math.isfinite(squares)):
        return None  # a sum overflowed the work dtype
    if variance <= 0 or mean * mean >= _CANCELLING_MEAN_TO_STD**2 * variance:
        return None  # the spread is lost in the sums of squares, or may be
    return float(mean), math.sqrt(variance)


def _careful_mean_std(t, work: _Workspace, limit: int, moments: _Moments, count: int) -> tuple[float, float]:
    """Mean and std from a float64 pass, scaled by a power of two and shifted by an estimate of the mean.

    Values are scaled so that the largest magnitude is below 1 (exact: a power of two), which keeps
    their squares and sums far from overflow and underflow; the shift keeps the sums of squares from
    cancelling. The result is scaled back: it is finite wherever the true mean and std are.
    """
    torch = _torch()
    finite_rows = moments.counts > 0
    low, high = moments.low[finite_rows].min(), moments.high[finite_rows].max()
    exponent = _exponent(max(abs(low), abs(high)))
    with np.errstate(all="ignore"):
        estimate = moments.total.sum() / count
    if not (math.isfinite(estimate) and low <= estimate <= high):
        estimate = low / 2 + high / 2
    centre = math.ldexp(estimate, -exponent)
    unclean = set(moments.unclean.tolist())
    rows = []
    for index, piece in enumerate(work.chunks(t, limit)):
        shifted = _scale_(work.wide_values(piece), -exponent).sub_(centre)
        if index in unclean:
            shifted.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
        rows.append(torch.stack((shifted.sum(), torch.dot(shifted, shifted))))
    total, squares = torch.stack(rows).sum(dim=0).cpu().tolist()
    offset = total / count
    mean = math.ldexp(centre + offset, exponent)
    std = math.ldexp(math.sqrt(max(squares / count - offset * offset, 0.0)), exponent)
    return min(max(mean, low), high), std  # rounding never puts the mean outside the values


def histogram_step(t) -> int:
    """1 where the histogram counts every element; above ``HISTOGRAM_EXACT_ELEMENTS``, the step of its sample.

    The sample takes every s-th element in memory order, with s a prime that divides no dimension, so
    that it does not fall into step with rows, columns or channels.
    """
    n = t.numel()
    if n <= HISTOGRAM_EXACT_ELEMENTS:
        return 1
    step = max(2, n // HISTOGRAM_SAMPLE_ELEMENTS)
    while not _is_prime(step) or any(size % step == 0 for size in t.shape):
        step += 1
    return step


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


def _sampled(work, t, limit: int, step: int):
    """The chunks of ``t``, each reduced to the elements of every ``step``-th one in memory order."""
    phase = 0
    for index, piece in enumerate(work.chunks(t, limit)):
        yield index, piece[phase::step] if step > 1 else piece
        phase = (phase - piece.numel()) % step


def _histogram(t, work: _Workspace, limit: int, bins: int, low: float, high: float, unclean) -> tuple[int, ...]:
    """Counts per bin of the finite values (or of a sample), binned exactly as ``np.histogram`` bins them."""
    torch = _torch()
    step = histogram_step(t)
    edges = bin_edges(low, high, bins)
    lower, upper = _comparison_edges(edges, work.dtype, t.device)
    if not (np.diff(edges) > 0).all():  # a range of a few ulps: bins share edges, the correction is not enough
        return _histogram_by_search(t, work, limit, bins, edges, unclean, step)
    info = torch.finfo(work.dtype)
    with np.errstate(all="ignore"):
        span = np.float64(edges[-1]) - np.float64(edges[0])
        factor = bins / span
    direct = math.isfinite(span) and span < info.max and info.tiny * 2**20 < factor < info.max / 2**20
    exponent = 0 if direct else _exponent(max(abs(edges[0]), abs(edges[-1])))
    start = math.ldexp(edges[0], -exponent)
    if not direct:
        factor = bins / (math.ldexp(edges[-1], -exponent) - start)
    unclean = set(unclean.tolist())
    counts = torch.zeros(bins, dtype=torch.int64, device=t.device)
    for index, piece in _sampled(work, t, limit, step):
        values = work.real_values(piece)
        if index in unclean:
            values = values[torch.isfinite(values)]
        n = values.numel()
        if direct:
            positions = torch.sub(values, start, out=work.buffer("scratch", work.dtype, n))
        else:
            positions = _scale_(work.buffer("wide", torch.float64, n).copy_(values), -exponent).sub_(start)
        positions.mul_(factor).clamp_(0, bins - 1)
        # NaN (written by another thread) becomes an arbitrary integer: the second clamp bounds it
        bin_index = work.buffer("index", torch.int32, n).copy_(positions).clamp_(0, bins - 1)
        # NumPy's correction: the computed bin can be one off for values within an ulp of an edge
        edge = work.buffer("edge", lower.dtype, n)
        outside = work.buffer("mask", torch.bool, n)
        torch.lt(values, torch.index_select(lower, 0, bin_index, out=edge), out=outside)
        bin_index.sub_(outside.view(torch.uint8))
        torch.ge(values, torch.index_select(upper, 0, bin_index, out=edge), out=outside)
        bin_index.add_(outside.view(torch.uint8))
        counts += torch.bincount(bin_index, minlength=bins)
    return tuple(counts.tolist())


def _histogram_by_search(t, work: _Workspace, limit: int, bins: int, edges, unclean, step) -> tuple[int, ...]:
    """The same counts by binary search among the edges: slower, and right however close they are."""
    torch = _torch()
    inner = edges[1:-1]
    if work.dtype == torch.float32:
        inner = _round_up_to_float32(inner)
    inner = torch.from_numpy(inner).to(t.device)
    unclean = set(unclean.tolist())
    counts = torch.zeros(bins, dtype=torch.int64, device=t.device)
    for index, piece in _sampled(work, t, limit, step):
        values = work.real_values(piece)
        if index in unclean:
            values = values[torch.isfinite(values)]
        counts += torch.bincount(torch.searchsorted(inner, values, right=True), minlength=bins)[:bins]
    return tuple(counts.tolist())


def _comparison_edges(edges: np.ndarray, work_dtype, device):
    """Each bin's lower and upper edge, for comparisons in the work dtype that decide as float64 ones would.

    The first lower and the last upper edge are NaN, which no comparison passes: the correction never
    moves a value out of the histogram, not even an Inf that another thread wrote since the first pass.
    For float32 values,
    ``v < e`` holds exactly when ``v < e'``, with e' the least float32 at or above e: comparing with e'
    needs no float64 copy of the values.
    """
    torch = _torch()
    lower = np.array([np.nan, *edges[1:-1]])
    upper = np.array([*edges[1:-1], np.nan])
    if work_dtype == torch.float32:
        lower, upper = _round_up_to_float32(lower), _round_up_to_float32(upper)
    return torch.from_numpy(lower).to(device), torch.from_numpy(upper).to(device)


def _round_up_to_float32(edges: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        rounded = edges.astype(np.float32)
        below = rounded.astype(np.float64) < edges
        rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
    return rounded


def tensor_stats(t, *, bins: int = 24, max_elements: int = 0) -> Stats | None:
    """Statistics of a strided numeric tensor; None where they do not apply (bool, raw bits, empty)."""
    torch = _torch()
    numeric = t.is_floating_point() or t.is_complex() or t.is_quantized or dtype_name(t.dtype) in _INTEGERS
    if t.numel() == 0 or not numeric:
        return None
    logical = t.numel()
    t, repeats = distinct_view(t)
    sampled_from = 0
    if max_elements and t.numel() > max_elements:
        sampled_from, t, repeats = logical, strided_sample(t, max_elements), 1
    limit = CHUNK_ELEMENTS.get(t.device.type, DEFAULT_CHUNK_ELEMENTS)
    with torch.no_grad():
        t = t.detach()
        work = _Workspace(t, limit)
        moments = _first_pass(t, work, limit)
        count = int(moments.counts.sum())
        low = high = mean = std = math.nan
        histogram = ()
        if count:
            finite_rows = moments.counts > 0
            low, high = float(moments.low[finite_rows].min()), float(moments.high[finite_rows].max())
            exact = _raw_mean_std(moments, count, work.dtype)
            mean, std = exact or _careful_mean_std(t, work, limit, moments, count)
            if low < high:
                histogram = _histogram(t, work, limit, bins, low, high, moments.unclean)
            else:  # one value: NumPy widens the range by 0.5 each side and counts it in the middle bin
                histogram = tuple(count if i == bins // 2 else 0 for i in range(bins))
            if moments.integer_extremes is not None:
                low, high = moments.integer_extremes
    return Stats(
        count=count * repeats,
        min=low,
        max=high,
        mean=mean,
        std=std,
        nan=moments.nan * repeats,
        posinf=moments.posinf * repeats,
        neginf=moments.neginf * repeats,
        histogram=tuple(n * repeats for n in histogram),  # a sample's counts are not scaled up
        of="|z|" if t.is_complex() else "",
        sampled_from=sampled_from,
        histogram_step=histogram_step(t) if count and low < high else 1,
    )

