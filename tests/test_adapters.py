"""Arrays of other libraries and DTensor: displayed and converted through their adapters."""

import math

import kinds
import numpy as np
import pytest
import torch
from conftest import free_port, html_facts
from kinds import ExportedArray

from ipython_tensorview import convert
from ipython_tensorview.summary import numbers

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")


# ---- JAX arrays on one device ----

@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int32"])
def test_a_jax_array_displays_with_its_own_name_and_exact_statistics(display, dtype):
    plain, html = display
    x = jnp.asarray(np.random.default_rng(0).normal(size=(40, 30)) * 10, dtype=dtype)
    reference = np.asarray(x, dtype=np.float64)
    header = plain(x).splitlines()[0]
    assert header.startswith(f"jax.Array (40, 30) {dtype} cpu:0 · memory immutable · ")
    facts = html_facts(html(x))
    assert (facts["type"], facts["shape"], facts["device"], facts["memory"]) == ("jax.Array", "(40, 30)", "cpu:0",
                                                                              "immutable")
    assert (facts["min"], facts["max"]) == (f"{reference.min():.4g}", f"{reference.max():.4g}")
    assert math.isclose(float(facts["mean"]), reference.mean(), rel_tol=1e-3, abs_tol=1e-3)


def test_np_on_a_jax_array_is_a_read_only_view_of_its_memory():
    x = jnp.arange(12.0).reshape(3, 4)
    result = convert(x)
    assert result.shares_memory and not result.array.flags.writeable
    assert result.array.__array_interface__["data"][0] == x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(result.array, np.arange(12.0).reshape(3, 4))
    assert str(result) == ("ndarray float32 (3, 4): shares memory with the jax.Array, read-only: in-place writes to "
                           "the jax.Array show in the array (the jax.Array's memory is read-only)")
    copied = convert(x, "always")
    assert not copied.shares_memory and not np.shares_memory(copied.array, result.array)


def test_a_bfloat16_jax_array_is_upcast_in_one_copy():
    x = jnp.arange(4, dtype=jnp.bfloat16)
    result = convert(x)
    assert (result.shares_memory, result.steps, result.array.dtype) == (False, ("bfloat16 -> float32",), np.float32)
    np.testing.assert_array_equal(result.array, [0, 1, 2, 3])


def test_a_jax_array_inside_a_dict_is_one_line(display):
    plain, _ = display
    plain.max_width = 100
    lines = plain({"x": jnp.ones(3), "t": torch.ones(2)}).split("\n")
    assert len(lines) == 2
    assert lines[0].startswith("{'x': jax.Array (3,) float32 cpu:0 · memory immutable · 12 B · min 1 max 1 mean 1 ")
    assert lines[1].startswith(" 't': Tensor (2,) float32 cpu · 8 B · min 1 max 1 mean 1 ")


# ---- any DLPack array ----

def test_array_types_lists_more_classes_to_display_by_name(settings):
    from IPython.core.formatters import HTMLFormatter, PlainTextFormatter
    from traitlets import TraitError

    from ipython_tensorview.formatters import TensorFormatters

    plain, html = PlainTextFormatter(), HTMLFormatter()
    plain.max_width = 1000
    printers = TensorFormatters(settings)
    printers.register(plain, html)
    exported = ExportedArray(torch.arange(6.0).reshape(2, 3))
    assert plain(exported).startswith("<kinds.ExportedArray at ")  # not listed: Python's own repr
    settings.array_types = ["kinds.ExportedArray"]  # as %config sets it, after loading
    assert plain(exported).startswith("kinds.ExportedArray (2, 3) float32 cpu · 24 B · min 0 max 5 mean 2.5")
    assert html_facts(html(exported))["type"] == "kinds.ExportedArray"
    settings.array_types = ["cupy.ndarray"]  # listed already, and the class above no longer
    assert plain(exported).startswith("<kinds.ExportedArray at ")
    printers.unregister()
    assert plain(torch.ones(2)) == repr(torch.ones(2)) and not html.type_printers and not html.deferred_printers
    settings.array_types = ["kinds.ExportedArray"]  # unregistered: the setting no longer registers anything
    assert plain(exported).startswith("<kinds.ExportedArray at ")
    with pytest.raises(TraitError, match="'ExportedArray' is not a module and a class name, like 'mlx.core.array'"):
        settings.array_types = ["ExportedArray"]


