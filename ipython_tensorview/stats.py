"""Statistics of a tensor, computed on its device in bounded chunks, exact across each dtype's range.

The first pass gathers, per chunk, min, max, the sum and the sum of squares; nothing is synchronised
with the device until it ends. On an accelerator, where each chunk costs kernel launches, it is one
whole-tensor reduction of each kind instead; a small CPU tensor is read from one float64 copy, by NumPy
(by Python's own floats where it holds a few dozen values).

The raw sums give the mean and the standard deviation directly for data centred near zero with an
ordinary magnitude, the common case. The host then checks what could have gone wrong, and only where
something did, visits the data again:

- chunks holding NaN or +-Inf are revisited to count them and to keep them out of the statistics;
- data far from zero relative to its spread (|mean| > 3 std), whose sums of squares would cancel,
  and data at the edges of the float range, whose squares overflow or underflow, take a second pass
  in float64, scaled by a power of two (exact) and shifted by an estimate of the mean.

The histogram's bins are NumPy's: the same edges as ``np.histogram`` over the finite values, and each
value's bin corrected against those edges as NumPy corrects it, so the counts are equal.

Dimensions of stride 0 (``expand()``) are never materialised: the statistics describe the distinct
elements, with the counts multiplied by how often each stands in the tensor. Above ``max_elements``
the statistics cover a sample of every s-th element in memory order and say so. Extra memory is a few
chunks' worth, whatever the tensor's size.
"""

from __future__ import annotations

import bisect
import functools
import math
import sys
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from .adapters.torch import read_by_rows
from .chunking import (
    Walk,
    Workspace,
    can_confine_threads,
    exponent,
    flat_or_one_dimensional,
    sample_in_memory_order,
    scale_,
    to_host,
    work_dtype,
)
from .histogram import histogram, histogram_step, inner_edges, middle_bin, with_extremes
from .nonfinite import AxisCounts, KeptPositions, bytes_per_element, counted_dims, locate
from .tensor_kinds import distinct_view, dtype_name

# elements per chunk: about 1 MiB temporaries on the CPU (cache-sized); 2 MiB on an accelerator, where
# chunks serve only the histogram's sample and the rarer passes, and the few buffers stay near 12 MiB
CHUNK_ELEMENTS = {"cpu": 1 << 18}
DEFAULT_CHUNK_ELEMENTS = 1 << 19
# the CPU reads its chunks on up to this many threads (see chunking.parallel_map)
CPU_WORKERS = 4
# how each device reads a tensor (see tensor_stats); devices not named here take "whole"
PLANS = {"cpu": "chunks"}
# an accelerator reads again the chunks it must (those holding NaN or Inf, all where the sums cannot be
# trusted) as many at once as temporaries of this many bytes hold: few kernels, bounded memory
REVISIT_BYTES = 1 << 24
# float16 and bfloat16 on an accelerator are summed in float32 over rows of this many (see _half_precision_sums
# and _row_sums), each row's sums added in float64; so are the squares of CPU chunks of coarse values (see
# _sums_of_squares)
HALF_ROW = 1 << 12
# this many of a tensor's values tell whether they lie on a coarse grid (see _on_coarse_grid)
GRID_HEAD = 16
# the histogram's sample is binned in pieces of this many: its float64 positions need a buffer of that size
SAMPLE_PIECE = 1 << 16
# up to this many elements on the CPU, NumPy computes the statistics from one float64 copy
SMALL_ELEMENTS = 4096
# ... and up to this many, Python's own floats, in a list (see _few_values_stats)
FEW_ELEMENTS = 32
_INTEGERS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
# sums of squares in the work dtype lose the spread when the mean is this many times the std or more
_CANCELLING_MEAN_TO_STD = 3.0
# Welford's variance (var_mean) is trusted while |mean| * eps <= std * this. The running mean's rounding
# moves the std by about (c * eps * |mean| / std)**2 / 2 over many values: over 2**30 float32 values on an
# H200, c is about 3: 1.2e-8 at |mean| = 1000 std, 3.2e-6 at 10**4 std, 1.8e-4 at 10**5 std; at float32's
# limit, below 1e-7. Over a few values, each rounding stays: torch's CPU kernel in float64 moves the std by
# up to 16 * eps * |mean| / std (two values, 1e10 apart from zero by 9: 5e-8), so float64's limit, 2**14
# std, keeps that below 1e-10.
_WELFORD_MEAN_TO_STD = {"float32": 2.0**-13, "float64": 2.0**-38}
# ... and, over fewer values, while |mean| * eps <= std * sqrt(count) * this: fewer roundings average out.
# Emulated in float32 as CUDA reduces (Welford's update per thread, Chan's combination up a tree; torch's
# CPU kernel accumulates float32 in float64), the std moves by about eps * |mean| / std / sqrt(count)
# (benchmarks/welford_float32.py: at 1000 std, 6e-5 over 4 values, 1.1e-5 over 64, 9e-7 over 8192); float32
# data 1000 std from zero is trusted from 2**22 values, and takes the careful pass below (a few kernels there)
_WELFORD_PER_ROOT_COUNT = 2.0**-24


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
    first_non_finite: tuple[int, ...] | None = None  # the index of the first NaN or Inf, in index order
    non_finite_by_dim: tuple[AxisCounts, ...] = ()  # 2-D and 3-D: which indices of each dimension hold them
    # where the first pass could tell: ranges of indices in C order outside which there is no NaN or Inf
    non_finite_within: tuple[tuple[int, int], ...] | None = field(default=None, compare=False, repr=False)

    def non_finite(self) -> list[tuple[str, int]]:
        """("nan", n), ("+inf", n), ("-inf", n) for the counts that are not zero."""
        return [(label, n) for label, n in (("nan", self.nan), ("+inf", self.posinf), ("-inf", self.neginf)) if n]


def _torch():
    return sys.modules["torch"]


@functools.cache
def _small_dtypes() -> tuple[frozenset, frozenset]:
    """The dtypes NumPy reads as they are, and those the small path reads at all (through float64)."""
    torch = _torch()
    numpy_reads = {torch.float32, torch.float64, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
                   torch.uint16, torch.uint32, torch.uint64}
    through_float64 = {torch.float16, torch.bfloat16, torch.complex32, torch.complex64, torch.complex128}
    through_float64 |= {getattr(torch, name) for name in dir(torch) if name.startswith("float8_")}
    return frozenset(numpy_reads), frozenset(numpy_reads | through_float64)


@functools.cache
def _real_float_dtypes() -> frozenset:
    """The dtypes of the whole-tensor reductions: float16, bfloat16, float32 and float64."""
    torch = _torch()
    return frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})


def _is_integer(t) -> bool:
    return not (t.is_floating_point() or t.is_complex() or read_by_rows(t))


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
    variance: float | None = None  # of the whole tensor, from Welford's update: no cancellation to fear


