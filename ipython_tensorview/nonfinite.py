"""Where a tensor's NaN and Inf values are: the index of the first one, and for a 2-D or 3-D tensor, which
indices along each dimension (rows, columns, channels) hold them, and how many.

The tensor is read in index order, in blocks of whole trailing rows of at most ``limit`` elements, each
marked in a block-sized temporary: nothing of the tensor's size is allocated. The counts per index come from
sums of each block's marks over its other dimensions. The CPU reads the blocks by NumPy, marks the finite
values and stops at the first block holding one where no counts are wanted; an accelerator marks the others
1.0 (0.0 the finite ones), keeps every result on the device and waits once. A small CPU tensor is read by
NumPy at once: a few torch ops per block and dimension cost more than its whole display. The CPU's first
pass over a contiguous tensor keeps the positions of the few it marks (:class:`KeptPositions`), which give
the same answer without reading the tensor again.
"""

from __future__ import annotations

import bisect
import sys
import threading
from dataclasses import dataclass

import numpy as np

from .chunking import Workspace, one_intra_op_thread, parallel_map, to_host

# counts per index only along dimensions of at most this many indices (8 bytes each, on the device)
MAX_COUNTED_INDICES = 1 << 18
# the (index, count) pairs a display keeps per dimension
SHOWN_INDICES = 6
# the positions of NaN and Inf a pass keeps (see KeptPositions): 2 MiB of int64 at most
MAX_KEPT_POSITIONS = 1 << 18
# a CPU tensor of at most this many elements is read by NumPy (from a float32 or complex64 copy where NumPy
# lacks its dtype); every dimension of such a tensor is countable (below MAX_COUNTED_INDICES)
HOST_ELEMENTS = 1 << 12


@dataclass(frozen=True)
class AxisCounts:
    """Along one dimension: how many of its indices hold a NaN or Inf, and the first few with their counts."""

    dim: int
    holding: int
    size: int
    first: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Location:
    first: tuple[int, ...]  # the first NaN or Inf in index order
    by_dim: tuple[AxisCounts, ...] = ()  # for 2-D and 3-D tensors, the dimensions of countable size


def _torch():
    return sys.modules["torch"]