def test_array_types_changes_touch_only_the_classes_added_or_taken_out(settings, monkeypatch):
    """A class listed by a module that re-exports it loses its printer when taken out, and a printer the
    user registered for tensors after loading outlives any change of the list."""
    import sys
    import types

    from IPython.core.formatters import HTMLFormatter, PlainTextFormatter
    from traitlets import TraitError

    from ipython_tensorview.formatters import TensorFormatters

    class Reexported(ExportedArray):
        __module__, __qualname__ = "arraylib._impl", "Reexported"

    monkeypatch.setitem(sys.modules, "arraylib", types.SimpleNamespace(Array=Reexported))
    plain, html = PlainTextFormatter(), HTMLFormatter()
    printers = TensorFormatters(settings)
    printers.register(plain, html)
    plain.for_type(torch.Tensor, lambda obj, p, cycle: p.text("the user's"))
    exported = Reexported(torch.arange(3.0))
    settings.array_types = ["arraylib.Array"]
    assert plain(exported).startswith("arraylib.Reexported (3,) float32 cpu") and plain(torch.ones(1)) == "the user's"
    settings.array_types = []
    assert plain(exported).startswith("<arraylib._impl.Reexported at ") and plain(torch.ones(1)) == "the user's"
    settings.array_types = ["arraylib.Array", "arraylib._impl.Reexported"]  # one class under two names
    settings.array_types = ["arraylib._impl.Reexported"]  # one taken out: the other still lists it
    assert plain(exported).startswith("arraylib.Reexported (3,) float32 cpu")
    settings.array_types = ["laterlib.Array"]  # listed before its module is imported, by a re-exporting name
    monkeypatch.setitem(sys.modules, "laterlib", types.SimpleNamespace(Array=Reexported))
    printers._resolve_listed()  # as each output begins
    assert plain(exported).startswith("arraylib.Reexported (3,) float32 cpu")
    printers.unregister()
    assert plain(torch.ones(1)) == "the user's" and not html.type_printers
    for bad, why in (("1lib.Array", "is not a module and a class name"), ("builtins.list", "is a built-in class")):
        with pytest.raises(TraitError, match=f"^TensorView.array_types: '{bad}' {why}"):
            settings.array_types = [bad]


# ---- DTensor, on a mesh of one (gloo, in this process) ----

@pytest.fixture(scope="module")
def mesh_of_one():
    import torch.distributed as dist

    try:
        yield kinds.mesh_of_one()
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("kind", kinds.OTHER_ARRAYS, ids=lambda k: k.name)
def test_every_other_array_converts_and_displays_through_its_adapter(kind, mesh_of_one, display, settings):
    """The catalogue's arrays of other libraries: values, dtype, steps and the sharing truth (against the
    array's own memory), and a display under the library's name that shows every value."""
    plain, html = display
    array = kind.make()
    settings.array_types = [f"{type(array).__module__}.{type(array).__name__}"]  # where it is not displayed already
    result = convert(array)
    assert (result.array.dtype, result.steps, result.shares_memory) == (np.dtype(kind.dtype), kind.steps, kind.shares)
    np.testing.assert_array_equal(result.array, kind.reference(array))
    assert np.shares_memory(result.array, kind.memory(array)) is kind.shares
    values = kind.reference(array).astype(np.float64)
    low, high, mean = numbers([values.min(), values.max(), values.mean()])
    text = plain(array)
    assert text.startswith(f"{kind.type_name} (2, 3) ") and f" min {low} max {high} mean {mean} " in text
    assert text.endswith(np.array2string(result.array)) and html_facts(html(array))["type"] == kind.type_name


