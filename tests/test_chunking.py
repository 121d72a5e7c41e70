import subprocess
import sys
import threading
import weakref

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ipython_tensorview import chunking
from ipython_tensorview import stats as stats_module
from ipython_tensorview.chunking import Walk, Workspace, chunks, parallel_map
from ipython_tensorview.stats import tensor_stats


def _workspaces(t, limit, count):
    return [Workspace(t, limit) for _ in range(count)]


def test_a_walk_on_several_threads_gives_every_chunk_in_order():
    t = torch.arange(1000, dtype=torch.float32).reshape(10, 100).T  # not contiguous: pieces are copied
    walk = Walk(t, 64, _workspaces(t, 64, 3))
    threads = set()
    all_started = threading.Barrier(3, timeout=10)

    def read(index, piece, work):
        if threading.get_ident() not in threads:  # each thread's first chunk waits for the others
            threads.add(threading.get_ident())
            all_started.wait()
        return index, piece.clone()

    results = walk.map(read)
    assert [index for index, _ in results] == list(range(len(walk)))
    assert torch.equal(torch.cat([piece for _, piece in results]), torch.cat(list(chunks(t, 64))))
    assert walk.offsets == [0, *torch.tensor([p.numel() for _, p in results]).cumsum(0)[:-1].tolist()]
    assert len(threads) == 3


@pytest.mark.parametrize("sliced", [4096, 3], ids=["sliced at once", "sliced by the threads"])
def test_a_flat_walk_reads_views_of_the_tensor_in_order(monkeypatch, sliced):
    """Its chunks are views of the tensor's memory, not copies, whoever slices them."""
    from ipython_tensorview import chunking

    monkeypatch.setattr(chunking, "SLICED", sliced)
    t = torch.arange(1000, dtype=torch.float32)
    walk = Walk(t, 64, _workspaces(t, 64, 2))
    results = walk.map(lambda index, piece, work: (index, piece.data_ptr(), piece.clone()))
    assert [index for index, _, _ in results] == list(range(16))
    assert [pointer for _, pointer, _ in results] == [t.data_ptr() + 4 * 64 * index for index in range(16)]
    assert torch.equal(torch.cat([piece for _, _, piece in results]), t)
    assert walk.map(lambda index, piece, work: piece.numel(), indices=[15, 2]) == [1000 - 15 * 64, 64]


@pytest.mark.parametrize("view", [lambda base: base, lambda base: base.reshape(10, 100).T,
                                  lambda base: base.reshape(10, 10, 10).permute(2, 0, 1)],
                         ids=["contiguous", "transposed", "permuted"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.int16])
def test_a_flat_walks_arrays_are_its_chunks_in_the_tensors_memory(view, dtype):
    """The arrays a pass reads by NumPy: each chunk's memory, not a copy, in the order map() gives them."""
    base = torch.arange(1000).to(dtype)
    t = view(base)
    walk = Walk(t, 64, _workspaces(t, 64, 2))
    arrays = walk.arrays()
    pieces = walk.map(lambda index, piece, work: piece.clone())
    assert len(arrays) == len(pieces) == 16
    for index, (array, piece) in enumerate(zip(arrays, pieces)):
        np.testing.assert_array_equal(array, piece.numpy())
        assert array.__array_interface__["data"][0] == base.data_ptr() + 64 * index * base.element_size()


@pytest.mark.parametrize("t", [torch.arange(1000, dtype=torch.bfloat16), torch.arange(1000.0)[::2],
                               torch._neg_view(torch.arange(1000.0)), torch.ones(1000, dtype=torch.complex64).conj()],
                         ids=["bfloat16", "steps", "neg", "conj"])
def test_no_arrays_where_numpy_cannot_read_the_chunks(t):
    """bfloat16 has no NumPy dtype; a slice with steps is not flat in memory; neg and conj bits would be lost."""
    assert Walk(t, 64, _workspaces(t, 64, 1)).arrays() is None


def test_a_workspaces_arrays_follow_its_buffers():
    """Made once per buffer, and made again for a larger one or after clear(): always the buffer's memory."""
    work = Workspace(torch.zeros(100), 100)

    def address(array):
        return array.__array_interface__["data"][0]

    small = work.array("values", torch.float32, 10)
    assert small.shape == (10,) and work.array("values", torch.float32, 10).base is small.base
    assert address(small) == work.buffer("values", torch.float32, 10).data_ptr()
    grown = work.array("values", torch.float32, 60)  # past the first request: remade at the chunk size
    buffer = work.buffer("values", torch.float32, 60)
    assert grown.shape == (60,) and address(grown) == buffer.data_ptr() and buffer.untyped_storage().nbytes() == 400
    whole = work.buffer("values", torch.float32, 100)  # the buffer itself: no slice of it
    whole.fill_(7)
    np.testing.assert_array_equal(work.array("values", torch.float32, 100), np.full(100, 7, np.float32))
    held = weakref.ref(whole)
    del whole, grown, buffer  # (an array of the buffer, and a view of it, hold it)
    work.clear()
    assert held() is None  # let go, its array too
    again = work.array("values", torch.float32, 5)
    assert again.shape == (5,) and address(again) == work.buffer("values", torch.float32, 5).data_ptr()
    assert work.buffer("values", torch.float32, 5).untyped_storage().nbytes() == 20  # made anew, at that size


def test_an_error_in_one_thread_stops_the_others_and_reaches_the_caller():
    t = torch.zeros(10_000)
    read = []

    def task(index, work):
        read.append(index)
        if index == 3:
            raise ValueError("chunk 3")
        return index

    with pytest.raises(ValueError, match="chunk 3"):
        parallel_map(task, range(10_000), _workspaces(t, 1, 2))
    assert len(read) < 100  # the other thread stopped after its chunk