def _host_pass(t, walk: Walk, step: int, positions: KeptPositions | None):
    """The CPU's first pass, one read of each chunk while it sits in cache: min and max (NumPy's, the
    fastest), the sum and the sum of squares; where the chunk holds NaN or Inf, those of its finite values
    and the counts, at once, and their ``positions`` where wanted; and where ``step`` > 1, every
    ``step``-th value in memory order, the histogram's sample. Returns the moments and the sample (None
    where ``step`` is 1).

    Each chunk is read by NumPy through arrays of the tensor's memory made before the threads start, and
    converted by torch where its dtype is not the work dtype. A torch op, and an array made of a tensor by
    ``numpy()`` when it is let go, each take the GIL again from inside (for the tensor's Python object) and
    wait on the other thread's Python: one float32 chunk's ``sum().item()``, ``dot().item()`` and two
    ``numpy()`` took the pass of 1e8 values from 53 to 70 ms on 2 threads."""
    torch = _torch()
    integers = _is_integer(t)
    sum_of_squares = _sums_of_squares(t)
    sample = sampled = None
    offsets = walk.offsets if step > 1 or positions is not None else None
    if step > 1:
        sample = torch.empty(len(range(step // 2, t.numel(), step)), dtype=walk.workspaces[0].dtype, device="cpu")
        sampled = sample.numpy()
    arrays = walk.arrays()
    # the threads whose last chunk held NaN or Inf: their next one likely does too, and is read for them at once
    unclean_last = set()

    def read(index, piece, work):
        n = piece.numel()
        as_is = arrays[index] if arrays is not None else None
        if integers:  # min and max of the integers themselves: exact, where float64 rounds int64's
            exact = as_is if as_is is not None else piece.numpy()
            low, high = int(np.minimum.reduce(exact)), int(np.maximum.reduce(exact))  # the first read: into cache
            extremes = low, high
            if piece.dtype == torch.int64 and n * max(-low, high) ** 2 < 2**63:
                # sums that cannot overflow int64 are taken in it, exactly: converting int64 to float64
                # costs more than both sums (one element at a time, where other conversions are vectorised);
                # einsum's integer product loop takes two thirds of the time of dot's
                array = exact
                squares = np.einsum("i,i->", exact, exact)
                row = (n, float(low), float(high), float(np.add.reduce(exact)), float(squares), 0, 0, 0)
            else:
                array = work.real_array(piece)
                row = (n, float(low), float(high), float(np.add.reduce(array)), _squares(array), 0, 0, 0)
        else:
            array, extremes = as_is if as_is is not None and piece.dtype == work.dtype else work.real_array(piece), None
            row = None if id(work) in unclean_last else _host_clean_row(array, work, sum_of_squares)
            if row is None:
                keep = functools.partial(positions.keep, offsets[index]) if (
                    positions is not None and positions.wanted) else None
                row = _host_finite_row(array, work, sum_of_squares, keep)
                unclean_last.add(id(work))
            else:
                unclean_last.discard(id(work))
        if sampled is not None:  # a strided read, from cache
            _take_sample(array, offsets[index], step, sampled)
        return row, extremes

    rows = walk.map(read)  # (in NumPy's error state of the pass's threads: sums past the range are Inf)
    table = np.array([row for row, _ in rows], dtype=np.float64)
    counts, low, high, total, squares, nan, posinf, neginf = table.T.copy()
    moments = _Moments(counts, low, high, total, squares, np.flatnonzero(nan + posinf + neginf > 0))
    moments.nan, moments.posinf, moments.neginf = int(nan.sum()), int(posinf.sum()), int(neginf.sum())
    if integers:
        moments.integer_extremes = min(low for _, (low, _) in rows), max(high for _, (_, high) in rows)
    return moments, sample


def _host_clean_row(array: np.ndarray, work: Workspace, sum_of_squares) -> tuple | None:
    """A CPU chunk's row where it holds no NaN or Inf, else None (``array``: the chunk's real values).
    NumPy's fmin and fmax are its fastest min and max; they skip NaN (and misread signalling NaNs), so a
    NaN is told by the sum, which it makes NaN."""
    low, high = np.fmin.reduce(array), np.fmax.reduce(array)
    total = float(np.add.reduce(array))
    if math.isnan(total) or not (math.isfinite(low) and math.isfinite(high)):
        return None
    squares = sum_of_squares(array, array.size, total, work)
    if math.isnan(squares):  # NaN another thread wrote after the sum: the chunk is read again, from one copy
        return None
    return array.size, low, high, total, squares, 0, 0, 0


def _sums_of_squares(t):
    """How a CPU pass over ``t`` takes each chunk's sum of squares: ``f(array, count, total, work)``, of the
    chunk's work values (NaN and Inf set to zero), how many of them are finite, their sum and the workspace
    reading them.

    One float32 dot over a chunk of 2**18 values rounds each addition at its accumulators' magnitude, and
    the squares of values on a coarse grid round alike, all the same way: the std of float32 pixels 0 to
    255 was 4.5e-5 off, of the same less 127.5 1.9e-5, of bfloat16 data 2.9 std from zero 4.5e-5. Such
    chunks take their squares by rows (:func:`_squares_by_rows`: 1e-8, 1e-11 and 7e-8 off):

    - every chunk of a float32, float16, bfloat16 or float8 tensor whose values look like a grid's
      (:func:`_on_coarse_grid`);
    - a chunk of other float16, bfloat16 or float8 values (each on a grid of its own magnitude), where its
      mean passes its spread: most of the sum of squares is then what the variance subtracts, which
      multiplies its error (2e-6 where the mean is within the spread; see :class:`_SquaresWhereTheMeanPasses`).

    Rows cost more than one dot: the statistics of 1e8 float32 pixels take about a quarter longer (54 to
    66 ms, best of 15). So float32 data off the grid keeps the dot (1e-7 off 2 std from zero), and the grid
    is judged once per tensor: a check per chunk cost data off it about a tenth more (the pass's two threads
    wait on each other's Python). float64 chunks keep the dot: their sums round a billionth as much.
    """
    torch = _torch()
    coarse = t.is_floating_point() and t.element_size() < 4
    if coarse or t.dtype == torch.float32:
        if _on_coarse_grid(t):
            return lambda array, count, total, work: _squares_by_rows(array)
        if coarse:
            return _SquaresWhereTheMeanPasses()
    return lambda array, count, total, work: _squares(array)


def _squares(array: np.ndarray) -> float:
    """The sum of squares of a flat chunk's values: one dot of float32 values, float64 ones by rows.

    NumPy's BLAS (OpenBLAS) splits a float64 dot of a chunk's length over a pool of threads of its own,
    which the pass's threads each started beside one another: a pass over 1e8 float64 values took 150 to
    290 ms (int32 and complex64, read as float64, alike), against 70 to 76 by rows, each too short a dot to
    split, and 72 to 77 by torch's dot. Its float32 dot it does not split. (Setting BLAS to one thread
    meanwhile, through threadpoolctl, was faster still, 55 to 60, but that count is the process's: another
    thread's own limits could take the pass's for the user's, and keep it.)"""
    if array.dtype == np.float64:
        return _squares_by_rows(array)
    return float(np.dot(array, array))


def _squares_by_rows(array: np.ndarray) -> float:
    """The sum of squares of a flat chunk: each row of ``HALF_ROW`` dotted with itself (NumPy's loop over
    BLAS dots), the rows' sums added in float64."""
    whole = array.size - array.size % HALF_ROW
    rows, rest = array[:whole].reshape(-1, HALF_ROW), array[whole:]
    with np.errstate(all="ignore"):  # squares past float32's range are inf and tiny ones 0, as a dot's are
        by_rows = float(np.add.reduce(_row_dots(rows), axis=None, dtype=np.float64))
    return by_rows + float(np.dot(rest, rest))


def _row_dots(rows: np.ndarray) -> np.ndarray:
    """Each row dotted with itself. NumPy 2's ``vecdot`` loops over them with the GIL let go once, where
    ``matmul`` over a stack of rows takes it back between rows and waits on the pass's other thread (1e8
    float64 values: 73 against 89 ms)."""
    if hasattr(np, "vecdot"):
        return np.vecdot(rows, rows)
    return np.matmul(rows[:, None, :], rows[:, :, None])


def _on_coarse_grid(t) -> bool:
    """Whether a tensor's values look like points of a coarse grid: ``GRID_HEAD`` of them, spread over it
    (where it is contiguous, else along its first row), lie on a grid of at most 2**12 steps up to the power
    of two above their largest magnitude (whole numbers below 4096, halves below 2048...), or of fewer where
    the dtype holds fewer bits (2**8 for bfloat16: whole numbers below 256), so that its own values with
    most of their bits set stay off it. One dot's error falls as the grid grows finer: 1.4e-5 for float32
    whole numbers below 256, 1.3e-6 below 4096, 1.5e-7 below 32768. One of the 16 may be off the grid.
    Normal data lies on it by a chance below 1e-3 (float16: 1 in 5,000 draws, bfloat16 and float8 none)."""
    row = t.view(-1) if t.is_contiguous() else t  # (an (N, 1) column's first row is one value)
    while row.dim() > 1:
        row = row[0]
    values = row[:: max(1, row.numel() // GRID_HEAD)][:GRID_HEAD].tolist()
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return False
    steps = min(12, 2 - math.frexp(_torch().finfo(t.dtype).eps)[1])  # the dtype's significant bits, at most 12
    scale = math.ldexp(1.0, steps - math.frexp(max(map(abs, finite)))[1])  # a power of two: exact products
    off = sum(not (value * scale).is_integer() for value in finite)
    return off <= len(finite) // GRID_HEAD  # one of the 16 may be off it: a stray value, or a header


class _SquaresWhereTheMeanPasses:
    """The sums of squares of a pass's chunks of float16, bfloat16 or float8 values, read as float32: by
    rows where the chunk's mean passes its spread, else one dot. A thread whose last chunk's mean passed
    its spread takes the rows first, without the dot: its next one likely does too."""

    def __init__(self):
        self._mean_passed = set()  # the workspaces whose last chunk's mean passed its spread

    def __call__(self, array: np.ndarray, count: int, total: float, work: Workspace) -> float:
        by_rows = id(work) in self._mean_passed
        squares = _squares_by_rows(array) if by_rows else _squares(array)
        passes = total * total * 2 > squares * count  # mean**2 over half the mean square
        if passes and not by_rows:
            squares = _squares_by_rows(array)
        (self._mean_passed.add if passes else self._mean_passed.discard)(id(work))
        return squares


def _take_sample(values: np.ndarray, offset: int, step: int, sample: np.ndarray) -> None:
    """Copy a chunk's share of every ``step``-th value in memory order (from ``step // 2``) into ``sample``.
    The chunk starts ``offset`` elements in."""
    phase = (step // 2 - offset) % step
    taken = values[phase::step]  # NumPy copies a strided slice at a third of torch's cost
    first = (offset + phase - step // 2) // step
    sample[first : first + taken.size] = taken


def _host_finite_row(array: np.ndarray, work: Workspace, sum_of_squares, keep=None) -> tuple:
    """A CPU chunk holding NaN or Inf (``array``: its real values): its finite count, min, max, sum and sum of
    squares of the finite values, and its NaN, +Inf and -Inf counts. ``keep(positions)``, where given, is
    handed the positions of the values that are not finite.

    Everything is read from one copy of the chunk, so that a value another thread writes meanwhile is
    counted once, one way. NaN alone, the common case, costs that copy: NaN set to zero there, where min
    and max can be read (no NaN left to trip NumPy's fmin and fmax, which misread signalling NaNs) and the
    sums taken; where positions are kept, the NaN's are found as positions first, and zeros put there. Zero
    lies between the finite values' min and max where they straddle it; where it may not, the side it may
    have taken is read again with NaN set to the infinity that side ignores.
    """
    torch = _torch()
    n = array.size
    nan_mask = work.array("mask", torch.bool, n)
    cleaned = work.array("clean", work.dtype, n)
    np.copyto(cleaned, array)
    np.isnan(cleaned, out=nan_mask)
    if keep:  # (one NumPy call: several small ones cost more, each a wait for the GIL beside the other threads)
        nan_at = np.flatnonzero(nan_mask)
        nan = nan_at.size
        cleaned[nan_at] = 0
    else:
        nan = np.count_nonzero(nan_mask)
        np.copyto(cleaned, 0, where=nan_mask)
    low, high = np.fmin.reduce(cleaned), np.fmax.reduce(cleaned)
    if math.isfinite(low) and math.isfinite(high):  # no Inf: every value that is not finite is NaN
        if keep:
            keep(nan_at)
        if 0 < nan < n and 0 in (low, high):  # the zeros put for NaN may be the min or the max
            marked = work.array("marked", work.dtype, n)
            np.copyto(marked, cleaned)
            if low == 0:
                np.copyto(marked, math.inf, where=nan_mask)
                low = np.fmin.reduce(marked)
            if high == 0:
                np.copyto(marked, -math.inf, where=nan_mask)
                high = np.fmax.reduce(marked)
        total = float(np.add.reduce(cleaned))
        return n - nan, low, high, total, sum_of_squares(cleaned, n - nan, total, work), nan, 0, 0
    finite = work.array("finite", torch.bool, n)
    posinf = np.count_nonzero(np.equal(cleaned, np.inf, out=finite))
    np.isfinite(cleaned, out=finite)
    np.logical_xor(finite, nan_mask, out=finite)  # the zeros put for NaN are not finite values
    not_finite = np.logical_not(finite, out=nan_mask)  # (NaN's count taken, its mask is free)
    if keep:
        keep(np.flatnonzero(not_finite))
    count = np.count_nonzero(finite)
    low, high = np.min(cleaned, where=finite, initial=np.inf), np.max(cleaned, where=finite, initial=-np.inf)
    np.copyto(cleaned, 0, where=not_finite)
    total = float(np.add.reduce(cleaned))
    squares = sum_of_squares(cleaned, count, total, work)
    return count, low, high, total, squares, nan, posinf, n - count - nan - posinf


def _first_pass(t, walk: Walk) -> _Moments:
    """An accelerator's first pass over dtypes its whole-tensor reductions lack: per chunk, min, max, the
    sum and the sum of squares, fetched in one wait; chunks holding NaN or Inf are revisited."""
    torch = _torch()
    integers = _is_integer(t)

    def read(index, piece, work):
        values = work.real_values(piece)
        sums = values.sum(), torch.dot(values, values)
        if integers:  # min and max of the integers themselves: exact, where float64 rounds int64's
            low, high = torch.aminmax(work.integer_keys(piece))
            return torch.stack((low, high)).to(torch.int64), torch.stack(sums)
        return None, torch.stack((*torch.aminmax(values), *sums))

    rows = walk.map(read)
    table = to_host(torch.stack([row for _, row in rows]).to(torch.float64))  # the pass's one synchronisation
    sizes = np.diff(np.array([*walk.offsets, walk.t.numel()], dtype=np.float64))
    if integers:
        keys = to_host(torch.stack([keys for keys, _ in rows]))
        shift = 2**63 if t.dtype == torch.uint64 else 0  # uint64 keys are value - 2**63
        exact = keys.view(np.uint64) ^ np.uint64(shift) if shift else keys  # the values themselves
        low, high = exact[:, 0].astype(np.float64), exact[:, 1].astype(np.float64)
        total, squares = table.T.copy()
    else:
        low, high, total, squares = table.T.copy()
    unclean = np.flatnonzero(~(np.isfinite(low) & np.isfinite(high)))
    moments = _Moments(sizes, low, high, total, squares, unclean)
    if integers:
        moments.integer_extremes = (int(keys[:, 0].min()) + shift, int(keys[:, 1].max()) + shift)
    if unclean.size:
        indices, table = _finite_moments(walk, unclean.tolist())
        _take_finite_moments(moments, indices, table)
    return moments


def _whole_tensor_pass(t, walk: Walk) -> _Moments:
    """The first pass as one reduction of each kind over the whole tensor: a few kernels and one wait.

    On an accelerator each chunk costs kernel launches, so each statistic is one reduction over the whole
    tensor, whatever its strides, and none allocates a copy of it (a reduction asked for a wider dtype than
    its input's converts the whole input first, except half precision to float32): float32 and float64 take
    their mean and variance from Welford's update (``var_mean``), which does not cancel; float16 and
    bfloat16 their sum and sum of squares in float32. Only where min or max show NaN or Inf are the chunks
    visited, to count them and keep them out; only data very far from zero relative to its spread
    (beyond 1024 std in float32, less over fewer values, 2**14 std in float64) takes the careful pass,
    several chunks at once.
    """
    torch = _torch()
    chunked = _as_rows(t, walk.limit)  # the walk's chunks, as rows
    parts = [t] if chunked is None else chunked
    extremes = [_extremes(part) for part in parts if part.numel()]
    lows = torch.cat([low.reshape(-1).double() for low, _ in extremes])
    highs = torch.cat([high.reshape(-1).double() for _, high in extremes])
    welford = t.dtype in (torch.float32, torch.float64)
    if welford:
        variance, mean = torch.var_mean(t, correction=0)
        sums = (mean, variance)
    else:
        sums = _half_precision_sums(t)
    row = to_host(torch.cat([lows, highs, torch.stack([x.double() for x in sums])]))
    lows, highs, (first, second) = row[: len(lows)], row[len(lows) : -2], row[-2:].tolist()  # (inf, not a warning)
    unclean = np.flatnonzero(~(np.isfinite(lows) & np.isfinite(highs)))
    if unclean.size:
        return _chunks_beside_non_finite(walk, chunked, lows, highs, unclean)
    count = t.numel()
    low, high = float(lows.min()), float(highs.max())
    if welford:  # the sums the checks of the raw sums read: where the variance overflowed, infinite
        total, squares = first * count, (second + first * first) * count
    else:
        total, squares = first, second
    moments = _Moments(*(np.array([x]) for x in (count, low, high, total, squares)), np.array([], int))
    moments.variance = second if welford else None
    return moments


def _extremes(t):
    """Min and max of ``t`` (of each row of a 2-D chunk view), on the device, without copying ``t``: CUDA's
    aminmax copies an input that is not contiguous, such as the strided sample of a huge tensor."""
    dims = {"dim": 1} if t.dim() == 2 else {}
    if t.is_contiguous():
        return _torch().aminmax(t, **dims)
    return t.amin(**dims), t.amax(**dims)


def _as_rows(t, length: int) -> list | None:
    """``t``'s elements as rows of ``length`` (a 2-D view) and the shorter rest (a 1-D view), in memory order:
    from a flat view in memory order, or from a 1-D tensor whatever its stride; None where neither exists (a
    slice with gaps along several dimensions). Rows of ``walk.limit`` are a walk's chunks (see
    chunking.chunk_views)."""
    flat = flat_or_one_dimensional(t)
    if flat is None:
        return None
    whole = flat.numel() // length * length
    return [flat[:whole].unflatten(0, (-1, length)), flat[whole:]]


def _row_sums(parts: list) -> tuple:
    """The sum and the 2-norm of each row of :func:`_as_rows`' views (the rest as one row), as float64
    tensors on the device: one reduction of each per view, float16 and bfloat16 reduced in float32 (a
    mixed-precision reduction: no float32 copy). Rows longer than ``HALF_ROW`` are reduced in pieces of
    it, added in float64: the CPU's float32 norm accumulates one element after another, and over a row of
    2**19 bfloat16 values near 2.5 it is off by 5e-5 (by 6e-7 over 2**12)."""
    torch = _torch()
    wide = {"dtype": torch.float32} if parts[0].dtype in (torch.float16, torch.bfloat16) else {}
    totals, norms = [], []
    for part in parts:
        if not part.numel():
            continue
        rows = part if part.dim() == 2 else part.unsqueeze(0)
        length = rows.shape[1]
        pieces = rows.unflatten(1, (-1, HALF_ROW)) if length > HALF_ROW and length % HALF_ROW == 0 else (
            rows.unsqueeze(1))
        totals.append(pieces.sum(dim=-1, **wide).double().sum(dim=1))
        norms.append(torch.linalg.vector_norm(pieces, dim=-1, **wide).double().square().sum(dim=1).sqrt())
    return torch.cat(totals), torch.cat(norms)


def _chunks_beside_non_finite(walk: Walk, chunked, lows, highs, unclean) -> _Moments:
    """The first pass's moments where min or max showed NaN or Inf. Where the chunks are rows of one view
    (``chunked``), only those holding them are read chunk by chunk, to count them and keep them out; the
    others' sums and sums of squares are one reduction of each over all rows. Otherwise every chunk is."""
    torch = _torch()
    if chunked is None:
        indices, table = _finite_moments(walk, None)  # every chunk, each a row
        moments = _Moments(*table[:, :5].T.copy(), unclean=indices)
        moments.nan, moments.posinf, moments.neginf = _non_finite_totals(table)
        return moments
    totals, norms = _row_sums(chunked)
    indices = unclean.tolist()
    work = walk.workspaces[0]
    # float16 and bfloat16 are read in float32, as chunk by chunk; then the values made finite
    per_element = (work.dtype.itemsize if work.dtype != chunked[0].dtype else 0) + work.dtype.itemsize
    groups = _row_groups(chunked, indices, per_element)
    finite = _finite_table([_finite_columns(work.real_values(values), work) for _, values in groups])
    table = to_host(torch.cat([totals, norms, finite.flatten()]))  # the pass's second wait
    chunks = len(lows)
    sizes = np.diff(np.array([*walk.offsets, walk.t.numel()], dtype=np.float64))
    with np.errstate(over="ignore"):  # a norm beyond 1e154: an infinite sum of squares, which the checks read
        squares = table[chunks : 2 * chunks] ** 2
    moments = _Moments(sizes, lows.copy(), highs.copy(), table[:chunks].copy(), squares, unclean)
    rows = _finite_rows(sizes[indices], table[2 * chunks :].reshape(len(indices), -1))
    _take_finite_moments(moments, np.array(indices), rows)
    return moments


def _half_precision_sums(t):
    """The sum and the sum of squares of float16 or bfloat16 values, as float64 tensors on their device.

    Each is a float32 reduction over rows of ``HALF_ROW`` elements (see :func:`_as_rows`), the rows' results
    added in float64: a float32 sum over billions of elements in one reduction would be off by parts in ten
    thousand.
    """
    totals, norms = _row_sums(_as_rows(t, HALF_ROW))
    return totals.sum(), _torch().dot(norms, norms)


def _take_finite_moments(moments: _Moments, indices, table) -> None:
    moments.counts[indices], moments.low[indices], moments.high[indices] = table[:, 0], table[:, 1], table[:, 2]
    moments.total[indices], moments.squares[indices] = table[:, 3], table[:, 4]
    moments.nan, moments.posinf, moments.neginf = _non_finite_totals(table)


def _non_finite_totals(table) -> tuple[int, int, int]:
    """The NaN, +Inf and -Inf counts of :func:`_finite_moments`' rows, added up."""
    nan, posinf, neginf = table[:, 5:8].sum(axis=0)
    return int(nan), int(posinf), int(neginf)


def _finite_columns(values, work: Workspace) -> list:
    """Per row of ``values`` (2-D, float32 or float64; rows of fewer than 2**24 elements), on the device: min
    and max of its finite values, their sum and sum of squares, and its NaN, +Inf and -Inf counts, as seven
    tensors of one value per row. One of ``work``'s buffers holds each step: no allocation per call, and
    chunks full of NaN cost none."""
    torch = _torch()
    clean = work.buffer("clean", values.dtype, values.numel()).view(values.shape)
    total = torch.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0, out=clean).sum(dim=1)
    squares = torch.mul(clean, clean, out=clean).sum(dim=1)
    # the buffer again, for the extremes: each value that is not finite put where the reduction ignores it
    low = torch.nan_to_num(values, nan=math.inf, posinf=math.inf, neginf=math.inf, out=clean).amin(dim=1)
    high = torch.nan_to_num(values, nan=-math.inf, posinf=-math.inf, neginf=-math.inf, out=clean).amax(dim=1)
    # and for the counts, as sums of 0.0 and 1.0 (exact): a bool mask's sum first copies it into int64
    nan = torch.ne(values, values, out=clean).sum(dim=1)
    posinf = torch.eq(values, math.inf, out=clean).sum(dim=1)
    neginf = torch.eq(values, -math.inf, out=clean).sum(dim=1)
    return [low, high, total, squares, nan, posinf, neginf]


def _finite_table(columns: list[list]):
    """:func:`_finite_columns`' results, of one or more calls, as one float64 table on the device, a row each."""
    torch = _torch()
    return torch.stack([torch.cat(column).double() for column in zip(*columns)], dim=1)


def _row_groups(chunked: list, indices: list[int], bytes_per_element: int):
    """The rows at ``indices`` (sorted) of :func:`_as_rows`' views, the rest being the index after the last
    row, as 2-D views of consecutive rows: as many at once as temporaries of ``bytes_per_element`` per
    element hold in ``REVISIT_BYTES``, one at least. Yields (indices, view)."""
    rows, rest = chunked
    per_group = max(1, REVISIT_BYTES // bytes_per_element // rows.shape[1])
    group = []
    for index in indices:
        if group and (index != group[-1] + 1 or len(group) == per_group or index == len(rows)):
            yield group, rows[group[0] : group[-1] + 1]
            group = []
        if index == len(rows):  # the rest, shorter than a row
            yield [index], rest.unsqueeze(0)
        else:
            group.append(index)
    if group:
        yield group, rows[group[0] : group[-1] + 1]


def _finite_rows(sizes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """:func:`_finite_table`, fetched, for chunks of ``sizes`` elements: per chunk the finite count, min,
    max, sum, sum of squares, and the NaN, +Inf and -Inf counts."""
    low, high, total, squares, nan, posinf, neginf = table.T
    return np.stack([sizes - nan - posinf - neginf, low, high, total, squares, nan, posinf, neginf], 1)


def _finite_moments(walk: Walk, wanted: list[int] | None):
    """Chunk by chunk (the ``wanted`` ones, or all), the chunks' indices and :func:`_finite_rows`, in one wait."""
    indices = list(range(len(walk))) if wanted is None else wanted
    columns = walk.map(lambda index, piece, work: _finite_columns(work.real_values(piece).unsqueeze(0), work),
                       indices)
    sizes = np.array([walk.view(i).numel() for i in indices], dtype=np.float64)
    return np.array(indices), _finite_rows(sizes, to_host(_finite_table(columns)))


def merged_moments(parts: list[tuple[int, float, float]]) -> tuple[float, float]:
    """The mean and std of the union of parts given as (count, mean, std), merged in float64 over values
    scaled by a power of two (exact), so that no square overflows or underflows."""
    power = exponent(max(max(abs(mean), std) for _, mean, std in parts))
    scaled = [(n, math.ldexp(mean, -power), math.ldexp(std, -power)) for n, mean, std in parts]
    count = sum(n for n, _, _ in scaled)
    mean = math.fsum(n * m for n, m, _ in scaled) / count
    variance = math.fsum(n * (s * s + (m - mean) ** 2) for n, m, s in scaled) / count
    return math.ldexp(mean, power), math.ldexp(math.sqrt(max(variance, 0.0)), power)


def _raw_mean_std(moments: _Moments, count: int, work_dtype) -> tuple[float, float] | None:
    """Mean and std from the raw sums, or None where they cannot be trusted."""
    torch = _torch()
    info = torch.finfo(work_dtype)
    magnitude = max(abs(moments.low[moments.counts > 0]).max(), abs(moments.high[moments.counts > 0]).max())
    if magnitude and magnitude < math.sqrt(info.tiny) * 2**20:
        return None  # squares near the dtype's smallest normals lose their digits
    if moments.integer_extremes is not None and magnitude >= 2**53:
        return None  # integers beyond 2**53 were rounded on their way to float64
    with np.errstate(all="ignore"):
        total, squares = float(moments.total.sum()), float(moments.squares.sum())
    mean = total / count
    if not (math.isfinite(mean) and math.isfinite(squares)):
        return None  # a sum overflowed the work dtype
    limit = min(_WELFORD_MEAN_TO_STD[dtype_name(work_dtype)], math.sqrt(count) * _WELFORD_PER_ROOT_COUNT)
    trusted = moments.variance is not None and abs(mean) * info.eps <= math.sqrt(moments.variance) * limit
    if trusted:
        return float(mean), math.sqrt(moments.variance)
    variance = squares / count - mean * mean
    if variance <= 0 or mean * mean >= _CANCELLING_MEAN_TO_STD**2 * variance:
        return None  # the spread is lost in the sums of squares, or may be
    return float(mean), math.sqrt(variance)


def _integer_mean_std(t, walk: Walk, moments: _Moments, count: int) -> tuple[float, float]:
    """Mean and std of integers of any magnitude: the mean from an exact sum, the std from differences.

    The sum is exact: each int64 is split into its high and low 32 bits, whose sums over a chunk fit
    int64, and the chunks' sums add up in Python integers. The differences to an integer near the mean
    are taken in int64 where the range allows (below 2**62) and then held exactly by float64 up to
    2**53, so the spread of values like 2**62 + k survives.
    """
    torch = _torch()
    key_shift = 2**63 if t.dtype == torch.uint64 else 0  # uint64 keys are value - 2**63
    low, high = moments.integer_extremes

    def split_sums(index, piece, work):
        keys = work.integer_keys(piece, wide=True)
        halves = work.buffer("halves", torch.int64, piece.numel())  # no chunk-sized temporaries
        upper = torch.bitwise_right_shift(keys, 32, out=halves).sum()  # arithmetic: floor(keys / 2**32)
        return torch.stack((upper, torch.bitwise_and(keys, 2**32 - 1, out=halves).sum()))

    upper_sum, lower_sum = (int(x) for x in to_host(torch.stack(walk.map(split_sums)).sum(dim=0)))
    mean = Fraction(upper_sum * 2**32 + lower_sum, count) + key_shift
    pivot = min(max(round(mean), low), high)
    exact_differences = high - low < 2**62

    def offset_sums(index, piece, work):
        keys = work.integer_keys(piece, wide=True)
        wide = work.buffer("wide", torch.float64, piece.numel())
        if exact_differences:
            offsets = wide.copy_(keys.sub_(pivot - key_shift))
        else:  # a range beyond 2**62: differences as large as the values, float64's rounding is harmless
            offsets = wide.copy_(keys).sub_(float(pivot - key_shift))
        return torch.stack((offsets.sum(), torch.dot(offsets, offsets)))

    total, squares = to_host(torch.stack(walk.map(offset_sums)).sum(dim=0)).tolist()
    offset = total / count
    return float(mean), math.sqrt(max(squares / count - offset * offset, 0.0))


def _careful_mean_std(walk: Walk, moments: _Moments, count: int, by_rows: bool) -> tuple[float, float]:
    """Mean and std from a float64 pass, scaled by a power of two and shifted by an estimate of the mean.

    Values are scaled so that the largest magnitude is below 1 (exact: a power of two), which keeps
    their squares and sums far from overflow and underflow; the shift keeps the sums of squares from
    cancelling. The result is scaled back: it is finite wherever the true mean and std are.

    ``by_rows`` (an accelerator's plan): float16 to float64 chunks that are rows of one view are read
    several at once (see :func:`_row_groups`).
    """
    torch = _torch()
    finite_rows = moments.counts > 0
    # Python's floats: no NumPy warning where another thread wrote NaN or Inf into the tensor meanwhile
    low, high = float(moments.low[finite_rows].min()), float(moments.high[finite_rows].max())
    power = exponent(max(abs(low), abs(high)))
    with np.errstate(all="ignore"):
        estimate = moments.total.sum() / count
    if not (math.isfinite(estimate) and low <= estimate <= high):
        estimate = low / 2 + high / 2
    centre = math.ldexp(estimate, -power)
    chunked = _as_rows(walk.t, walk.limit) if by_rows and walk.t.dtype in _real_float_dtypes() else None

    def sums_cleaning(unclean: set, written: bool = False) -> list[float]:
        """The shifted values' sum and sum of squares, NaN and Inf set to zero in the chunks at ``unclean``;
        ``written``: values written since the first pass beyond its min and max held at them."""

        def shifted_sums(indices, values, work):
            shifted = scale_(values, -power).sub_(centre)
            if not unclean.isdisjoint(indices):
                shifted.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
            if written:
                shifted.clamp_(math.ldexp(low, -power) - centre, math.ldexp(high, -power) - centre)
            flat = shifted.reshape(-1)
            return torch.stack((flat.sum(), torch.dot(flat, flat)))

        if chunked is None:
            sums = walk.map(lambda index, piece, work: shifted_sums([index], work.wide_values(piece), work))
        else:  # on an accelerator, as many chunks at once as REVISIT_BYTES holds in float64: few kernels
            work = walk.workspaces[0]
            sums = [shifted_sums(indices, work.wide_values(values), work)
                    for indices, values in _row_groups(chunked, list(range(len(walk))), 8)]
        return to_host(torch.stack(sums).sum(dim=0)).tolist()

    total, squares = sums_cleaning(set(moments.unclean.tolist()))
    if not (math.isfinite(total) and math.isfinite(squares)):  # written since the first pass (by another
        total, squares = sums_cleaning(set(range(len(walk))), written=True)  # thread): every chunk read again
    offset = total / count
    mean = math.ldexp(centre + offset, power)
    std = math.ldexp(math.sqrt(max(squares / count - offset * offset, 0.0)), power)
    return min(max(mean, low), high), std  # rounding never puts the mean outside the values


def _workers(plan: str) -> int:
    """The threads the CPU's plan reads on: up to ``CPU_WORKERS``, and threads of its own only where each can
    run torch's kernels on one intra-op thread; one for any other plan."""
    return min(_torch().get_num_threads(), CPU_WORKERS) if plan == "chunks" and can_confine_threads() else 1


def _walk(t, plan: str) -> Walk:
    """The chunks the passes read: on the CPU, by up to ``CPU_WORKERS`` threads, each with a share of the
    chunk memory (CHUNK_ELEMENTS of 4-byte work values, half as many of 8-byte ones, for two threads)."""
    workers = _workers(plan)
    work_itemsize = work_dtype(t.dtype).itemsize
    base = CHUNK_ELEMENTS.get(t.device.type, DEFAULT_CHUNK_ELEMENTS)
    limit = max(1, base * 4 // max(4, work_itemsize) * 2 // max(2, workers))
    if read_by_rows(t) and t.dim() and t[0].numel() > limit:
        workers = 1  # read by whole rows (see chunking.chunk_views): one row's worth of memory, not one per thread
    return Walk(t, limit, [Workspace(t, limit) for _ in range(workers)])


def _histogram(walk: Walk, moments: _Moments, bins: int, low: float, high: float, step: int, sample,
               by_bincount: bool) -> list[int]:
    """The histogram's counts: of the sample the first pass took where it took one, else read from the tensor."""
    if sample is None:
        return list(histogram(walk, bins, low, high, step, moments.unclean, by_bincount))
    sample_walk = Walk(sample, min(walk.limit, SAMPLE_PIECE), walk.workspaces)
    unclean = np.arange(len(sample_walk)) if moments.unclean.size else moments.unclean
    return list(histogram(sample_walk, bins, low, high, 1, unclean, by_bincount, of_sample=True))


class _SmallStats(NamedTuple):
    """What the small path reads: the finite values' count, extremes and moments, the non-finite counts."""

    count: int
    low: float
    high: float
    mean: float
    std: float
    nan: int
    posinf: int
    neginf: int
    histogram: list[int]


def _small_stats(t, bins: int, sampled_from: int = 0, value_range=None) -> Stats | None:
    """Statistics of a small CPU tensor from one float64 copy: a fraction of the chunked passes' fixed cost.
    None where float64 could lose something (magnitudes beyond 1e±150, integers from 2**31): the chunked
    passes handle those."""
    torch = _torch()
    if t.dtype == torch.complex32:  # no abs kernel: the magnitude of its complex64 form, as the chunks take it
        array = t.to(torch.complex64).abs().numpy()
    elif t.dtype == torch.complex64:  # |z| in float64, as the chunks take it (chunking.magnitude)
        z = t.resolve_conj().resolve_neg().numpy().ravel()  # 1-D, a 0-d tensor too
        with np.errstate(invalid="ignore"):  # a signalling NaN raises the invalid flag as it is cast
            real, imaginary = z.real.astype(np.float64), z.imag.astype(np.float64)
        array = np.sqrt(real * real + imaginary * imaginary)
        array[np.isinf(real) | np.isinf(imaginary)] = np.inf  # as hypot has it, beside NaN too
    elif t.is_complex():
        array = t.abs().numpy()
    elif t.dtype in _small_dtypes()[0]:
        array = t.resolve_neg().numpy()
    else:  # float16, bfloat16, float8: as float64
        array = t.to(torch.float64).numpy()
    integers = not (t.is_floating_point() or t.is_complex())
    if array.size <= FEW_ELEMENTS:  # Python's floats (or ints) of the values as they are
        small = _few_values_stats(array.ravel(), bins, value_range, integers)
    else:
        with np.errstate(invalid="ignore"):  # a signalling NaN raises the invalid flag as it is cast
            wide = array.astype(np.float64).ravel()
        small = _array_stats(wide, bins, value_range, integers)
    if small is None:
        return None
    low, high = (int(small.low), int(small.high)) if integers and small.count else (small.low, small.high)
    return Stats(
        count=small.count,
        min=low,
        max=high,
        mean=min(max(small.mean, low), high) if small.count else math.nan,
        std=small.std,
        nan=small.nan,
        posinf=small.posinf,
        neginf=small.neginf,
        histogram=tuple(small.histogram),
        of="|z|" if t.is_complex() else "",
        sampled_from=sampled_from,
    )


def _float64_holds(low: float, high: float, integers: bool) -> bool:
    """Whether float64 arithmetic keeps the statistics of values from ``low`` to ``high`` exact enough:
    magnitudes below 1e150 (their sums and their deviations' squares do not overflow) and a spread above
    1e-150 (the largest deviations' squares stay normal: a spread of 1e-163 among values near 1.5e-150 had
    a std of 0), and integers below 2**31 (a float64 mean's rounding grows with their magnitude: half a
    unit at 2**52, where the std of values a few units apart is off by a part in a thousand; the chunked
    passes' integer sums are exact). The chunked passes scale the others by a power of two."""
    magnitude, spread = max(-low, high), high - low
    return magnitude < 1e150 and (spread == 0 or spread > 1e-150) and not (integers and magnitude >= 2**31)


def _small_histogram(bins: int, value_range, low: float, high: float, count: int, binned) -> list[int]:
    """The small path's histogram of ``count`` finite values from ``low`` to ``high``: ``binned(inner)``
    counts them between the inner edges of np.histogram's bins, a list ([e_i, e_i+1), the last one closed: a
    value at e_i goes to bin i; at the top, the last)."""
    edge_low, edge_high = value_range or (low, high)
    if not bins:
        return []
    if edge_low < edge_high:
        return binned(inner_edges(edge_low, edge_high, bins))
    return middle_bin(count, bins)


def _array_stats(array: np.ndarray, bins: int, value_range, integers: bool) -> _SmallStats | None:
    """The small path's statistics of a float64 array, by NumPy."""
    finite, nan, posinf = array, 0, 0
    with np.errstate(all="ignore"):  # magnitudes whose sums overflow leave this path below
        total = float(np.add.reduce(array))
        if not math.isfinite(total):  # a finite sum has no NaN or Inf in it
            finite = array[np.isfinite(array)]
            nan, posinf = int(np.count_nonzero(np.isnan(array))), int(np.count_nonzero(array == math.inf))
    neginf = array.size - finite.size - nan - posinf
    if not finite.size:
        return _SmallStats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, [])
    low, high = float(np.minimum.reduce(finite)), float(np.maximum.reduce(finite))
    if not _float64_holds(low, high, integers):
        return None
    # deviations from a value amid them first: a float64 sum of values far from zero relative to their
    # spread (1e16 + 0 or 2) rounds by more than the spread, and the mean and std would inherit it
    pilot = low + (high - low) / 2
    shifted = finite - pilot
    offset = float(np.add.reduce(shifted)) / finite.size
    deviations = shifted - offset  # subtracting the mean before squaring, as np.std does
    with np.errstate(all="ignore"):  # the squares of deviations below 1e-154 underflow, and add nothing
        std = math.sqrt(float(np.dot(deviations, deviations)) / finite.size)
    counts = _small_histogram(bins, value_range, low, high, finite.size, lambda inner: np.bincount(
        np.searchsorted(inner, finite, side="right"), minlength=bins).tolist())
    return _SmallStats(finite.size, low, high, pilot + offset, std, nan, posinf, neginf, counts)


def _few_values_stats(array: np.ndarray, bins: int, value_range, integers: bool) -> _SmallStats | None:
    """:func:`_array_stats` of a flat array of a few dozen values, in Python's floats (its integers as Python's
    ints, compared exactly and subtracted from a float): each NumPy call costs about a microsecond, whatever
    its size, and a loop over so few values less. The sums are ``math.fsum``'s (of the rounded deviations and
    squares: one rounding more for each sum, not one per addition)."""
    values = array.tolist()
    finite, nan, posinf = values, 0, 0
    if not math.isfinite(sum(values)):  # a finite sum has no NaN or Inf in it
        finite = [v for v in values if math.isfinite(v)]
        nan, posinf = sum(map(math.isnan, values)), values.count(math.inf)
    neginf = len(values) - len(finite) - nan - posinf
    if not finite:
        return _SmallStats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, [])
    low, high = min(finite), max(finite)
    if not _float64_holds(low, high, integers):
        return None
    pilot = low + (high - low) / 2  # as in _array_stats
    shifted = [v - pilot for v in finite]
    offset = math.fsum(shifted) / len(finite)
    std = math.sqrt(math.fsum([(d - offset) * (d - offset) for d in shifted]) / len(finite))

    def binned(edges: list[float]) -> list[int]:
        counts = [0] * bins
        for value in finite:
            counts[bisect.bisect_right(edges, value)] += 1  # np.searchsorted's side="right"
        return counts

    counts = _small_histogram(bins, value_range, low, high, len(finite), binned)
    return _SmallStats(len(finite), low, high, pilot + offset, std, nan, posinf, neginf, counts)


def tensor_stats(t, *, bins: int = 24, max_elements: int = 0, plan: str | None = None,
                 value_range: tuple[float, float] | None = None) -> Stats | None:
    """Statistics of a strided numeric tensor; None where they do not apply (bool, raw bits, empty).
    Where it holds NaN or Inf, they say where (see :mod:`.nonfinite`).

    ``plan``: "chunks" (the CPU's: every pass chunk by chunk, cache-sized) or "whole" (an accelerator's:
    whole-tensor reductions first, few kernel launches and waits); None picks by the tensor's device.
    ``value_range``: the histogram's range, where it is not the tensor's own (a shard of a larger array).
    ``bins=0``: no histogram, and none of its cost.
    """
    torch = _torch()
    plan = plan or PLANS.get(t.device.type, "whole")
    stats = _statistics(t, bins, max_elements, plan, value_range)
    if stats is not None and stats.non_finite() and stats.first_non_finite is None and not read_by_rows(t):
        if plan == "chunks":
            limit = CHUNK_ELEMENTS.get(t.device.type, DEFAULT_CHUNK_ELEMENTS)
        else:  # few kernels: blocks whose temporaries REVISIT_BYTES holds
            limit = REVISIT_BYTES // bytes_per_element(t)
        # an expand()ed dimension repeats its first index: the first NaN is there, and is found at the
        # cost of the distinct elements (the counts per index would be the repeats': not given)
        repeated = [d for d in range(t.dim()) if t.stride(d) == 0 and t.shape[d] > 1] if not t.is_nested else []
        distinct = t.detach()
        for d in repeated:
            distinct = distinct.narrow(d, 0, 1)
        with torch.no_grad():
            where = locate(distinct, limit, stop_early=plan == "chunks", spans=stats.non_finite_within,
                           workers=_workers(plan))
        if where is not None:
            stats = replace(stats, first_non_finite=where.first, non_finite_by_dim=() if repeated else where.by_dim)
    return stats


def _statistics(t, bins: int, max_elements: int, plan: str | None, value_range) -> Stats | None:
    torch = _torch()
    logical = t.numel()
    read_small = logical <= SMALL_ELEMENTS and t.device.type == "cpu" and logical <= (max_elements or logical) and (
        t.dtype in _small_dtypes()[1] and t.layout == torch.strided and logical)
    if read_small:  # every element, expand()ed ones too: a few thousand at most (detached: no graph)
        small = _small_stats(t.detach(), bins, 0, value_range)
        if small is not None:
            return small
    numeric = t.is_floating_point() or t.is_complex() or read_by_rows(t) or dtype_name(t.dtype) in _INTEGERS
    if logical == 0 or not numeric:
        return None
    t, repeats = distinct_view(t.detach())  # its views and the sample's record no graph
    sampled_from = 0
    if max_elements and t.numel() > max_elements:
        sampled_from, t, repeats = logical, sample_in_memory_order(t, max_elements), 1
    with torch.no_grad():
        t = t.detach()
        # the distinct elements or a sample of a larger tensor, where small, are read as a small tensor is;
        # elements the small path declined above (their distinct ones hold the same values) are not offered again
        if not read_small and t.numel() <= SMALL_ELEMENTS and t.device.type == "cpu" and not read_by_rows(t):
            small = _small_stats(t, bins, sampled_from, value_range)
            if small is not None:
                return replace(small, count=small.count * repeats, nan=small.nan * repeats,
                               posinf=small.posinf * repeats, neginf=small.neginf * repeats,
                               histogram=tuple(n * repeats for n in small.histogram))
        if plan == "chunks" and t.device.type != "cpu":
            raise ValueError(f"the 'chunks' plan reads tensors on the CPU, not on {t.device}")
        walk = _walk(t, plan)
        step = histogram_step(t)
        sample = positions = None
        # every element, each chunk a slice of its memory: a range of indices in C order (see _unclean_spans)
        chunks_in_c_order = not sampled_from and repeats == 1 and t.is_contiguous() and not read_by_rows(t)
        if plan == "chunks":
            # a contiguous real tensor's NaN and Inf, counted per index by the pass where few: not read again
            if chunks_in_c_order and t.is_floating_point() and counted_dims(t.shape):
                positions = KeptPositions(t.shape)
            moments, sample = _host_pass(t, walk, step, positions)
        elif t.dtype in (torch.float32, torch.float64) or (
                t.dtype in (torch.float16, torch.bfloat16) and _as_rows(t, HALF_ROW) is not None):
            moments = _whole_tensor_pass(t, walk)
        else:  # every dtype the reductions lack (float8, complex, integers...) and half precision without
            # rows to sum accurately (a slice with gaps along several dimensions) is read in chunks
            moments = _first_pass(t, walk)
        for work in walk.workspaces:  # the first pass's buffers are not the next passes' ones
            work.clear()
        located = positions.location() if positions is not None and moments.unclean.size else None
        count = int(moments.counts.sum())
        low = high = mean = std = math.nan
        counts = ()
        if count:
            finite_rows = moments.counts > 0
            low, high = float(moments.low[finite_rows].min()), float(moments.high[finite_rows].max())
            exact = _raw_mean_std(moments, count, walk.workspaces[0].dtype)
            if exact is not None:
                mean, std = exact
            elif moments.integer_extremes is not None:
                mean, std = _integer_mean_std(t, walk, moments, count)
            else:
                mean, std = _careful_mean_std(walk, moments, count, by_rows=plan == "whole")
                for work in walk.workspaces:  # its float64 buffers are not the histogram's
                    work.clear()
            edge_low, edge_high = value_range or (low, high)
            if not bins:  # no histogram asked for (a one-line display has no room for one)
                counts = []
            elif edge_low < edge_high:
                counts = _histogram(walk, moments, bins, edge_low, edge_high, step, sample,
                                    by_bincount=plan == "chunks")
                if step > 1:
                    counts = with_extremes(counts, low, high, edge_low, edge_high)
            else:
                counts = middle_bin(count, bins)
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
        histogram=tuple(n * repeats for n in counts),  # a sampled histogram keeps the sample's counts
        of="|z|" if t.is_complex() else "",
        sampled_from=sampled_from,
        histogram_step=step,
        first_non_finite=located.first if located else None,
        non_finite_by_dim=located.by_dim if located else (),
        non_finite_within=_unclean_spans(t, walk, moments) if chunks_in_c_order else None,
    )


def _unclean_spans(t, walk: Walk, moments: _Moments) -> tuple[tuple[int, int], ...]:
    """The chunks holding NaN or Inf, as ranges of indices in C order, of a contiguous ``t`` (whose chunks
    are slices of its memory, in order)."""
    n, limit = t.numel(), walk.limit
    return tuple((index * limit, min((index + 1) * limit, n)) for index in sorted(moments.unclean.tolist()))