@pytest.mark.parametrize("kind", kinds.OTHER_ARRAYS, ids=lambda k: k.name)
def test_the_verdict_on_every_other_array_is_what_convert_does(kind, mesh_of_one, settings):
    from test_convert import what_convert_does

    from ipython_tensorview.convert import verdict

    for policy in ("never", "always", "auto"):
        array = kind.make()
        assert verdict(array, policy, settings=settings) == what_convert_does(array, policy, settings)


def test_a_dtensor_on_one_rank_shows_the_whole_tensor_and_its_placements(display, mesh_of_one):
    from torch.distributed.tensor import Shard, distribute_tensor

    plain, html = display
    full = torch.arange(12.0).reshape(3, 4)
    w = distribute_tensor(full, mesh_of_one, [Shard(0)])
    header = plain(w).splitlines()[0]
    assert header == ("DTensor (3, 4) float32 cpu · placements (Shard(dim=0)) · mesh cpu (1,) · "
                      "shard (3, 4) on rank 0 of 1 · 48 B · min 0 max 11 mean 5.5 std 3.452 · "
                      "█ █ █ █ █ █  █ █ █ █ █ █")
    assert html_facts(html(w))["placements"] == "(Shard(dim=0))"
    result = convert(w)
    assert result.shares_memory and result.steps == ()
    np.testing.assert_array_equal(result.array, full.numpy())


def test_np_gather_runs_full_tensor_and_says_so(ip, mesh_of_one, capsys):
    from torch.distributed.tensor import Replicate, distribute_tensor

    ip.user_ns["w"] = distribute_tensor(torch.ones(2, 2), mesh_of_one, [Replicate()])
    array = ip.run_line_magic("np", "-g w")
    np.testing.assert_array_equal(array, np.ones((2, 2)))
    # on a mesh of one the gathered tensor is this rank's shard itself: said of the DTensor
    assert np.shares_memory(array, ip.user_ns["w"].to_local().numpy())
    assert capsys.readouterr().out == ("w -> ndarray float32 (2, 2): shares memory with the DTensor: in-place writes "
                                       "to either show in both (steps: gather: full_tensor())\n")
    ip.user_ns["t"] = torch.ones(2)
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=r"^%np -g t: -g/--gather gathers a DTensor's shards, and this is not a "
                                         r"DTensor but a Tensor$"):
        ip.run_line_magic("np", "-g t")


# ---- DTensor on two ranks: each shows its shard, and only --gather communicates ----

def _two_ranks(rank: int, port: int, results) -> None:
    import torch.distributed as dist
    from IPython.testing import globalipapp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        mesh = init_device_mesh("cpu", (2,))
        full = torch.arange(24.0).reshape(4, 6)
        globalipapp.start_ipython()
        shell = globalipapp.get_ipython()
        shell.run_line_magic("load_ext", "ipython_tensorview")
        plain = shell.display_formatter.formatters["text/plain"]
        plain.max_width = 1000
        seen = {}
        for name, placement in (("shard0", Shard(0)), ("shard1", Shard(1)), ("replicate", Replicate())):
            shell.user_ns["w"] = w = distribute_tensor(full, mesh, [placement])
            local = shell.run_line_magic("np", "-q w")
            gathered = shell.run_line_magic("np", "-q -g w")
            seen[name] = (plain(w).splitlines()[0], local.tolist(), gathered.tolist())
        results.put((rank, seen))
    finally:
        dist.destroy_process_group()


