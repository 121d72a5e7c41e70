"""The histogram of a tensor's finite values, with NumPy's bins and NumPy's counts of them as float64.

The edges are those ``np.histogram`` makes from the finite min and max (in float64: NumPy given a float32
array makes float32 edges, which round), and each value's bin is first computed from its position, then
corrected against the edges as NumPy corrects it (on the CPU, only where the position lies so near a
whole number that its rounding could have moved it across an edge): the counts are equal to NumPy's. Up to
``HISTOGRAM_EXACT_ELEMENTS`` every finite value is counted; above, a sample of every s-th element in memory
order, binned by its position computed in float64 (without the correction, which would cost three quarters
of the binning: only values within float64's rounding of an edge, a ten-millionth of a float32's spacing,
can land one bin off).
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

from .chunking import (
    Walk,
    Workspace,
    exponent,
    flat_or_one_dimensional,
    sampling_step,
    scale_,
    to_device,
    to_host,
    work_dtype,
)

# the histogram counts every element up to this many, and above, a sample of about the second figure's
# 4-byte values, or half as many 8-byte ones (the CPU keeps the sample whole: 4 MiB)
HISTOGRAM_EXACT_ELEMENTS = 1 << 22
HISTOGRAM_SAMPLE_ELEMENTS = 1 << 20


def _torch():
    return sys.modules["torch"]


def bin_edges(low: float, high: float, bins: int) -> np.ndarray:
    """The histogram's bin edges, as ``np.histogram(values, bins)`` makes them from the finite min and max.

    Where ``high - low`` overflows float64, the edges are made between the scaled ends and scaled
    back by the same power of two, which is exact.
    """
    low, high, step = _ends(low, high, bins)
    if step is not None:
        edges = _grid(bins) * step + low
        edges[-1] = high
        return edges
    with np.errstate(all="ignore"):
        edges = np.linspace(low, high, bins + 1)
        if np.isfinite(edges).all():
            return edges
        power = exponent(max(abs(low), abs(high)))
        return np.ldexp(np.linspace(math.ldexp(low, -power), math.ldexp(high, -power), bins + 1), power)


def inner_edges(low: float, high: float, bins: int) -> list[float]:
    """``bin_edges(low, high, bins)[1:-1]`` as Python's floats, made in Python's arithmetic where it is
    NumPy's: a few values' histogram, for which each NumPy call costs more than the list."""
    low, high, step = _ends(low, high, bins)
    if step is None:
        return bin_edges(low, high, bins)[1:-1].tolist()
    return [i * step + low for i in range(1, bins)]


def _ends(low: float, high: float, bins: int) -> tuple[float, float, float | None]:
    """The ends of the edges (integers rounded to float64 first, and an empty range widened by 0.5 on each
    side, as NumPy takes them), and the step between edges where they are np.linspace's arithmetic done
    without its cost of a few microseconds (``i * step + low``); None where linspace itself makes them."""
    low, high = float(low), float(high)
    if low == high:
        low, high = low - 0.5, high + 0.5
    step = (high - low) / bins
    return low, high, step if step and max(-low, high) < 1e300 else None


@functools.cache
def _grid(bins: int) -> np.ndarray:
    grid = np.arange(bins + 1, dtype=np.float64)
    grid.flags.writeable = False
    return grid


def with_extremes(counts: list[int], low: float, high: float, edge_low: float, edge_high: float) -> list[int]:
    """A sampled histogram's ``counts`` with the bins of the exact ``low`` and ``high`` marked non-empty
    where they are the edges' ends (a sample may miss the extremes; the statistics know them)."""
    counts[0] = max(counts[0], 1) if low == edge_low else counts[0]
    counts[-1] = max(counts[-1], 1) if high == edge_high else counts[-1]
    return counts