def test_a_display_changes_no_other_threads_count_nor_grad_mode():
    def new_thread_count():
        seen = []
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        return seen[0]

    before = torch.get_num_threads(), new_thread_count()
    counts, stop = [], threading.Event()

    def start_threads():  # threads that start, and first use torch, while the statistics run
        while not stop.is_set():
            counts.append(new_thread_count())

    starter = threading.Thread(target=start_threads)
    starter.start()
    try:
        t = torch.randn(1 << 20, requires_grad=True)
        with torch.enable_grad():
            results = [tensor_stats(t * 2) for _ in range(3)]
    finally:
        stop.set()
        starter.join()
    assert all(result.count == 1 << 20 for result in results) and counts
    assert set(counts) == {before[1]}
    assert (torch.get_num_threads(), new_thread_count()) == before
    assert torch.is_grad_enabled()


@pytest.mark.skipif(not chunking.can_confine_threads(), reason="torch without OpenMP")
@pytest.mark.parametrize("shape", [(512, 1024), (512 * 1024,)])
def test_the_search_for_nan_runs_torch_kernels_on_one_intra_op_thread(monkeypatch, shape):
    # each kernel, a block's worth, would start and join an OpenMP region: under load, each join stalled for
    # milliseconds (a (4096, 4096) tensor's search took 4.5 s beside four busy processes)
    from ipython_tensorview import nonfinite

    monkeypatch.setattr(nonfinite, "MAX_KEPT_POSITIONS", 0)  # searched for, not kept by the first pass
    seen = []
    real = nonfinite._host_values  # a bfloat16 block's conversion to float32, by torch
    monkeypatch.setattr(nonfinite, "_host_values", lambda block: seen.append(torch.get_num_threads()) or real(block))
    t = torch.randn(shape, dtype=torch.bfloat16)
    t[..., -1] = float("nan")  # the 1-D one's in its last block, the only one read
    before = torch.get_num_threads()
    result = tensor_stats(t)
    assert result.first_non_finite == ((0, 1023) if len(shape) == 2 else (512 * 1024 - 1,))
    assert set(seen) == {1} and torch.get_num_threads() == before


def test_many_threads_share_the_chunk_memory(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    walk = stats_module._walk(torch.zeros(1 << 22), "chunks")
    assert len(walk.workspaces) == stats_module.CPU_WORKERS
    assert walk.limit * len(walk.workspaces) == stats_module.CHUNK_ELEMENTS["cpu"] * 2


def test_threads_are_confined_once_torch_is_imported_after_the_extension():
    """Asked before torch loads OpenMP, the answer is no; asked again after, it is OpenMP's own."""
    code = ("from ipython_tensorview import chunking; before = chunking.can_confine_threads(); import torch; "
            "print(before, chunking.can_confine_threads(), torch.backends.openmp.is_available())")
    before, after, openmp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                           check=True).stdout.split()
    assert before == "False" and after == openmp


class Reductions(TorchDispatchMode):
    """The reductions run: (name, elements read, dtype read)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.split(".")[0] in ("count_nonzero", "sum"):
            self.seen.append((func.__name__.split(".")[0], args[0].numel(), args[0].dtype, args[0].dim()))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "stepped", "one row"])
def test_a_bool_tensor_off_the_cpu_is_counted_without_a_copy_of_its_size(pretend_cuda, monkeypatch, layout):
    # a GPU's count_nonzero makes a mask and sums it in int64: 9 bytes an element of what it reads
    from ipython_tensorview.adapters.torch import note

    monkeypatch.setattr(chunking, "TRUE_COUNT_ROWS", 4)
    monkeypatch.setattr(chunking, "TRUE_COUNT_ELEMENTS", 1000)
    base = torch.rand(120, 100, generator=torch.Generator().manual_seed(0)) < 0.3
    t = pretend_cuda({"contiguous": base, "transposed": base.T, "stepped": base[::2, 1::3],
                      "one row": base[0, :7]}[layout])
    assert str(t.device) == "cuda:0"
    with Reductions() as mode:
        line = note(t)
    true = int(t.sum())
    assert line == f"bool: {true} of {t.numel()} true ({true / t.numel():.1%})"
    counted = [n for name, n, dtype, dim in mode.seen if name == "count_nonzero" or dim == 2]
    assert sum(counted) == t.numel()
    if layout == "stepped":  # no flat view: views of at most 1000 counted
        assert max(counted) <= 1000 and len(counted) >= t.numel() // 1000
    else:  # a flat view: rows of 255 bytes, four at a time; the rest (fewer than 255) counted
        assert counted == [4 * 255] * (t.numel() // 1020) + [t.numel() // 255 % 4 * 255] * (t.numel() // 255 % 4 > 0) + [
            t.numel() % 255]
        row_sums = [n for name, n, dtype, dim in mode.seen if dtype == torch.uint8 and dim == 1]  # into int64
        assert len(row_sums) == -(-(t.numel() // 255) // 4) and max(row_sums, default=0) <= 4
    odd = pretend_cuda(torch.tensor([0, 1, 2, 255, 3] * 200, dtype=torch.uint8).view(torch.bool))
    assert chunking.true_count(odd) == 800  # a bool made by a view of bytes besides 0 and 1: each non-zero one
    on_cpu = base.clone()
    with Reductions() as mode:  # the CPU counts in place, whole
        true = chunking.true_count(on_cpu)
    assert true == int(on_cpu.sum()) and mode.seen == [("count_nonzero", on_cpu.numel(), torch.bool, 2)]