def test_on_two_ranks_each_shows_its_shard_and_gather_gives_the_whole():
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    results = context.Queue()
    port = free_port()
    processes = [context.Process(target=_two_ranks, args=(rank, port, results)) for rank in range(2)]
    for process in processes:
        process.start()
    try:
        seen = dict(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    full = np.arange(24.0).reshape(4, 6)
    for rank in (0, 1):
        header, local, gathered = seen[rank]["shard0"]
        assert header.startswith(f"DTensor (4, 6) float32 cpu · placements (Shard(dim=0)) · mesh cpu (2,) · "
                                 f"shard (2, 6) on rank {rank} of 2 · 96 B · statistics and values of rank {rank}'s "
                                 "shard; %np --gather for the whole (a collective) · ")
        assert f" min {12 * rank} max {12 * rank + 11} " in header
        assert local == full[2 * rank : 2 * rank + 2].tolist() and gathered == full.tolist()
        header, local, gathered = seen[rank]["shard1"]
        assert local == full[:, 3 * rank : 3 * rank + 3].tolist() and gathered == full.tolist()
        header, local, gathered = seen[rank]["replicate"]
        assert "statistics and values of rank" not in header and "min 0 max 23" in header
        assert local == gathered == full.tolist()


def test_the_listing_shows_other_libraries_arrays_and_dtensors(ip, mesh_of_one, capsys):
    from torch.distributed.tensor import Shard, distribute_tensor

    ip.user_ns["x"] = jnp.ones((2, 3))
    ip.user_ns["w"] = distribute_tensor(torch.ones(4, 2), mesh_of_one, [Shard(0)])
    ip.run_line_magic("np", "")
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["x"] == ["x", "(2,", "3)", "float32", "cpu:0", "24", "B", "share"]
    assert rows["w"] == ["w", "(4,", "2)", "float32", "cpu", "32", "B", "share"]


# ---- a JAX array sharded over four host devices (XLA's flag must be set before JAX starts: a child) ----

SHARDED = """
import json, os, sys
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax, jax.numpy as jnp, ml_dtypes, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from IPython.core.formatters import DisplayFormatter
from ipython_tensorview import convert
from ipython_tensorview.config import TensorView
from ipython_tensorview.formatters import TensorFormatters
from ipython_tensorview.render_text import render_text
from ipython_tensorview.summary import summarize
import ipython_tensorview.adapters.dlpack as dlpack_adapter, ipython_tensorview.adapters.jax as jax_adapter


def unreachable(*args, **kwargs):
    raise RuntimeError("torch was not built for this device")


if sys.argv[1] == "xla":  # torch cannot reach the devices: XLA reads the array
    dlpack_adapter.as_tensor = unreachable
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("x", "y"))
values = np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32) * 3 + 1
values[7, 2] = np.nan
x = jax.device_put(jnp.asarray(values), NamedSharding(mesh, P("x", "y")))
summary = summarize(x, TensorView())
result = convert(x)
stats = summary.stats


def own(result, x):  # memory of its own: writeable, not JAX's copy nor a replica's memory, a new one each time
    memories = [np.asarray(x), *(np.asarray(shard.data) for shard in x.addressable_shards)]
    return [result.shares_memory, result.array.flags.writeable, any(np.shares_memory(result.array, m)
            for m in memories), convert(x).array is result.array,
            bool(np.array_equal(result.array, np.asarray(x), equal_nan=True))]


def described(array, spec=P("x")):
    s = summarize(jax.device_put(jnp.asarray(array), NamedSharding(mesh, spec)), TensorView()).stats
    return [s.count, s.min, s.max, s.mean, s.std, s.nan, s.posinf, s.neginf, list(s.histogram), s.histogram_step]


def reference(values):  # NumPy's float64 reading (complex: of |z|), and np.histogram over the 24 bins
    from ipython_tensorview.histogram import bin_edges

    values = np.abs(values.astype(np.complex128)) if np.iscomplexobj(values) else values.astype(np.float64)
    finite = values[np.isfinite(values)]
    histogram = np.histogram(finite, bins=bin_edges(finite.min(), finite.max(), 24))[0].tolist()
    return [int(finite.size), finite.min(), finite.max(), finite.mean(), finite.std(), int(np.isnan(values).sum()),
            int((values == np.inf).sum()), int((values == -np.inf).sum()), histogram]


display = DisplayFormatter()
display.formatters["text/plain"].max_width = 400
TensorFormatters(TensorView()).register(display.formatters["text/plain"], display.formatters["text/html"], display)
counted, count_true = [], jax_adapter.true_count
jax_adapter.true_count = lambda a: counted.append(a) or count_true(a)
flags = display.format(jax.device_put(jnp.asarray(values > 1), NamedSharding(mesh, P("x", "y"))))[0]
CASES = {
    "integers": np.arange(-1000, 1400, dtype=np.int32).reshape(400, 6) * 7,
    "integers far from zero": 1_700_000_000 + 3 * np.arange(64, dtype=np.int32),
    "floats far from zero": (1e6 + np.random.default_rng(2).normal(size=64)).astype(np.float32),
    "edges of float32": np.tile(np.array([-3e38, -2e38, 2e38, 3e38], np.float32), 4),
    "squares beyond float32": np.random.default_rng(1).normal(size=(64, 8)).astype(np.float32) * 1e30 + 1e31,
    "float8 with NaN": np.array([-2.25, 1.0, np.nan, 2.0] * 4, np.float32).astype(ml_dtypes.float8_e4m3fn),
    "complex inf + nan j": np.array([complex(np.inf, np.nan), 3 + 4j, 1, 2] * 4, np.complex64),
    "uint8, its whole range": np.arange(256, dtype=np.uint8),
    "int8 bunched at one end": np.array([-128] * 7 + [127], np.int8),
    "int4": np.array([-8, -3, 0, 7, 2, -1, 4, 6], dtype=ml_dtypes.int4),
    "int32, its whole range": np.array([-2**31, 2**31 - 1, 0, 5, -7, 1 << 20, -(1 << 30), 12] * 2, np.int32),
    "uint32 above 2**31": 3_000_000_000 + np.arange(64, dtype=np.uint32),
    "small values beside huge ones": np.array([-3e38, 3e38, -1, 1] * 2, np.float32),
}
CASES["squares beyond float32"][3, :2] = [np.inf, -np.inf]
json.dump({"text": render_text(summary, 400), "first": stats.first_non_finite, "stats": [stats.count, stats.min,
           stats.max, stats.mean, stats.std, stats.nan, list(stats.histogram)],
           "steps": list(result.steps), "shares": result.shares_memory, "equal": bool(np.array_equal(
           result.array, values, equal_nan=True)), "own": own(result, x),
           "replicated copy": own(convert(jax.device_put(jnp.asarray(values), NamedSharding(mesh, P())),
                                          copy="always"), jax.device_put(jnp.asarray(values), NamedSharding(mesh, P()))),
           "cases": {name: [described(array), reference(array)] for name, array in CASES.items()},
           "reference": reference(values),
           "replicated": described(values, P()),
           "large": described(np.random.default_rng(1).normal(size=(8192, 2048)).astype(np.float32)),
           "bool": [len(counted), flags["text/plain"].splitlines()[0], "text/html" in flags]}, sys.stdout)
"""


@pytest.mark.parametrize("reader", ["torch", "xla"])
def test_a_sharded_jax_array_is_read_on_its_devices_and_gathered_by_np(reader):
    """Each shard read on its device by the torch engine through DLPack; where torch cannot reach the
    devices, by XLA. Either way exact over every element, checked against NumPy on arrays at the edges."""
    import json
    import subprocess
    import sys

    from ipython_tensorview.adapters.xla import sample_steps
    from ipython_tensorview.histogram import histogram_step

    done = subprocess.run([sys.executable, "-c", SHARDED, reader], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    header = seen["text"].splitlines()[0]
    assert header.startswith("jax.Array (400, 6) float32 cpu:0..3 · sharding P('x', 'y') · mesh x=2 y=2 · "
                             "shards 4 × (200, 3) · 9.4 KiB · min ")
    values = np.random.default_rng(0).normal(size=(400, 6)).astype(np.float32) * 3 + 1
    values[7, 2] = np.nan
    count, low, high, mean, std, nan, posinf, neginf, histogram = seen["reference"]
    assert seen["stats"][:3] + seen["stats"][5:] == [count, low, high, nan, histogram]
    assert math.isclose(seen["stats"][3], mean, rel_tol=1e-5) and math.isclose(seen["stats"][4], std, rel_tol=1e-5)
    assert seen["text"].split("\n", 1)[1] == np.array2string(values)  # the edges, each from the shard holding it
    assert (seen["steps"], seen["shares"], seen["equal"]) == (["gathered 4 shards from cpu:0..3"], False, True)
    assert seen["own"] == seen["replicated copy"] == [False, True, False, False, True]
    assert seen["first"] == [7, 2] and "nan 1 (first at [7, 2])" in header
    true = int((values > 1).sum())
    assert seen["bool"] == [1, f"jax.Array (400, 6) bool cpu:0..3 · sharding P('x', 'y') · mesh x=2 y=2 · "
                               f"shards 4 × (200, 3) · 2.3 KiB · bool: {true} of 2400 true ({true / 2400:.1%})",
                            True]  # counted once for the text and the HTML of one output
    for name, (got, (count, low, high, mean, std, nan, posinf, neginf, histogram)) in seen["cases"].items():
        assert got[:3] + got[5:9] == [count, low, high, nan, posinf, neginf, histogram], name
        scale = max(abs(low), abs(high))  # a mean of zero is known to float32's precision of the values
        assert math.isclose(got[3], mean, rel_tol=1e-6, abs_tol=1e-7 * scale), name
        assert math.isclose(got[4], std, rel_tol=1e-5), name
    count, low, high, mean, std, nan, posinf, neginf, histogram = seen["reference"]
    got = seen["replicated"]  # each copy counted once
    assert got[:3] + [got[5]] == [count, low, high, nan] and math.isclose(got[3], mean, rel_tol=1e-5)
    count, low, high, mean, std, nan, posinf, neginf, histogram, step = seen["large"]
    assert count == 8192 * 2048 and abs(mean) < 1e-3 and math.isclose(std, 1.0, rel_tol=1e-3)
    if reader == "xla":  # a sample along each dimension: no reshaping, which moves the data
        steps = sample_steps((8192, 2048), 1 << 20)
        sampled = len(range(steps[0] // 2, 8192, steps[0])) * len(range(steps[1] // 2, 2048, steps[1]))
        assert step == steps[0] * steps[1] > 1 and 0.5 < sampled / 2**20 < 1.5
    else:  # each of the two distinct shards' sample, every step-th element in memory order
        assert step == histogram_step(torch.empty(4096, 2048)) > 1
        sampled = 2 * len(range(step // 2, 4096 * 2048, step))
    assert sampled <= sum(histogram) <= sampled + 2  # and the bins of the exact min and max, if it missed them
    assert histogram[0] >= 1 and histogram[-1] >= 1


def test_a_jax_array_other_processes_share_is_read_from_this_process_shards_alone():
    """Reading another process's shard is a collective, which the other processes would not join: the
    statistics come from the shards this process holds, there are no values, and %np says what to do."""
    from types import SimpleNamespace

    from ipython_tensorview.adapters import jax as jax_adapter
    from ipython_tensorview.tensor_kinds import TensorConversionError

    held = jnp.arange(6.0).reshape(2, 3)
    shard = SimpleNamespace(replica_id=0, index=(slice(2, 4), slice(None)), data=held)
    copy = SimpleNamespace(replica_id=1, index=(slice(2, 4), slice(None)), data=held)
    spread = SimpleNamespace(is_fully_addressable=False, addressable_shards=[shard, copy], ndim=2, size=12,
                             shape=(4, 3), dtype=held.dtype, is_deleted=lambda: False)
    assert jax_adapter._parts(spread) == [((2, 0), held)]  # each held shard once, placed in the array
    assert jax_adapter.preview(spread, 1000, 3) is None
    stats = jax_adapter.statistics(spread, 4)
    assert (stats.count, stats.min, stats.max, stats.mean, stats.histogram) == (6, 0.0, 5.0, 2.5, (2, 1, 1, 2))
    with pytest.raises(TensorConversionError, match="^this jax.Array spans devices of other processes: gather"):
        jax_adapter.to_array(spread)


# ---- CuPy: only where CUDA and CuPy are (the device machine) ----

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cupy_array_is_read_on_its_device_and_copied_once(settings):
    cupy = pytest.importorskip("cupy")
    from ipython_tensorview.render_text import render_text
    from ipython_tensorview.summary import summarize

    x = cupy.arange(12, dtype=cupy.float32).reshape(3, 4)
    shown = render_text(summarize(x, settings))
    assert shown.startswith("cupy.ndarray (3, 4) float32 cuda:0 · 48 B · min 0 max 11 mean 5.5")
    result = convert(x)
    assert (result.shares_memory, result.steps) == (False, ("cuda:0 -> cpu",))
    np.testing.assert_array_equal(result.array, np.arange(12, dtype=np.float32).reshape(3, 4))


ON_A_GPU = """
import json, numpy as np, jax, jax.numpy as jnp
from ipython_tensorview import convert
from ipython_tensorview.config import TensorView
from ipython_tensorview.render_text import render_text
from ipython_tensorview.summary import summarize
found = {}
for dtype in ("float32", "bfloat16"):
    x = jnp.arange(12, dtype=dtype).reshape(3, 4)
    result = convert(x)
    found[dtype] = [render_text(summarize(x, TensorView())).splitlines()[0], str(result),
                    np.array_equal(result.array, np.arange(12).reshape(3, 4))]
print(json.dumps(found))
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_jax_array_on_a_gpu_is_read_there_and_copied_once():
    import json
    import os
    import subprocess
    import sys

    environment = {**os.environ, "JAX_PLATFORMS": "cuda"}  # (the tests' own JAX is held to the CPU)
    done = subprocess.run([sys.executable, "-c", ON_A_GPU], capture_output=True, text=True, timeout=180,
                          env=environment)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["float32"] == [
        "jax.Array (3, 4) float32 cuda:0 · memory immutable · 48 B · min 0 max 11 mean 5.5 std 3.452 · "
        "█ █ █ █ █ █  █ █ █ █ █ █",
        "ndarray float32 (3, 4): copied: cuda:0 -> cpu", True]
    assert found["bfloat16"][1:] == ["ndarray float32 (3, 4): copied: cuda:0 -> cpu, bfloat16 -> float32", True]
    assert found["bfloat16"][0] == found["float32"][0].replace("float32", "bfloat16").replace("48 B", "24 B")


def test_a_bfloat16_jax_array_through_ml_dtypes_is_read_only(settings):
    settings.ml_dtypes = True
    x = jnp.arange(4).astype(jnp.bfloat16)
    result = convert(x, settings=settings)
    assert result.shares_memory and not result.array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        result.array[0] = 42
    assert float(x[0]) == 0.0


def test_a_failing_array_inside_a_container_keeps_one_line(display):
    plain, _ = display
    dead = jnp.ones(3)
    dead.delete()
    text = plain([dead, torch.ones(2)])
    assert "\n" not in text and text.startswith(
        "[ArrayImpl (ipython_tensorview could not display it: TensorConversionError: this jax.Array has been "
        "deleted (its buffer is gone)), Tensor (2,) float32 cpu")
