"""Walking a tensor in bounded chunks on its device, with reused buffers, and exact power-of-two scaling.

The statistics and the histogram read a tensor a chunk at a time: extra memory is a few chunks' worth,
whatever the tensor's size, and nothing is synchronised with the device inside a walk.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

import numpy as np

from .adapters.torch import decoded, decoded_dtype, read_by_rows

# a bool tensor off the CPU is counted in rows of 255 bytes, this many at a time (a mask of them: 8 MiB), or
# where it has no flat view, in views of this many elements (a mask and its int64 copy: 9 MiB)
TRUE_COUNT_ROWS = 1 << 15
TRUE_COUNT_ELEMENTS = 1 << 20


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
    """The dtype the statistics read ``dtype``'s values in: complex as magnitudes in float64 (complex32's in
    float32, which holds them), low precision floats as float32, integers as float64; a tensor read by rows,
    as its rows decode (see :func:`.adapters.torch.read_by_rows`)."""
    torch = _torch()
    if dtype in (torch.float32, torch.float64):
        return dtype
    if dtype in (torch.complex64, torch.complex128):  # complex64's |z| reaches float32's max * sqrt(2)
        return torch.float64
    if dtype.is_floating_point or dtype.is_complex:
        return torch.float32
    return decoded_dtype(dtype) or torch.float64


def chunk_views(t, limit: int, memory_order: bool = True):
    """Views of ``t`` in memory order (or with ``memory_order=False``, in index order), each of at most
    ``limit`` elements (of whole rows, for a tensor read by rows): the pieces :func:`chunks` and
    :class:`Walk` read, made without copying anything."""
    if read_by_rows(t):  # a tensor that can be neither permuted nor flattened (see .adapters.torch)
        rows = max(1, limit // max(1, t[0].numel())) if t.dim() else 1
        for start in range(0, t.shape[0] if t.dim() else 1, rows):
            yield t[start : start + rows] if t.dim() else t
        return
    if memory_order:
        t = _in_memory_order(t)  # statistics ignore order: walk memory in stride order
    if t.is_contiguous():
        flat = t.view(-1)
        for start in range(0, flat.numel(), limit):
            yield flat[start : start + limit]
        return
    if t.numel() <= limit or t.dim() <= 1:
        step = limit if t.dim() == 1 else t.shape[0]
        for start in range(0, max(1, t.shape[0] if t.dim() else 1), step):
            yield t[start : start + step] if t.dim() else t
        return
    inner = t[0].numel()
    if inner <= limit:
        step = max(1, limit // inner)
        for start in range(0, t.shape[0], step):
            yield t[start : start + step]
    else:
        for index in range(t.shape[0]):
            yield from chunk_views(t[index], limit, memory_order)


def true_count(t) -> int:
    """How many elements of a bool tensor are true, in one wait. The CPU counts in place. Elsewhere
    ``count_nonzero`` makes a mask and sums it in int64, 9 bytes an element: a tensor with a flat view is
    read in rows of 255 bytes, ``TRUE_COUNT_ROWS`` at a time, each byte made 0 or 1 (a bool made by a view
    of other bytes may hold any) and added up as a byte, which holds 255, and only the rows' sums in int64;
    any other is counted in views of ``TRUE_COUNT_ELEMENTS``."""
    torch = _torch()
    if t.device.type == "cpu":
        return int(t.count_nonzero())
    flat = flat_in_memory_order(t)
    if flat is None:
        counts = [view.count_nonzero() for view in chunk_views(t, TRUE_COUNT_ELEMENTS)]
    else:
        whole = flat.numel() // 255 * 255
        rows = flat[:whole].view(torch.uint8).view(-1, 255)
        counts = [torch.ne(rows[start : start + TRUE_COUNT_ROWS], 0).view(torch.uint8).sum(dim=1, dtype=torch.uint8)
                  .sum() for start in range(0, len(rows), TRUE_COUNT_ROWS)]
        counts.append(flat[whole:].count_nonzero())
    return int(to_host(torch.stack(counts).sum()))


def needs_copy(view) -> bool:
    """Whether a chunk view must be copied to be read flat: it has gaps, or a neg bit that NumPy refuses."""
    return not read_by_rows(view) and (view.is_neg() or not view.is_contiguous())


def flat_piece(view, buffer=None):
    """A chunk view as a flat contiguous tensor: itself where it is one, else copied (into ``buffer``, a
    tensor of at least its size and dtype, where one is given); rows of a tensor read by rows, decoded."""
    if read_by_rows(view):
        return decoded(view)
    if not needs_copy(view):
        return view.view(-1)
    if buffer is None:
        return view.resolve_neg().reshape(-1).clone()
    out = _leading(buffer, view.numel())
    out.view(view.shape).copy_(view)  # copying resolves the neg bit
    return out


def _leading(buffer, n: int):
    """The first ``n`` elements of ``buffer``: itself where it has no more (a slice costs µs, with the GIL
    held that a pass's other threads wait on)."""
    return buffer if buffer.numel() == n else buffer[:n]


def chunks(t, limit: int, buffer=None):
    """Flat pieces of ``t`` of at most ``limit`` elements; only a piece is ever copied, never the whole.

    Pieces that are not contiguous in memory are copied into ``buffer`` (``limit`` elements of
    ``t``'s dtype) where one is given, so that a walk allocates nothing per piece; each such piece is
    valid until the next one is taken.
    """
    for view in chunk_views(t, limit):
        yield flat_piece(view, buffer)


def _in_memory_order(t):
    """``t`` with its dimensions permuted from the largest stride to the smallest (a view)."""
    return t.permute(sorted(range(t.dim()), key=lambda d: -t.stride(d))) if t.dim() > 1 else t


def flat_in_memory_order(t):
    """A flat view of ``t``'s elements in the order they lie in memory, or None where no view has it."""
    if read_by_rows(t):
        return None
    t = _in_memory_order(t)
    return t.view(-1) if t.is_contiguous() else None


def flat_or_one_dimensional(t):
    """:func:`flat_in_memory_order`, or ``t`` itself where it is 1-D, whatever its stride (a sample of a
    larger tensor, say): a view whose every s-th element is a well-spread sample; None where neither exists."""
    flat = flat_in_memory_order(t)
    if flat is None and t.dim() == 1 and not read_by_rows(t):
        return t
    return flat


def sampling_step(shape: tuple[int, ...], target: int) -> int:
    """The step s of a sample of about ``target`` elements of an array of ``shape``, taken every s-th
    element in memory order.

    s is a prime that divides no dimension, so that the sample does not fall into step with rows,
    columns or channels (a step of 2 on interleaved data, or of 3 on an H,W,C image, would see one kind).
    """
    step = max(2, math.prod(shape) // max(1, target))
    while not _is_prime(step) or any(size % step == 0 for size in shape):
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
    step = sampling_step(tuple(t.shape), target)
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


def magnitude(z, out, work):
    """|z| of complex64 values into the float64 tensor ``out``, as sqrt(re * re + im * im), and infinite
    wherever a part is (NaN or not, as hypot has it). The squares of float32 parts are exact in float64 and
    each step is rounded correctly, once, so every chunking, device and the small tensors' NumPy path give
    the same bits. (torch's abs, and its float64 sqrt on the CPU, round their vector lanes and their scalar
    tail apart; NumPy's sqrt and CUDA's are exact.) ``work``'s buffers hold the steps."""
    torch = _torch()
    parts = torch.view_as_real(z.conj() if z.is_conj() else z)  # |z| of the conjugate: no copy to resolve it
    n = z.numel()
    squares = work.buffer("squares", torch.float64, n).view(z.shape).copy_(parts[..., 1])
    out.copy_(parts[..., 0]).mul_(out)
    largest = torch.fmax(out, squares.mul_(squares), out=work.buffer("largest", torch.float64, n).view(z.shape))
    out.add_(squares)
    if out.device.type == "cpu":
        np.sqrt(out.numpy(), out=out.numpy())
    else:
        out.sqrt_()
    infinite = torch.eq(largest, math.inf, out=work.buffer("infinite", torch.bool, n).view(z.shape))
    return out.masked_fill_(infinite, math.inf)


class Workspace:
    """Chunk-sized buffers reused by every chunk of a pass.

    Temporaries of a chunk's size allocated anew for each chunk, between small results that outlive
    them, fragment the C heap until it has grown by about the tensor's size; writing into the same
    few buffers keeps the extra memory at a few chunks whatever the tensor's size. Buffers are made
    on first use, so a pass that never needs one never pays for it.
    """

    def __init__(self, t, limit: int):
        self.size = min(limit, t.numel())
        if read_by_rows(t) and t.dim():  # read by whole rows, however long (see chunk_views)
            self.size = max(self.size, t[0].numel())
        self.device = t.device
        self.dtype = work_dtype(t.dtype)
        self._buffers = {}
        self._arrays = {}  # NumPy's arrays of CPU buffers, by the buffer's key

    def buffer(self, name: str, dtype, n: int):
        """``n`` elements of the buffer ``name``: made at the first request's size (a pass over smaller
        pieces, like the histogram's sample, keeps its buffers small), and at the chunk size if one asks more."""
        return _leading(self._whole(name, dtype, n), n)

    def array(self, name: str, dtype, n: int) -> np.ndarray:
        """:meth:`buffer` of a CPU workspace as a NumPy array, made once per buffer: an array of a tensor,
        let go, takes the GIL again from inside torch, a wait on the pass's other threads."""
        buffer = self._whole(name, dtype, n)
        entry = self._arrays.get((name, dtype))
        if entry is None or entry[0] is not buffer:
            entry = self._arrays[name, dtype] = buffer, buffer.numpy()
        return entry[1][:n]

    def _whole(self, name: str, dtype, n: int):
        """The buffer ``name`` whole, made or made again larger where it holds fewer than ``n`` elements."""
        key = name, dtype
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < n:
            size = n if buffer is None else max(n, self.size)
            buffer = self._buffers[key] = _torch().empty(size, dtype=dtype, device=self.device)
        return buffer

    def real_array(self, piece) -> np.ndarray:
        """:meth:`real_values` of a flat CPU chunk as a NumPy array."""
        if piece.dtype == self.dtype:
            return piece.numpy()
        self.real_values(piece)
        return self.array("values", self.dtype, piece.numel())

    def clear(self) -> None:
        """Let the buffers go: the next pass, which may need others, makes what it uses."""
        self._buffers.clear()
        self._arrays.clear()

    def flat(self, view):
        """A chunk view as a flat tensor (see :func:`flat_piece`), copied where it must be into a buffer."""
        return flat_piece(view, self.buffer("chunk", view.dtype, view.numel()) if needs_copy(view) else None)

    def real_values(self, piece):
        """The chunk as real numbers: upcast low precision and integers, magnitude of complex."""
        torch = _torch()
        if piece.dtype == self.dtype:
            return piece
        out = self.buffer("values", self.dtype, piece.numel())
        if piece.dim() != 1:
            out = out.view(piece.shape)
        if piece.is_complex():
            if piece.dtype == torch.complex64:  # |z| in float64: abs computes in its parts' precision
                return magnitude(piece, out, self)
            if piece.dtype == torch.complex32:  # no abs kernel for it
                piece = piece.to(torch.complex64)
            return torch.abs(piece, out=out)
        if piece.is_neg() and piece.device.type == "cpu":  # torch's float16-to-float32 copy there drops the
            piece = piece.resolve_neg()  # neg bit of a contiguous view (FBGEMM's fast path)
        return out.copy_(piece)

    def non_finite_mask(self, values):
        """A mask of the NaN and +-Inf values of real ``values``, in buffers of its own: x - x is 0 where x is
        finite, NaN where it is not."""
        torch = _torch()
        n = values.numel()
        difference = torch.sub(values, values, out=self.buffer("difference", values.dtype, n))
        return torch.ne(difference, 0, out=self.buffer("non-finite", torch.bool, n))

    def ones(self, n: int):
        """``n`` int64 ones, filled once per workspace."""
        torch = _torch()
        key = "ones", torch.int64
        if key not in self._buffers or self._buffers[key].numel() < n:
            self.buffer("ones", torch.int64, max(n, self.size)).fill_(1)
        return self.buffer("ones", torch.int64, n)

    def wide_values(self, piece):
        """The chunk's real values in float64, shaped like it, in a buffer of its own (they get scaled in
        place). Floats are copied as they are (exactly: no float32 step between)."""
        torch = _torch()
        wide = self.buffer("wide", torch.float64, piece.numel()).view(piece.shape)
        return wide.copy_(piece if piece.is_floating_point() else self.real_values(piece))

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


# the most chunks a walk slices before its threads start (each slice a view: a few hundred bytes)
SLICED = 4096


class Walk:
    """A tensor's chunks in memory order (see :func:`chunk_views`), each read by a task on one of the
    threads of :func:`parallel_map`, one per workspace.

    A tensor that lies contiguous in memory is cut into slices of ``limit`` elements as they are read;
    any other's views are listed on the first walk.
    """

    def __init__(self, t, limit: int, workspaces: list[Workspace]):
        self.t, self.limit, self.workspaces = t, limit, workspaces
        self._flat = flat_in_memory_order(t)
        self._views = self._slices = None

    def __len__(self) -> int:
        if self._flat is not None:
            return max(1, -(-self._flat.numel() // self.limit))
        return len(self._listed())

    def view(self, index: int):
        if self._flat is not None:
            return self._flat[index * self.limit : (index + 1) * self.limit]
        return self._listed()[index]

    def _sliced(self) -> tuple | None:
        """The flat view's slices, made at once by the calling thread where there are at most ``SLICED``:
        a slice made by a pass's thread holds the GIL that the other threads wait for between kernels
        (their few µs per chunk cost the pass a tenth to a fifth)."""
        if self._slices is None and len(self) <= SLICED:
            self._slices = self._flat.split(self.limit)
        return self._slices

    def arrays(self) -> list[np.ndarray] | None:
        """NumPy's arrays of the chunks of a CPU tensor that lies flat in memory, as :meth:`map` cuts it, made
        at once by the calling thread (see :meth:`Workspace.array`); None for any other tensor, and for a
        dtype NumPy lacks (bfloat16, float8)."""
        flat = self._flat
        if flat is None or flat.device.type != "cpu" or flat.is_neg() or flat.is_conj() or len(self) > SLICED:
            return None
        try:
            whole = flat.numpy()
        except TypeError:  # a dtype NumPy lacks
            return None
        return [whole[index * self.limit : (index + 1) * self.limit] for index in range(len(self))]

    def _listed(self) -> list:
        if self._views is None:
            self._views = list(chunk_views(self.t, self.limit))
        return self._views

    @property
    def offsets(self) -> list[int]:
        """Where each chunk starts, counted in elements in memory order."""
        if self._flat is not None:
            return [index * self.limit for index in range(len(self))]
        return list(itertools.accumulate((view.numel() for view in self._listed()[:-1]), initial=0))

    def map(self, task, indices=None) -> list:
        """``[task(index, piece, work) for each chunk]`` (or the chunks at ``indices``), in their order."""
        indices = range(len(self)) if indices is None else indices
        flat, limit = self._flat, self.limit
        if flat is not None and not flat.is_neg():  # each piece a slice of the flat view, as it is
            slices = self._sliced()
            if slices is not None:
                return parallel_map(lambda index, work: task(index, slices[index], work), indices, self.workspaces)
            return parallel_map(lambda index, work: task(index, flat[index * limit : (index + 1) * limit], work),
                                indices, self.workspaces)
        return parallel_map(lambda index, work: task(index, work.flat(self.view(index)), work), indices,
                            self.workspaces)


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _threads(count: int) -> ThreadPoolExecutor:
    """Threads of this module's own, made anew in a forked child (a fork keeps no threads)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid() or _pool[1]._max_workers < count:
        _pool = (os.getpid(), ThreadPoolExecutor(count, thread_name_prefix="ipython_tensorview"))
    return _pool[1]


_openmp_calls: tuple = ()


def _openmp() -> tuple:
    """OpenMP's ``(omp_set_num_threads, omp_get_max_threads)`` as torch loaded them, or () where it has none."""
    global _openmp_calls
    if not _openmp_calls:
        try:
            process = ctypes.CDLL(None)
            _openmp_calls = (process.omp_set_num_threads, process.omp_get_max_threads)
        except (AttributeError, OSError):  # a torch built without OpenMP, or a platform that hides it
            if "torch" not in sys.modules:  # or torch, which loads it, not imported yet: ask again then
                return ()
            _openmp_calls = (None,)
    return _openmp_calls if _openmp_calls[0] is not None else ()


def can_confine_threads() -> bool:
    """Whether a thread can run torch's kernels on one intra-op thread without touching other threads."""
    return bool(_openmp())


@contextmanager
def one_intra_op_thread():
    """Within it, torch runs this thread's kernels on one intra-op thread.

    OpenMP keeps a thread count per thread, and torch reads the calling thread's: setting it here changes
    no other thread. (``torch.set_num_threads`` would also change the count that threads not yet started
    take on their first kernel.) torch's own set-up of the thread comes first, since it sets the count.
    """
    calls = _openmp()
    if not calls:
        yield
        return
    set_count, get_count = calls
    _torch().get_num_threads()  # torch's per-thread set-up, which sets the count, runs before ours
    before = get_count()
    set_count(1)
    try:
        yield
    finally:
        set_count(before)


def parallel_map(task, items, workspaces: list[Workspace]) -> list:
    """``[task(item, work) for item in items]``, spread over one thread per workspace, in items' order.

    A chunk's kernels are too short for torch's own intra-op threads: each would start and join a parallel
    region several times per chunk, and those joins stall whenever another process holds one of the
    cores. So each thread takes the next chunk as it comes free, and runs its kernels on one intra-op
    thread (see :func:`one_intra_op_thread`). One workspace or one item: the calling thread does it all,
    on the CPU with one intra-op thread too, and on accelerators as it is, their kernels queued in order
    on one stream. On the CPU, tasks run with NumPy's floating-point warnings off, set once per thread (a
    pass tells overflow and NaN from its results; an ``np.errstate`` per chunk held the GIL long enough to
    cost a pass over 1e8 values 5 to 17%).
    """
    torch = _torch()
    items = list(items)
    if len(workspaces) == 1 or len(items) <= 1:
        if workspaces[0].device.type != "cpu":
            return [task(item, workspaces[0]) for item in items]
        with one_intra_op_thread(), np.errstate(all="ignore"):  # a chunk's kernels, even alone, stall
            return [task(item, workspaces[0]) for item in items]  # in OpenMP's joins under load
    results = [None] * len(items)
    claim, lock, stop = itertools.count(), threading.Lock(), threading.Event()

    def work_through(work):
        try:
            # grad mode and NumPy's error state are per thread: a pass handles sums past the range (Inf) itself
            with one_intra_op_thread(), torch.no_grad(), np.errstate(all="ignore"):
                while not stop.is_set():
                    with lock:
                        position = next(claim)
                    if position >= len(items):
                        return
                    results[position] = task(items[position], work)
        except BaseException:
            stop.set()  # the other threads stop after their chunk
            raise

    workers = workspaces[: len(items)]
    futures = [_threads(len(workers)).submit(work_through, work) for work in workers]
    try:
        for future in futures:
            future.result()
    finally:  # an interrupt: the threads stop after their chunk
        stop.set()
        wait(futures)
    return results