def middle_bin(count: int, bins: int) -> list[int]:
    """The histogram of ``count`` equal values: NumPy widens the range by 0.5 each side, so the middle bin.
    In exact arithmetic the value falls in bin ``bins // 2``; NumPy's rounded edges put about half of all
    values in the bin below."""
    return [count if i == bins // 2 else 0 for i in range(bins)]


def histogram_step(t) -> int:
    """1 where the histogram counts every element; above ``HISTOGRAM_EXACT_ELEMENTS``, the step of its sample."""
    return sample_step(tuple(t.shape), work_dtype(t.dtype).itemsize)


def sample_step(shape: tuple[int, ...], work_itemsize: int) -> int:
    """:func:`histogram_step` of an array of ``shape`` whose values are read ``work_itemsize`` bytes wide."""
    if math.prod(shape) <= HISTOGRAM_EXACT_ELEMENTS:
        return 1
    return sampling_step(shape, HISTOGRAM_SAMPLE_ELEMENTS * 4 // max(4, work_itemsize))


def histogram(walk: Walk, bins: int, low: float, high: float, step: int, unclean, by_bincount: bool = True,
              of_sample: bool = False) -> tuple[int, ...]:
    """Counts per bin of the finite values of the walk's tensor (or of every ``step``-th in memory order,
    see :func:`histogram_step`), binned exactly as ``np.histogram`` bins them where every value is counted.
    ``unclean``: the indices of the walk's chunks that hold NaN or Inf; ``of_sample``: the walk's tensor is
    already a sample.

    ``by_bincount``: count with ``torch.bincount`` (fastest on the CPU); else with ``index_add_``, since
    CUDA's bincount waits for the device twice to size its result.
    """
    torch = _torch()
    edges = bin_edges(low, high, bins)
    device, dtype = walk.t.device, walk.workspaces[0].dtype
    if (np.diff(edges) > 0).all():
        bin_of = _BinByPosition(edges, dtype, device)
    else:  # a range of a few ulps: bins share edges, and only a search among them is right
        bin_of = _BinBySearch(edges, dtype, device)
    masked = set(unclean.tolist())
    exact = step == 1 and not of_sample
    flat = flat_or_one_dimensional(walk.t) if step > 1 else None
    if flat is not None:  # one strided view: the sample is read in a few chunks, not a sliver of each
        walk, step = Walk(flat[step // 2 :: step], walk.limit, walk.workspaces), 1
        masked = set(range(len(walk))) if masked else masked
    offsets = walk.offsets if step > 1 else None

    def count(index, piece, work):
        if step > 1:  # this chunk's share of every step-th element, counted from step // 2
            piece = piece[(step // 2 - offsets[index]) % step :: step]
        values = work.real_values(piece)
        bin_index = bin_of(values, work, exact)
        if index in masked:  # non-finite values go to an extra bin, dropped at the end: no selection is made
            bin_index.masked_fill_(work.non_finite_mask(values), bins)
        if by_bincount:
            return torch.bincount(bin_index, minlength=bins + 1)
        counts = torch.zeros(bins + 1, dtype=torch.int64, device=device)
        return counts.index_add_(0, bin_index.int(), work.ones(bin_index.numel()))  # (the host's may be uint8)

    counts = torch.stack(walk.map(count)).sum(dim=0)
    return tuple(to_host(counts[:bins]).tolist())


class _BinByPosition:
    """Each value's bin from its position between the ends, corrected against the edges as NumPy does."""

    def __init__(self, edges: np.ndarray, dtype, device):
        torch = _torch()
        self.bins = len(edges) - 1
        self.lower, self.upper = _comparison_edges(edges, dtype, device)
        info = torch.finfo(dtype)
        with np.errstate(all="ignore"):
            span = np.float64(edges[-1]) - np.float64(edges[0])
            factor = self.bins / span
        # positions in the work dtype where the span and the factor fit it, else in float64, scaled
        self.direct = math.isfinite(span) and span < info.max and info.tiny * 2**20 < factor < info.max / 2**20
        self.power = 0 if self.direct else exponent(max(abs(edges[0]), abs(edges[-1])))
        self.start = math.ldexp(edges[0], -self.power)
        self.factor = factor if self.direct else self.bins / (math.ldexp(edges[-1], -self.power) - self.start)
        self.tolerance = _edge_tolerance(edges, self.start, self.factor, dtype) if self.direct else math.inf
        self.host_lower, self.host_upper = _comparison_arrays(edges, dtype)  # the host's correction's
        self._correcting_all = set()  # the workspaces whose last chunk the host corrected whole

    def __call__(self, values, work: Workspace, exact: bool = True):
        torch, n = _torch(), values.numel()
        if exact and self.tolerance < 0.25 and values.device.type == "cpu" and not values.is_neg():
            return self._on_host(values, work)
        if self.direct and exact:  # in the work dtype: the correction below puts right what it rounds
            positions = torch.sub(values, self.start, out=work.buffer("scratch", work.dtype, n))
        else:  # in float64, whose rounding is far finer than the values' own spacing
            wide = work.buffer("wide", torch.float64, n).copy_(values)
            positions = scale_(wide, -self.power).sub_(self.start)
        positions.mul_(self.factor).clamp_(0, self.bins - 1)
        # NaN (written by another thread) becomes an arbitrary integer: the second clamp bounds it
        bin_index = work.buffer("index", torch.int32, n).copy_(positions).clamp_(0, self.bins - 1)
        if not exact:  # a sample's counts are estimates: float64 positions bin it as NumPy would, but for
            return bin_index  # values within float64's rounding of an edge, whose correction costs 3/4 of it
        # NumPy's correction: the computed bin can be one off for values within an ulp of an edge
        edge = work.buffer("edge", self.lower.dtype, n)
        outside = work.buffer("mask", torch.bool, n)
        torch.lt(values, torch.index_select(self.lower, 0, bin_index, out=edge), out=outside)
        bin_index.sub_(outside.view(torch.uint8))
        torch.ge(values, torch.index_select(self.upper, 0, bin_index, out=edge), out=outside)
        return bin_index.add_(outside.view(torch.uint8))

    def _on_host(self, values, work: Workspace):
        """A CPU chunk's bins, by NumPy (whose comparisons run a dozen times as fast as torch's there): each
        value's position in the work dtype, and NumPy's correction for the values whose position lies within
        ``tolerance`` of an inner edge alone; any other sits in the bin its position gives."""
        torch, n = _torch(), values.numel()
        array = values.numpy()
        positions = work.buffer("scratch", work.dtype, n).numpy()
        whole = work.buffer("whole", work.dtype, n).numpy()
        # the narrowest integers the bins and the extra one fit: torch's bincount reads bytes a third faster
        # than int32, and NumPy's arithmetic between them and the masks' bytes is a third of int32's
        index_dtype = torch.uint8 if self.bins < 255 else torch.int16 if self.bins < 2**15 - 1 else torch.int32
        bin_index = work.buffer("index", index_dtype, n)
        index = bin_index.numpy()
        near, above = (work.buffer(name, torch.bool, n).numpy() for name in ("mask", "near"))
        kind = positions.dtype.type
        with np.errstate(all="ignore"):  # a signalling NaN, or a user's np.seterr(all="raise")
            np.subtract(array, kind(self.start), out=positions)
            np.multiply(positions, kind(self.factor), out=positions)
            # the outer halves of the end bins hold nothing to correct: the min, the max and the values by them
            # (a mask's 0 and 1, a ReLU's zeros) go there, as does NaN (written by another thread since the first pass)
            np.fmax(positions, 0.5, out=positions)
            np.fmin(positions, self.bins - 0.5, out=positions)
            np.trunc(positions, out=whole)  # (np.modf: ten times as long)
            np.copyto(index, whole, casting="unsafe")
            # once a thread's chunk held values on inner edges in numbers (integers on whole-number edges), it
            # corrects every value of its later chunks without looking for them: they likely do too
            correct_all = id(work) in self._correcting_all
            if not correct_all:
                fractions = np.subtract(positions, whole, out=positions)
                np.less(fractions, self.tolerance, out=near)
                np.logical_or(near, np.greater(fractions, 1 - self.tolerance, out=above), out=near)
                near_edges = np.count_nonzero(near)
                correct_all = near_edges > n // 4
            if correct_all:  # every value, by two lookups of its bin's edges
                self._correcting_all.add(id(work))
                edge = work.buffer("edge", work.dtype, n).numpy()
                np.less(array, np.take(self.host_lower, index, out=edge, mode="clip"), out=near)
                np.subtract(index, near.view(np.uint8), out=index, casting="unsafe")
                np.greater_equal(array, np.take(self.host_upper, index, out=edge, mode="clip"), out=near)
                np.add(index, near.view(np.uint8), out=index, casting="unsafe")
            elif near_edges:  # NumPy's correction of the few near an edge: the position's bin can be one off
                hits = np.flatnonzero(near)
                near_values, their_bins = array[hits], index[hits]
                their_bins -= near_values < self.host_lower[their_bins]
                their_bins += near_values >= self.host_upper[their_bins]
                index[hits] = their_bins
        return bin_index


def _edge_tolerance(edges: np.ndarray, start: float, factor: float, dtype) -> float:
    """How far from a whole number a position ``(value - start) * factor`` computed in ``dtype`` may lie, for
    a value on an edge: four times the bound of its error, in bins. Each of the subtraction, the product
    and the factor rounds by half a unit in the last place of the position (at most ``bins``); ``start``
    by as much of its magnitude where the dtype lacks it; each edge (made in float64) by float64's units
    of its magnitude and of the bins before it."""
    info, bins = _torch().finfo(dtype), len(edges) - 1
    unit = info.eps / 2
    bound = 3 * unit * bins
    if not (info.bits == 64 or info.bits == 32 and float(np.float32(start)) == start):
        bound += unit * abs(start) * factor
    bound += 2.0**-52 * (max(abs(edges[0]), abs(edges[-1])) * factor + bins)
    return 4 * bound


class _BinBySearch:
    """Each value's bin by binary search among the inner edges: slower, and right however close they are."""

    def __init__(self, edges: np.ndarray, dtype, device):
        torch = _torch()
        inner = edges[1:-1]
        if dtype == torch.float32:
            inner = _round_up_to_float32(inner)
        self.inner = to_device(inner, device)

    def __call__(self, values, work: Workspace, exact: bool = True):
        torch = _torch()
        out = work.buffer("index", torch.int32, values.numel())
        return torch.searchsorted(self.inner, values, right=True, out_int32=True, out=out)


def _comparison_edges(edges: np.ndarray, work_dtype, device):
    """Each bin's lower and upper edge, for comparisons in the work dtype that decide as float64 ones would.

    The first lower and the last upper edge are NaN, which no comparison passes: the correction never
    moves a value out of the histogram, not even an Inf that another thread wrote since the first pass.
    For float32 values,
    ``v < e`` holds exactly when ``v < e'``, with e' the least float32 at or above e: comparing with e'
    needs no float64 copy of the values.
    """
    lower, upper = _comparison_arrays(edges, work_dtype)
    return to_device(lower, device), to_device(upper, device)


def _comparison_arrays(edges: np.ndarray, work_dtype) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_comparison_edges` as NumPy arrays."""
    lower = np.array([np.nan, *edges[1:-1]])
    upper = np.array([*edges[1:-1], np.nan])
    if work_dtype == _torch().float32:
        return _round_up_to_float32(lower), _round_up_to_float32(upper)
    return lower, upper


def _round_up_to_float32(edges: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        rounded = edges.astype(np.float32)
        below = rounded.astype(np.float64) < edges
        rounded[below] = np.nextafter(rounded[below], np.float32(np.inf))
    return rounded