def _blocks(t, limit: int, lead: tuple[int, ...] = ()):
    """(lead, start, block): ``block`` is ``t[lead][start:start + rows]``, whole trailing rows of at most
    ``limit`` elements where one row fits, in index order; rows too long are split the same way."""
    part = t[lead] if lead else t
    if part.dim() == 0:
        yield lead, 0, part.reshape(1)
        return
    row = part[0].numel() if part.dim() > 1 else 1
    if row > limit and part.dim() > 1:
        for index in range(part.shape[0]):
            yield from _blocks(t, limit, (*lead, index))
        return
    rows = max(1, limit // max(1, row))
    for start in range(0, part.shape[0], rows):
        yield lead, start, part[start : start + rows]


def bytes_per_element(t) -> int:
    """The bytes :func:`locate`'s temporaries take per element of a block of ``t`` of fewer than 2**24 elements
    (see :func:`_non_finite_ones`)."""
    return 8 if t.dtype in (_torch().float64, _torch().complex128) else 4


def _non_finite_ones(block):
    """1.0 where ``block``'s value is NaN or Inf, 0.0 where it is finite, in a C-contiguous tensor (a flat view
    of it is no copy) of float32; of float64 for float64 and complex128 values and for blocks of 2**24
    elements or more, whose counts float32 would round. x - x is 0 where x is finite and NaN where not, and
    adding y - y (a complex value's imaginary part) keeps it so. Sums of these count in place, where a bool
    mask's sum first copies it into int64, 8 bytes an element."""
    torch = _torch()
    if block.is_conj():  # conj and neg bits change no value's finiteness: cleared, not resolved (a copy)
        block = block.conj()
    if block.is_neg():
        block = torch._neg_view(block)
    parts = (block.real, block.imag) if block.is_complex() else (block,)
    wide = torch.float64 if parts[0].dtype == torch.float64 or block.numel() >= 1 << 24 else torch.float32
    ones = torch.empty(block.shape, dtype=wide, device=block.device)
    if parts[0].dtype == wide:
        torch.sub(parts[0], parts[0], out=ones)
    else:  # converted first: float8 has no arithmetic
        ones.copy_(parts[0]).sub_(ones)
    for part in parts[1:]:
        ones.add_(part).sub_(part)
    return ones.nan_to_num_(nan=1.0)


def locate(t, limit: int, stop_early: bool, spans: tuple[tuple[int, int], ...] | None = None,
           workers: int = 1) -> Location | None:
    """Where ``t``'s NaN and Inf values are (see the module's description), or None where it holds none.

    ``stop_early`` (the CPU's plan): read the blocks by NumPy, on ``workers`` threads, and stop at the first
    holding one where no counts are wanted; else, as an accelerator reads them, keep every result on the device
    until one wait.
    ``spans``: sorted ranges of indices in C order (``[start, stop)``) outside which ``t`` holds none (the
    chunks whose min or max was not finite): blocks outside them are not read. Each holds one at least,
    so the first is looked for in the first span alone, but for complex128, whose |z| overflows float64
    where its parts are finite (beyond about 1.3e154).
    """
    if t.device.type != "cpu":
        return _located_on_device(t, limit, spans)
    if t.numel() <= HOST_ELEMENTS and not t.is_nested:
        return _located_on_host(t)
    if stop_early:
        return _located_in_host_blocks(t, limit, spans, workers)
    with one_intra_op_thread():  # a block's kernels are too short for OpenMP's joins, which stall under load
        return _located_on_device(t, limit, spans)


def counted_dims(shape: tuple[int, ...]) -> list[int]:
    """The dimensions whose indices are counted: those of a 2-D or 3-D tensor of countable size."""
    return [d for d in range(len(shape)) if 2 <= len(shape) <= 3 and shape[d] <= MAX_COUNTED_INDICES]


def _c_strides(shape: tuple[int, ...]) -> np.ndarray:
    """Each dimension's stride, in elements, of a C-ordered array of ``shape``."""
    return np.cumprod((*shape[1:], 1)[::-1])[::-1]


def _index(position: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index of the element ``position`` elements into a C-ordered array of ``shape``."""
    return tuple(int(i) for i in np.unravel_index(position, shape))


def _read_blocks(t, limit: int, spans):
    """:func:`_blocks` of ``t`` that meet ``spans`` (all where None), as (lead, start, block, base): ``base``
    is the block's first index in C order."""
    strides = _c_strides(t.shape)  # ([1] for 0-D)
    stops = [stop for _, stop in spans] if spans is not None else None
    for lead, start, block in _blocks(t, limit):
        base = int(np.dot((*lead, start), strides[: len(lead) + 1])) if t.dim() else 0
        if stops is not None:  # the first span ending past the block's start must begin before its end
            index = bisect.bisect_right(stops, base)
            if index == len(spans) or spans[index][0] >= base + block.numel():
                continue
        yield lead, start, block, base


def _located_in_host_blocks(t, limit: int, spans, workers: int) -> Location | None:
    """:func:`locate` of a CPU tensor, a block at a time by NumPy (whose comparisons and byte sums run several
    times as fast as torch's there): the first in the first block holding one; the counts per index, where
    wanted, of every block, on ``workers`` threads, as sums of each block's finite marks, bytes added up in
    the narrowest integers that hold their sums."""
    counted = counted_dims(t.shape)
    blocks = _read_blocks(t, limit, spans)
    if not counted:
        with one_intra_op_thread():  # (bfloat16 and float8 blocks are converted by torch)
            for _, _, block, base in blocks:
                finite = np.isfinite(_host_values(block))
                if not finite.all():
                    return Location(_index(base + int(np.argmin(finite)), t.shape))
        return None
    totals = {}  # per thread: the first it found, and its counts per index

    def read(item, work):
        lead, start, block, base = item
        values = _host_values(block)
        finite = np.isfinite(values, out=work.buffer("finite", _torch().bool, values.size).numpy().reshape(
            values.shape))
        if finite.all():
            return
        found = totals.setdefault(id(work), [None, {d: np.zeros(t.shape[d], np.int64) for d in counted}])
        counts = found[1]
        if found[0] is None:  # a thread takes its blocks in order: its first is its least
            found[0] = base + int(np.argmin(finite))  # (in C order, whatever the block's strides)
        free = len(lead)  # the dimensions before this one are fixed by lead
        marks = finite.view(np.uint8)
        for d in counted:
            if d < free:
                counts[d][lead[d]] += finite.size - int(np.count_nonzero(finite))
                continue
            others = tuple(i for i in range(finite.ndim) if i != d - free)
            summed = finite.size // finite.shape[d - free]  # marks added up per index
            kind = next(kind for kind in (np.uint8, np.uint16, np.uint32, np.uint64) if summed <= np.iinfo(kind).max)
            held = summed - np.add.reduce(marks, axis=others, dtype=kind).astype(np.int64)
            if d == free:
                counts[d][start : start + block.shape[0]] += held
            else:
                counts[d] += held

    parallel_map(read, list(blocks), [Workspace(t, limit) for _ in range(workers)])
    if not totals:
        return None
    first = min(found for found, _ in totals.values())
    by_dim = tuple(_axis_counts(d, sum(counts[d] for _, counts in totals.values())) for d in counted)
    return Location(_index(first, t.shape), by_dim)


def _located_on_device(t, limit: int, spans) -> Location | None:
    """:func:`locate` of a tensor on an accelerator (or of a CPU tensor as an accelerator reads it): every
    block is read, but where no dimension is counted, those beyond the first span; every result stays on
    the device until one wait."""
    torch = _torch()
    counted = counted_dims(t.shape)
    counts = {d: torch.zeros(t.shape[d], dtype=torch.float64, device=t.device) for d in counted}  # exact to 2**53
    firsts = []
    in_first_span = spans is not None and t.dtype != torch.complex128  # the first one lies there
    if in_first_span and not counted:
        spans = spans[:1]
    for lead, start, block, base in _read_blocks(t, limit, spans):
        ones = _non_finite_ones(block)
        flat = ones.reshape(-1)
        if not in_first_span or base < spans[0][1]:
            # each block's first (past the tensor's end where it has none), up to the first span's end
            top, at = flat.max(dim=0)  # the first of the largest
            firsts.append(torch.where(top > 0, at + base, t.numel()))
        free = len(lead)  # the dimensions before this one are fixed by lead
        for d in counted:
            if d < free:
                counts[d][lead[d]] += flat.sum()
            else:
                others = tuple(i for i in range(ones.dim()) if i != d - free)
                per_index = ones.sum(dim=others) if others else ones
                if d == free:
                    counts[d][start : start + block.shape[0]] += per_index
                else:
                    counts[d] += per_index
        del ones, flat  # before the next block's are made
    if not firsts:
        return None
    # one wait for the first index and every count
    fetched = to_host(torch.cat([torch.stack(firsts).min().reshape(1), *counts.values()]))
    first, position = int(fetched[0]), 1
    if first >= t.numel():
        return None
    by_dim = []
    for d in counted:
        by_dim.append(_axis_counts(d, fetched[position : position + t.shape[d]]))
        position += t.shape[d]
    return Location(_index(first, t.shape), tuple(by_dim))


def _axis_counts(dim: int, counts: np.ndarray) -> AxisCounts:
    """Along dimension ``dim``, from the count of NaN and Inf at each of its indices."""
    holding = np.flatnonzero(counts)
    shown = tuple((int(i), int(counts[i])) for i in holding[:SHOWN_INDICES])
    return AxisCounts(dim, int(holding.size), counts.size, shown)


class KeptPositions:
    """Where a contiguous tensor's NaN and Inf are, kept by a pass that reads its chunks (slices of its memory,
    in C order) and marks each chunk's NaN or finite values anyway: while they are few, their positions,
    from which :meth:`location` gives :func:`locate`'s answer without reading the tensor again. Past
    ``MAX_KEPT_POSITIONS`` in all, whichever threads found them, none are kept and :func:`locate` reads the
    tensor."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = shape
        self._kept = []  # per chunk holding any: their indices in C order
        self._held = 0
        self._lock = threading.Lock()  # the pass's threads add to one count

    @property
    def wanted(self) -> bool:
        """Whether positions are still kept (none are once too many were found)."""
        return self._held <= MAX_KEPT_POSITIONS

    def keep(self, start: int, positions: np.ndarray) -> None:
        """Keep ``positions`` (NumPy's default integers, which this shifts in place) of a chunk beginning at
        index ``start``."""
        positions += start
        with self._lock:
            self._held += positions.size
            if self.wanted:
                self._kept.append(positions)
            else:
                self._kept.clear()

    def location(self) -> Location | None:
        """:func:`locate`'s answer, or None where too many were found or none kept. Reads the positions kept
        and a temporary of their size."""
        if not self.wanted or not self._kept:
            return None
        positions = np.concatenate(self._kept)
        self._kept.clear()
        strides = _c_strides(self.shape)
        by_dim = []
        for d in counted_dims(self.shape):
            index = positions // strides[d]
            np.remainder(index, self.shape[d], out=index)
            by_dim.append(_axis_counts(d, np.bincount(index, minlength=self.shape[d])))
        return Location(_index(int(positions.min()), self.shape), tuple(by_dim))


def _located_on_host(t) -> Location | None:
    """:func:`locate` of a small CPU tensor, by NumPy over all of it at once (its ``limit``, ``stop_early``
    and ``spans`` save nothing there)."""
    bad = ~np.isfinite(_host_values(t))
    flat = bad.reshape(-1)
    if not flat.any():
        return None
    dims = range(bad.ndim) if 2 <= bad.ndim <= 3 else ()
    by_dim = tuple(_axis_counts(d, bad.sum(axis=tuple(i for i in dims if i != d))) for d in dims)
    return Location(_index(int(flat.argmax()), bad.shape), by_dim)


def _host_values(t) -> np.ndarray:
    """A CPU tensor's values as NumPy reads them, finite where they are: a view where NumPy has the dtype,
    else a copy in float32 or complex64."""
    torch = _torch()
    values = t.detach()
    # NumPy reads no neg or conj view, and neither changes what is finite: the bits are cancelled, not
    # resolved (which copies, and has no kernel for complex32's neg and conj together, nor float8's neg)
    if values.is_conj():
        values = values.conj()
    if values.is_neg():
        values = torch._neg_view(values)
    if values.dtype == torch.complex32:
        values = values.to(torch.complex64)
    elif values.dtype.itemsize <= 2 and values.dtype != torch.float16:  # bfloat16 and float8: no NumPy dtype
        values = values.float()
    return values.numpy()
