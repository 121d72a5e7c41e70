import math
import threading
import warnings
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import CUDA
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

from ipython_tensorview import nonfinite
from ipython_tensorview import stats as stats_module
from ipython_tensorview.chunking import chunks, sample_in_memory_order, strided_sample
from ipython_tensorview.histogram import bin_edges
from ipython_tensorview.stats import tensor_stats


@contextmanager
def stats_path(chunk):
    """``chunk``: the elements per chunk of the chunked passes; "small" for the NumPy path of small tensors,
    "few" for its Python path (which reads a few dozen values, here every small tensor's); "whole" for an
    accelerator's plan (whole-tensor reductions first, then chunks of 64, read again a few at a time:
    temporaries of 2000 bytes), run on the CPU. NaN and Inf are located by NumPy on the small paths, in
    blocks on the others."""
    previous = stats_module.CHUNK_ELEMENTS["cpu"], stats_module.SMALL_ELEMENTS, dict(stats_module.PLANS)
    revisit, few, host = stats_module.REVISIT_BYTES, stats_module.FEW_ELEMENTS, nonfinite.HOST_ELEMENTS
    stats_module.FEW_ELEMENTS = stats_module.SMALL_ELEMENTS if chunk == "few" else 0
    nonfinite.HOST_ELEMENTS = host if chunk in ("small", "few") else 0
    if chunk == "whole":
        stats_module.CHUNK_ELEMENTS["cpu"], stats_module.SMALL_ELEMENTS, stats_module.PLANS["cpu"] = 64, 0, "whole"
        stats_module.REVISIT_BYTES = 2000
    elif chunk not in ("small", "few"):
        stats_module.CHUNK_ELEMENTS["cpu"], stats_module.SMALL_ELEMENTS = chunk, 0
    try:
        yield
    finally:
        stats_module.CHUNK_ELEMENTS["cpu"], stats_module.SMALL_ELEMENTS, plans = previous
        stats_module.REVISIT_BYTES, stats_module.FEW_ELEMENTS, nonfinite.HOST_ELEMENTS = revisit, few, host
        stats_module.PLANS.clear()
        stats_module.PLANS.update(plans)


@pytest.fixture(params=["chunked", "small", "few", "whole"])
def path(request):
    """Run a test through the chunked passes (chunks of 64), the small-tensor NumPy and Python paths and the
    whole-tensor plan of accelerators."""
    with stats_path(64 if request.param == "chunked" else request.param):
        yield request.param


def _reference(t):
    values = t.detach()
    if values.is_quantized:
        values = values.dequantize()
    if values.dtype == torch.complex32:  # magnitudes in float32, which holds them
        array = values.to(torch.complex64).abs().to(torch.float64).numpy()
    elif values.dtype == torch.complex64:  # magnitudes in float64 (complex64's reach beyond float32), each
        parts = torch.view_as_real(values.resolve_conj()).to(torch.float64).numpy()  # step rounded correctly
        array = np.sqrt(parts[..., 0] ** 2 + parts[..., 1] ** 2)
        array[np.isinf(parts).any(axis=-1)] = np.inf  # as hypot has it, beside NaN too
    elif values.is_complex():
        array = values.abs().numpy()
    else:
        array = values.to(torch.float64).numpy()
    return array.ravel()


def _assert_matches(result, t, bins=24):
    array = _reference(t)
    finite = array[np.isfinite(array)]
    assert result.count == finite.size
    assert result.nan == np.isnan(array).sum()
    assert result.posinf == np.isposinf(array).sum()
    assert result.neginf == np.isneginf(array).sum()
    if finite.size:
        assert result.min == finite.min() and result.max == finite.max()
        scale = max(1.0, abs(finite).max())
        assert math.isclose(result.mean, finite.mean(), rel_tol=1e-5, abs_tol=1e-6 * scale)
        assert math.isclose(result.std, finite.std(), rel_tol=1e-4, abs_tol=1e-6 * scale)
        # NumPy's own bins: the same edges, and the same bin for a value sitting on an edge
        assert result.histogram == _numpy_histogram(finite, bins)


@st.composite
def numeric_tensors(draw):
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32,
                                  torch.int64, torch.uint8, torch.int8, torch.uint16, torch.complex64]))
    shape = draw(st.lists(st.integers(1, 40), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(shape, generator=g, dtype=torch.float64) * draw(st.sampled_from([1, 1e3, 1e-3]))
    t = t + draw(st.sampled_from([0, 100, -1e4]))
    if dtype.is_complex:
        t = torch.complex(t, t.flip(0)).to(dtype)
    elif dtype.is_floating_point:
        t = t.to(dtype)
        if draw(st.booleans()):
            flat = t.view(-1)
            for index, value in zip(draw(st.lists(st.integers(0, flat.numel() - 1), max_size=4)),
                                    draw(st.lists(st.sampled_from([math.nan, math.inf, -math.inf]), max_size=4))):
                flat[index] = value
    else:
        info = torch.iinfo(dtype)
        t = t.clamp(info.min, info.max).to(dtype)
    view = draw(st.sampled_from(["none", "transpose", "step", "expand"]))
    if view == "transpose" and t.dim() >= 2:
        t = t.transpose(0, -1)
    elif view == "step":
        t = t[::2]
    elif view == "expand":
        t = t.unsqueeze(0).expand(3, *t.shape)
    return t


@settings(max_examples=150, deadline=None)
@given(numeric_tensors(), st.sampled_from([7, 64, 1 << 18, "small", "few", "whole"]))
def test_stats_match_numpy_whatever_the_chunking(t, chunk):
    with stats_path(chunk):
        _assert_matches(tensor_stats(t), t)


def test_chunks_cover_every_element_once_and_stay_small():
    t = torch.arange(6 * 50 * 7, dtype=torch.float32).reshape(6, 50, 7).transpose(0, 2)[:, ::3]
    pieces = list(chunks(t, 40))
    assert all(p.numel() <= 40 for p in pieces)
    np.testing.assert_array_equal(np.sort(torch.cat(pieces).numpy()), np.sort(t.reshape(-1).numpy()))


def test_contiguous_chunks_are_views():
    t = torch.arange(100.0)
    assert all(p.data_ptr() >= t.data_ptr() and p._base is t for p in chunks(t, 30))


def test_all_non_finite(path):
    result = tensor_stats(torch.tensor([math.nan, math.inf, -math.inf]))
    assert (result.count, result.nan, result.posinf, result.neginf) == (0, 1, 1, 1)
    assert math.isnan(result.mean) and result.histogram == ()


def test_constant_tensor_fills_one_bin(path):
    result = tensor_stats(torch.full((10,), 3.0), bins=4)
    assert (result.min, result.max, result.mean, result.std) == (3.0, 3.0, 3.0, 0.0)
    assert result.histogram == (0, 0, 10, 0)  # as np.histogram: the range widened to [2.5, 3.5]


def test_stats_do_not_apply_to_bool_raw_or_empty():
    assert tensor_stats(torch.ones(3, dtype=torch.bool)) is None
    assert tensor_stats(torch.empty(0)) is None
    assert tensor_stats(torch.zeros(3, dtype=torch.uint8).view(torch.uint4)) is None


def test_exact_integer_extremes(path):
    t = torch.tensor([2**40 + 1, -(2**40) - 3], dtype=torch.int64)
    result = tensor_stats(t)
    assert (result.min, result.max) == (-(2**40) - 3, 2**40 + 1)


def test_quantized_per_channel_uses_dequantized_values():
    x = torch.randn(4, 5)
    q = torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.05, 0.1]), torch.zeros(4, dtype=torch.long), 0,
                                   torch.qint8)
    _assert_matches(tensor_stats(q), q)


def test_complex_statistics_describe_the_magnitude(path):
    t = torch.tensor([3 + 4j, -6 + 8j])
    result = tensor_stats(t)
    assert (result.min, result.max, result.mean, result.of) == (5.0, 10.0, 7.5, "|z|")


def test_sampling_above_the_cap_is_deterministic_and_marked():
    t = torch.arange(1_000_000, dtype=torch.float32).reshape(1000, 1000)
    first, second = tensor_stats(t, max_elements=10_000), tensor_stats(t, max_elements=10_000)
    assert first == second
    assert first.sampled_from == 1_000_000 and first.count <= 10_000
    assert first.count == sample_in_memory_order(t, 10_000).numel()
    assert abs(first.mean - t.mean().item()) / t.mean().item() < 0.01
    assert tensor_stats(t, max_elements=0).sampled_from == 0


@pytest.mark.parametrize("shape", [(10,), (7, 300), (2, 3, 4000)])
def test_strided_sample_is_a_view_near_the_target(shape):
    t = torch.zeros(shape)
    sample = strided_sample(t, 100)
    if t.numel() <= 100:
        assert sample.shape == t.shape
    else:
        assert 100 / 8 <= sample.numel() <= 2 * 100
    assert sample.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()


# ---- exactness across the whole range of every dtype ----

_FLOAT_EXPONENTS = {  # decimal exponents a dtype's finite values span, subnormals included
    torch.float64: (-320, 308), torch.float32: (-44, 38), torch.bfloat16: (-40, 38),
    torch.float16: (-7, 4), torch.float8_e4m3fn: (-2, 2), torch.float8_e5m2: (-4, 4),
}
_INTEGER_DTYPES = [torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.uint16, torch.uint32,
                   torch.uint64]


def _exact_reference(values):
    """count, min, max, mean and std of a list of finite numbers, computed exactly with fractions."""
    from fractions import Fraction

    exact = [Fraction(v) for v in values]
    n = len(exact)
    mean = sum(exact) / n
    variance = sum((v - mean) ** 2 for v in exact) / n
    shift = 0  # the square root of a variance beyond float64, by halving the exponent
    while variance > 2**1000:
        variance, shift = variance / 4**100, shift + 100
    while 0 < variance < 2**-1000:
        variance, shift = variance * 4**100, shift - 100
    return n, min(values), max(values), float(mean), math.ldexp(math.sqrt(variance), shift)


@pytest.mark.parametrize("make", [
    lambda: 1e16 + 2 * (torch.arange(64, dtype=torch.float64) % 2),
    lambda: 1e15 + torch.rand(100, dtype=torch.float64, generator=torch.Generator().manual_seed(0)),
    lambda: -3e12 + torch.randn(50, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1e-3,
], ids=["1e16 + 0 or 2", "1e15 + U(0, 1)", "-3e12 + N(0, 1e-3)"])
def test_the_spread_of_values_far_from_zero_is_exact(path, make):
    t = make()
    count, low, high, mean, std = _exact_reference(t.tolist())
    result = tensor_stats(t)
    assert math.isclose(result.std, std, rel_tol=1e-9) and math.isclose(result.mean, mean, rel_tol=1e-15)


@st.composite
def ranged_tensors(draw):
    """Tensors anywhere in a dtype's range: subnormal to near-overflow, centred or far from zero."""
    dtype = draw(st.sampled_from([*_FLOAT_EXPONENTS, *_INTEGER_DTYPES]))
    n = draw(st.integers(1, 120))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    if dtype.is_floating_point:
        low_exp, high_exp = _FLOAT_EXPONENTS[dtype]
        exponent = draw(st.integers(low_exp, high_exp))
        spread = 10.0**exponent
        offset = spread * draw(st.sampled_from([0, 1, 10, 1e3, 1e6, 1e9, 1e15])) * draw(st.sampled_from([1, -1]))
        info = torch.finfo(dtype)
        offset = max(-info.max, min(info.max, offset))
        values = (torch.randn(n, generator=g, dtype=torch.float64) * spread + offset).clamp(-info.max, info.max)
        extremes = draw(st.lists(st.sampled_from([info.max, -info.max, info.tiny, info.smallest_normal / 8]),
                                 max_size=2))
        values = torch.cat([values, torch.tensor(extremes, dtype=torch.float64)]).to(dtype)
    else:
        info = torch.iinfo(dtype)
        width = min(draw(st.sampled_from([10, 2**20, info.max - info.min])), info.max - info.min)
        start = draw(st.integers(info.min, info.max - width))
        values = torch.randint(0, 2**62, (n,), generator=g, dtype=torch.int64)
        python_values = [start + (v % (width + 1)) for v in values.tolist()]
        python_values += draw(st.lists(st.sampled_from([info.min, info.max]), max_size=2))
        if dtype == torch.uint64:  # torch.tensor() cannot take Python ints above 2**63
            values = torch.from_numpy(np.array(python_values, dtype=np.uint64))
        else:
            values = torch.tensor(python_values, dtype=dtype)
    return values


@settings(max_examples=300, deadline=None)
@given(ranged_tensors(), st.sampled_from([7, 64, 1 << 18, "small", "few", "whole"]))
@example(torch.tensor([0.009765625, 57344.0, -57344.0]).to(torch.float8_e5m2), 7)
@example(torch.tensor([9999999997.06571, 10000000015.409962], dtype=torch.float64), "whole")
def test_statistics_are_exact_across_each_dtypes_range(t, chunk):
    import warnings

    with stats_path(chunk), warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may reach the user's cell
        result = tensor_stats(t)
    python_values = t.tolist() if not t.dtype.is_floating_point else t.to(torch.float64).tolist()
    count, low, high, mean, std = _exact_reference(python_values)
    assert (result.count, result.min, result.max) == (count, low, high)
    assert type(result.min) is type(low)
    assert math.isfinite(result.mean) and math.isfinite(result.std)
    tolerance = 1e-9 if t.dtype in (torch.float64, *_INTEGER_DTYPES) else 1e-5
    scale = max(abs(low), abs(high))
    # below float64, the sums are float32's: each rounds by up to half a float32 unit at the largest
    # magnitude, and a mean near zero amid huge values ([0.0098, 57344, -57344]) keeps that rounding
    rounding = 0.0 if tolerance == 1e-9 else 4 * 2.0**-24 * scale
    assert math.isclose(result.mean, mean, rel_tol=tolerance, abs_tol=max(tolerance * scale * 1e-3, rounding))
    # the spread is known to its own precision, however far from zero the values lie
    assert math.isclose(result.std, std, rel_tol=tolerance, abs_tol=tolerance * (high - low) * 1e-3)
    finite = np.array(python_values, dtype=np.float64)
    assert result.histogram == _numpy_histogram(finite, 24)


def _numpy_histogram(finite, bins):
    """What np.histogram counts: with its own equal bins where it can make them, else with our edges
    (beyond float64's range for high - low); one value sits in the middle bin of NumPy's widened range."""
    if finite.min() == finite.max():
        return tuple(finite.size if i == bins // 2 else 0 for i in range(bins))
    edges = bin_edges(float(finite.min()), float(finite.max()), bins)
    with np.errstate(all="ignore"):
        if np.isfinite(finite.max() - finite.min()) and (np.diff(edges) > 0).all():
            np.testing.assert_array_equal(edges, np.histogram_bin_edges(finite, bins))
            return tuple(np.histogram(finite, bins)[0].tolist())
    return tuple(np.histogram(finite, bins=edges)[0].tolist())


@pytest.mark.parametrize(
    "values, dtype",
    [
        ([1e300, 1e300, 1e300], torch.float64),
        ([1e308, 1.5e308], torch.float64),
        ([-1e308, 1e308], torch.float64),
        ([-1.7976931348623157e308, 1.7976931348623157e308, 0.0], torch.float64),
        ([5e-324, 1e-323, 1.5e-323], torch.float64),
        ([1e-310, 3e-310], torch.float64),
        ([-3.3e38, 3.3e38, 1.0], torch.bfloat16),
        ([3.4e38, 3.4e38], torch.float32),
        ([1e-45, 3e-45], torch.float32),
        ([65504.0, -65504.0, 6e-8], torch.float16),
        ([448.0, -448.0], torch.float8_e4m3fn),
        ([1e8 + 1, 1e8 + 2, 1e8 + 3], torch.float64),
        ([1000.5, 1000.25, 1000.75], torch.float16),
    ],
)
def test_edges_of_the_float_range(values, dtype, path):
    import warnings

    t = torch.tensor(values, dtype=torch.float64).to(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tensor_stats(t)
    count, low, high, mean, std = _exact_reference(t.to(torch.float64).tolist())
    assert (result.count, result.min, result.max) == (count, low, high)
    # exact to float64 rounding; where values cancel, to that rounding of the largest magnitude
    scale = max(abs(low), abs(high))
    assert math.isclose(result.mean, mean, rel_tol=1e-6, abs_tol=1e-12 * scale)
    assert math.isclose(result.std, std, rel_tol=1e-6, abs_tol=1e-12 * scale)
    assert sum(result.histogram) == count


def test_integers_far_from_zero_keep_their_spread(path):
    t = torch.arange(1000) + 2**62  # float64 would round these to two values
    result = tensor_stats(t)
    assert (result.min, result.max) == (2**62, 2**62 + 999)
    assert math.isclose(result.std, np.arange(1000).std(), rel_tol=1e-12)
    unsigned = tensor_stats(torch.from_numpy(np.array([2**64 - 1, 2**64 - 3], dtype=np.uint64)))
    assert (unsigned.min, unsigned.max, unsigned.std) == (2**64 - 3, 2**64 - 1, 1.0)


def test_complex128_magnitudes_keep_float64_range(path):
    result = tensor_stats(torch.tensor([1e50, 2e50j], dtype=torch.complex128))
    assert (result.min, result.max, result.of) == (1e50, 2e50, "|z|")
    tiny = tensor_stats(torch.tensor([1e-300, 3e-300j], dtype=torch.complex128))
    assert (tiny.min, tiny.max) == (1e-300, 3e-300) and math.isclose(tiny.std, 1e-300)


def test_integer_extremes_are_exact(path):
    t = torch.from_numpy(np.array([2**64 - 1, 0, 2**63], dtype=np.uint64))
    result = tensor_stats(t)
    assert (result.min, result.max) == (0, 2**64 - 1)
    signed = tensor_stats(torch.tensor([-(2**63), 2**63 - 1, 5]))
    assert (signed.min, signed.max) == (-(2**63), 2**63 - 1)
    assert signed.mean == 4 / 3  # an exact sum: (-2**63 + 2**63 - 1 + 5) / 3


def test_expanded_dimensions_count_each_stored_element_many_times(path):
    base = torch.tensor([[1.0], [math.nan], [3.0]])
    t = base.expand(3, 10**6)
    result = tensor_stats(t)
    assert (result.count, result.nan, result.min, result.max, result.mean) == (2 * 10**6, 10**6, 1.0, 3.0, 2.0)
    assert result.std == 1.0 and sum(result.histogram) == 2 * 10**6
    assert tensor_stats(torch.zeros(1).expand(10**12)).count == 10**12


# ---- samples that do not fall into step with the data ----

def _patterned(kind: str, seed: int):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(4_000_000, generator=g)
    if kind == "interleaved":  # odd and even elements from two distributions
        t = noise.clone()
        t[1::2] = t[1::2] * 0.2 + 6
        return t.reshape(1000, 4000)
    if kind == "striped":  # every 4th column shifted
        t = noise.reshape(1000, 4000).clone()
        t[:, ::4] += 8
        return t
    if kind == "hwc image":  # three channels with their own levels, interleaved in memory
        t = noise.reshape(800, 1250, 4)[..., :3].contiguous()
        return t + torch.tensor([0.0, 5.0, 10.0])
    return noise.reshape(4000, 1000).T  # transposed: memory order differs from index order


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["interleaved", "striped", "hwc image", "transposed"]), st.integers(0, 2**16))
def test_a_sample_sees_the_shape_of_patterned_data(kind, seed):
    from ipython_tensorview import histogram as histogram_module
    from ipython_tensorview.render_text import sparkline

    t = _patterned(kind, seed)
    exact = tensor_stats(t)  # up to HISTOGRAM_EXACT_ELEMENTS (4 Mi), the histogram counts every element
    previous = histogram_module.HISTOGRAM_EXACT_ELEMENTS
    histogram_module.HISTOGRAM_EXACT_ELEMENTS = 1 << 20  # above this, a sample of about 2**20 elements
    try:
        sampled = tensor_stats(t)
    finally:
        histogram_module.HISTOGRAM_EXACT_ELEMENTS = previous
    assert exact.histogram_step == 1 and sampled.histogram_step > 1
    assert (sampled.min, sampled.max, sampled.count) == (exact.min, exact.max, exact.count)  # still exact
    # statistics of a sample (above stats_max_elements) see every column and channel too
    assert abs(tensor_stats(t, max_elements=1 << 18).mean - exact.mean) < 0.05 * exact.std
    # each bin holds the share of the sample that it holds of the whole, within 5 standard errors of a
    # random sample of that size: aliasing (one column or channel of several) is far outside
    whole, part = np.array(exact.histogram), np.array(sampled.histogram)
    p, q = whole / whole.sum(), part / part.sum()
    assert (np.abs(q - p) <= 5 * np.sqrt(p * (1 - p) / part.sum()) + 2 / part.sum()).all(), (p, q)
    # and the sparkline reads the same, each character at most one level off (a bin near a level's edge)
    levels = "▁▂▃▄▅▆▇█"
    for a, b in zip(sparkline(exact.histogram), sparkline(sampled.histogram)):
        assert abs(levels.index(a.replace(" ", "▁")) - levels.index(b.replace(" ", "▁"))) <= 1


def test_a_sampled_histogram_keeps_the_bins_of_the_exact_extremes():
    t = torch.zeros(20_000_000)
    t[12_345] = -1.0  # one extreme value each side: a sample of every s-th element misses them
    t[7_654_321] = 1.0
    result = tensor_stats(t)
    assert result.histogram_step > 1 and (result.min, result.max) == (-1.0, 1.0)
    assert result.histogram[0] >= 1 and result.histogram[-1] >= 1


# ---- an accelerator's plan, run on the CPU: kernel launches and waits for the device, counted ----

class CountingMode(TorchDispatchMode):
    """Counts the aten operations dispatched (each a kernel launch on a GPU) and the scalar reads."""

    def __init__(self):
        super().__init__()
        self.operations = 0
        self.scalar_reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.operations += 1
        if func is torch.ops.aten._local_scalar_dense.default:  # .item(), float(t): a wait for the device
            self.scalar_reads += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("data", ["normal", "offset", "far offset", "with nan", "three nan"])
def test_the_accelerator_plan_launches_few_kernels_and_waits_little(monkeypatch, data):
    from ipython_tensorview import chunking, histogram

    t = torch.randn(1 << 23, generator=torch.Generator().manual_seed(0))  # above the histogram's exact limit
    if data == "offset":
        t += 1000  # Welford's variance holds up to 1024 std in float32
    if data == "far offset":
        t += 10**5  # beyond: a second, careful pass
    if data == "with nan":
        t[::1000] = math.nan
    if data == "three nan":  # in three chunks of 256: only those are read chunk by chunk
        t[[5, 1 << 20, (1 << 23) - 1]] = math.nan
    reference = tensor_stats(t, plan="chunks")
    fetches = []
    real_to_host = chunking.to_host
    for module in (stats_module, histogram, nonfinite):
        monkeypatch.setattr(module, "to_host", lambda t: fetches.append(t.shape) or real_to_host(t))
    chunk = 1 << 15 if data == "three nan" else stats_module.DEFAULT_CHUNK_ELEMENTS  # (the default: a GPU's)
    monkeypatch.setitem(stats_module.CHUNK_ELEMENTS, "cpu", chunk)
    with CountingMode() as mode:
        result = tensor_stats(t, plan="whole")
    assert (result.min, result.max, result.count, result.nan) == (reference.min, reference.max,
                                                                  reference.count, reference.nan)
    assert math.isclose(result.mean, reference.mean, rel_tol=1e-6, abs_tol=1e-6 * reference.std)
    assert math.isclose(result.std, reference.std, rel_tol=1e-6)
    assert result.histogram == reference.histogram
    assert mode.scalar_reads == 0
    if data in ("normal", "offset"):
        # whatever the tensor's size (an 8 GiB one included): the first pass, then the histogram's sample
        assert len(fetches) == 2 and mode.operations <= 100, (fetches, mode.operations)
    elif data == "far offset":  # one more pass over every chunk (a few at once), and its wait
        assert len(fetches) == 3 and mode.operations <= 150, (fetches, mode.operations)
    elif data == "with nan":  # and one more for where the first NaN is; the 16 chunks holding NaN are read
        # a few at once; the first is looked for in the first alone (chunk by chunk: about 750 operations)
        assert len(fetches) == 4 and result.first_non_finite == reference.first_non_finite == (0,), fetches
        assert mode.operations <= 200, mode.operations
    else:  # the same waits; only the three chunks holding NaN are read chunk by chunk (and the histogram's
        # sample, a fixed 600 operations or so), where reading all 256 would take about 9,000
        assert len(fetches) == 4 and result.first_non_finite == reference.first_non_finite == (5,), fetches
        assert result.nan == 3 and mode.operations <= 1200, mode.operations


@pytest.mark.parametrize("shape", [(1 << 24,), (4096, 4096)])
def test_the_accelerator_plan_reads_the_sample_of_a_sample_in_a_few_chunks(monkeypatch, shape):
    # above stats_max_elements the statistics read a strided 1-D view; its histogram reads every s-th
    # element of that, as one view in a few chunks (chunk by chunk, a sliver of each: about 700 operations)
    monkeypatch.setitem(stats_module.CHUNK_ELEMENTS, "cpu", stats_module.DEFAULT_CHUNK_ELEMENTS)
    t = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    reference = tensor_stats(t, max_elements=12_000_000)  # every third element: above the exact histogram's limit
    with CountingMode() as mode:
        result = tensor_stats(t, plan="whole", max_elements=12_000_000)
    assert result.sampled_from == reference.sampled_from == t.numel() and result.histogram_step > 1
    assert result.histogram == reference.histogram and (result.min, result.max) == (reference.min, reference.max)
    assert mode.operations <= 100, mode.operations


class ReductionInputs(TorchDispatchMode):
    """Records each reduction's first argument: its size, and whether it is contiguous."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if args and isinstance(args[0], torch.Tensor) and func.__name__.split(".")[0] in (
                "aminmax", "amin", "amax", "var_mean", "sum", "linalg_vector_norm", "dot"):
            self.seen.append((func.__name__.split(".")[0], args[0].numel(), args[0].is_contiguous()))
        return func(*args, **(kwargs or {}))


def test_chunks_read_again_are_read_a_few_consecutive_ones_at_once(monkeypatch):
    t = torch.arange(10 * 8 + 3, dtype=torch.float32)  # ten chunks of 8 as rows, and a rest of 3
    chunked = stats_module._as_rows(t, 8)
    monkeypatch.setattr(stats_module, "REVISIT_BYTES", 3 * 8 * 5)  # three rows of float32 and their mask
    groups = list(stats_module._row_groups(chunked, [0, 1, 2, 3, 5, 6, 9, 10], 5))
    assert [indices for indices, _ in groups] == [[0, 1, 2], [3], [5, 6], [9], [10]]
    for indices, view in groups:
        assert view.dim() == 2 and view.data_ptr() == t[indices[0] * 8 :].data_ptr()  # views, no copies
        assert torch.equal(view.reshape(-1), torch.cat([t[i * 8 : i * 8 + 8] for i in indices]))
    monkeypatch.setattr(stats_module, "REVISIT_BYTES", 1)  # less than a row: a row at once all the same
    assert [indices for indices, _ in stats_module._row_groups(chunked, [4, 5], 5)] == [[4], [5]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_accelerator_plan_copies_no_strided_sample(dtype):
    # measured on an H200: CUDA's aminmax copies an input that is not contiguous (178 MiB for a strided
    # view of 47 million float32), amin, amax, var_mean, sum and vector_norm read it where it lies
    t = torch.randn(1 << 22, generator=torch.Generator().manual_seed(0)).to(dtype)
    with ReductionInputs() as mode:
        result = tensor_stats(t, max_elements=1 << 20, plan="whole")  # a strided sample: every s-th element
    assert result.sampled_from == 1 << 22
    whole = [(name, contiguous) for name, n, contiguous in mode.seen if n > 1 << 19]
    assert whole and ("aminmax", False) not in whole, mode.seen
    assert {name for name, _ in whole} == ({"amin", "amax", "var_mean"} if dtype == torch.float32
                                           else {"amin", "amax", "sum", "linalg_vector_norm"})


@CUDA
def test_on_cuda_the_statistics_wait_for_the_device_at_most_three_times():
    import warnings

    t = torch.randn(1 << 24, device="cuda")
    tensor_stats(t[:1000])  # warm-up
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            result = tensor_stats(t)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    waits = [str(w.message) for w in caught if "synchroniz" in str(w.message)]
    assert len(waits) <= 3, waits
    reference = tensor_stats(t.cpu())
    assert (result.min, result.max, result.count) == (reference.min, reference.max, reference.count)
    assert math.isclose(result.std, reference.std, rel_tol=1e-6)


def test_a_float64_neg_view_reads_its_values(path):
    t = torch.tensor([1 + 2j, 3 - 1j], dtype=torch.complex128).conj().imag  # a view with the neg bit set
    result = tensor_stats(t)
    assert (result.count, result.min, result.max, result.mean) == (2, -2.0, 1.0, -0.5)
    assert math.isclose(result.std, 1.5, rel_tol=1e-15)


def test_one_bin_of_a_sampled_histogram_stays_one_bin():
    result = tensor_stats(torch.randn(4_200_000, generator=torch.Generator().manual_seed(0)), bins=1)
    assert result.histogram_step > 1 and len(result.histogram) == 1


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64]),
       st.lists(st.integers(1, 30), min_size=1, max_size=3), st.integers(0, 2**16),
       st.sampled_from(["none", "transpose", "step"]), st.sampled_from([64, "whole", "small", "few"]))
def test_the_first_non_finite_value_is_found_in_index_order(dtype, shape, seed, view, chunk):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(shape, generator=g, dtype=torch.float64)
    mask = torch.rand(shape, generator=g) < 0.05
    t[mask] = torch.tensor([math.nan, math.inf, -math.inf], dtype=torch.float64)[torch.arange(int(mask.sum())) % 3]
    t = t.to(dtype)
    if view == "transpose" and t.dim() >= 2:
        t = t.transpose(0, -1)
    elif view == "step":
        t = t[::2]
    bad = ~torch.isfinite(t)
    with stats_path(chunk):
        result = tensor_stats(t)
    expected = tuple(torch.nonzero(bad)[0].tolist()) if bad.any() else None
    assert result.first_non_finite == expected
    counted = bad.any() and 2 <= t.dim() <= 3
    assert [axis.dim for axis in result.non_finite_by_dim] == (list(range(t.dim())) if counted else [])
    for axis in result.non_finite_by_dim:  # against NumPy: the mask summed over the other dimensions
        per_index = bad.numpy().sum(axis=tuple(d for d in range(t.dim()) if d != axis.dim))
        holding = np.flatnonzero(per_index)
        assert (axis.holding, axis.size) == (holding.size, t.shape[axis.dim])
        assert axis.first == tuple((int(i), int(per_index[i])) for i in holding[:6])


@pytest.mark.parametrize("kind", ["float8_e4m3fn", "float8_e5m2", "complex32", "neg view", "conj view", "expanded",
                                  "complex32 neg conj view"])
def test_a_small_tensor_s_non_finite_values_are_located_by_numpy_as_in_blocks(kind, monkeypatch):
    from ipython_tensorview.nonfinite import locate

    t = torch.randn(4, 6, generator=torch.Generator().manual_seed(1))
    t[1, 4], t[3, 0], t[3, 5] = math.nan, math.inf, -math.inf
    if kind.startswith("float8"):
        t = t.to(getattr(torch, kind))
    elif kind == "complex32":
        t = torch.complex(t, t.flip(0)).to(torch.complex32)
    elif kind == "neg view":
        t = torch._neg_view(t)
    elif kind == "conj view":
        t = torch.complex(t, t.flip(1)).conj()
    elif kind == "complex32 neg conj view":  # (complex32 has no kernel to resolve both)
        t = torch._neg_view(torch.complex(t, t.flip(1)).to(torch.complex32)).conj()
    else:
        t = t[:, :1].expand(4, 6)
    on_host = locate(t, 5, stop_early=True)
    monkeypatch.setattr(nonfinite, "HOST_ELEMENTS", 0)
    assert on_host is not None and on_host == locate(t, 5, stop_early=False)
    plain = t.conj().conj_physical() if t.dtype == torch.complex32 else t  # (the reference's own copy)
    assert on_host.first == tuple(torch.nonzero(~torch.isfinite(plain.to(torch.complex64) if t.is_complex() else
                                                                plain.float()))[0].tolist())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.float8_e4m3fn,
                                   torch.float8_e5m2, torch.complex32, torch.complex64, torch.complex128])
@pytest.mark.parametrize("view", ["plain", "neg", "conj", "strided"])
def test_the_blocks_non_finite_values_are_those_isfinite_finds(dtype, view):
    values = torch.tensor([0.0, -0.0, 1.5, -2.5, 1e-30, 5e-324, 3e38, -1e300, 448.0, math.nan, math.inf, -math.inf],
                          dtype=torch.float64)
    if dtype.is_complex:
        values = torch.complex(values, values.roll(3))
    t = torch.stack([values, values.flip(0)], dim=1).to(dtype)[:, 1] if view == "strided" else values.to(dtype)
    if view == "neg" and dtype.itemsize > 1 and dtype != torch.complex32:  # (no kernel resolves these)
        t = torch._neg_view(t)
    elif view == "conj" and dtype.is_complex:
        t = t.conj()
    if dtype.itemsize == 1:  # (float8: no isfinite kernel)
        reference = t.float()
    else:
        reference = t.conj().conj_physical() if t.is_conj() and dtype == torch.complex32 else t.resolve_neg()
    ones = nonfinite._non_finite_ones(t)  # 1.0 where not finite
    assert ones.dtype == (torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32)
    assert ones.tolist() == (~torch.isfinite(reference)).float().tolist()
    assert 1 <= sum(ones.tolist()) < len(values)  # (float8_e4m3fn has no Inf: NaN alone)
    square = torch.stack([t] * 12).T  # a transposed block: marked in C order, whose flat view is no copy
    assert nonfinite._non_finite_ones(square).is_contiguous()


@pytest.mark.parametrize("kept", [2, 1 << 18], ids=["too many to keep", "kept by the pass"])
def test_the_cpu_searches_only_the_chunks_its_pass_saw_nan_in(monkeypatch, kept):
    monkeypatch.setattr(stats_module, "CPU_WORKERS", 2)  # each thread's chunks 2**18 long, on any machine
    monkeypatch.setattr(nonfinite, "MAX_KEPT_POSITIONS", kept)  # fewer than the three, or all of them
    t = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))  # four chunks of 2**18
    t[5, 7], t[900, 3], t[901, 3] = math.nan, math.inf, math.nan
    read = []
    real = nonfinite._host_values
    monkeypatch.setattr(nonfinite, "_host_values", lambda block: read.append(block.numel()) or real(block))
    result = tensor_stats(t)
    bad = ~np.isfinite(t.numpy())
    assert result.first_non_finite == (5, 7) and (result.nan, result.posinf) == (2, 1)
    assert [axis.first for axis in result.non_finite_by_dim] == [((5, 1), (900, 1), (901, 1)), ((3, 2), (7, 1))]
    assert [axis.holding for axis in result.non_finite_by_dim] == [bad.any(1).sum(), bad.any(0).sum()]
    # blocks of 262 rows (262,000 elements): the first two meet the first chunk, the last the last; the third
    # (rows 524 to 785) meets only chunks without NaN. Where the pass kept their positions, none is read again.
    assert read == ([262_000, 262_000, 214_000] if kept == 2 else [])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.float8_e5m2]),
       st.lists(st.integers(1, 24), min_size=2, max_size=3), st.integers(0, 2**16), st.floats(0.0, 1.0),
       st.sampled_from([0, 5, 1 << 18]))
def test_the_positions_the_pass_keeps_locate_what_a_second_read_would(dtype, shape, seed, density, kept):
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(shape, generator=g, dtype=torch.float64)
    mask = torch.rand(shape, generator=g) < density ** 3  # mostly few, sometimes most
    t[mask] = torch.tensor([math.nan, math.inf, -math.inf], dtype=torch.float64)[torch.arange(int(mask.sum())) % 3]
    t = t.to(dtype)
    bad = (~torch.isfinite(t.float())).numpy()
    searched = []
    real_locate = stats_module.locate
    with pytest.MonkeyPatch.context() as patch, stats_path(64):
        patch.setattr(nonfinite, "MAX_KEPT_POSITIONS", kept)
        patch.setattr(stats_module, "locate", lambda *args, **kwargs: searched.append(1) or real_locate(*args, **kwargs))
        result = tensor_stats(t)
    assert result.first_non_finite == (tuple(np.argwhere(bad)[0].tolist()) if bad.any() else None)
    assert [axis.dim for axis in result.non_finite_by_dim] == (list(range(t.dim())) if bad.any() else [])
    for axis in result.non_finite_by_dim:
        per_index = bad.sum(axis=tuple(d for d in range(t.dim()) if d != axis.dim))
        holding = np.flatnonzero(per_index)
        assert (axis.holding, axis.size) == (holding.size, t.shape[axis.dim])
        assert axis.first == tuple((int(i), int(per_index[i])) for i in holding[:6])
    assert bool(searched) == (bad.sum() > kept)  # read again only where the pass found more than it keeps


@pytest.mark.parametrize("workers", [1, 2])
def test_the_pass_keeps_as_many_positions_as_it_may_whatever_its_threads(monkeypatch, workers):
    monkeypatch.setattr(stats_module, "CPU_WORKERS", workers)
    t = torch.randn(2048, 1024, generator=torch.Generator().manual_seed(0))  # chunks of 2**18 or 2**19
    t.view(-1)[torch.randperm(t.numel(), generator=torch.Generator().manual_seed(1))[:3000]] = math.nan
    searched = []
    real_locate = stats_module.locate
    monkeypatch.setattr(stats_module, "locate", lambda *args, **kwargs: searched.append(1) or real_locate(*args,
                                                                                                         **kwargs))
    results = []
    for kept in (3000, 2999):
        monkeypatch.setattr(nonfinite, "MAX_KEPT_POSITIONS", kept)
        results.append(tensor_stats(t))
    assert searched == [1]  # 3000 kept, not 2999
    assert results[0] == results[1] and results[0].first_non_finite is not None
    rows = np.flatnonzero(np.isnan(t.numpy()).any(axis=1))
    assert results[0].non_finite_by_dim[0].holding == rows.size


def test_complex128_whose_magnitude_overflows_hides_no_nan_after_it():
    # |z| of 1.5e308 + 1.5e308j overflows float64: its chunk's max is Inf, with nothing there to locate
    t = torch.zeros(20_000, dtype=torch.complex128)
    t[0], t[15_000] = complex(1.5e308, 1.5e308), complex(math.nan, 0.0)
    for shape in ((20_000,), (200, 100)):
        with stats_path("whole"):
            result = tensor_stats(t.view(shape))
        reference = tensor_stats(t.view(shape))
        assert result.first_non_finite == reference.first_non_finite == tuple(np.unravel_index(15_000, shape))
        assert result.non_finite_by_dim == reference.non_finite_by_dim


def test_where_no_dimension_is_counted_only_the_first_span_is_read(monkeypatch):
    t = torch.randn(4, 4, 4, 16, generator=torch.Generator().manual_seed(0))  # 4-D: no counts per index
    flat = t.view(-1)
    flat[[70, 100, 500, 1000]] = torch.tensor([math.inf, math.nan, -math.inf, math.nan])
    read = []
    real_non_finite = nonfinite._non_finite_ones
    monkeypatch.setattr(nonfinite, "_non_finite_ones", lambda block: read.append(block.numel()) or real_non_finite(block))
    monkeypatch.setattr(nonfinite, "HOST_ELEMENTS", 0)
    where = nonfinite.locate(t, 16, stop_early=False, spans=((64, 128), (448, 512), (960, 1024)))
    assert where.first == (0, 1, 0, 6) and where.by_dim == () and read == [16] * 4  # 64 to 128: four rows of 16
    read.clear()  # a 2-D tensor's counts read every span; its first is the same
    where = nonfinite.locate(t.view(64, 16), 16, stop_early=False, spans=((64, 128), (448, 512), (960, 1024)))
    assert where.first == (4, 6) and read == [16] * 12
    assert [axis.first for axis in where.by_dim] == [((4, 1), (6, 1), (31, 1), (62, 1)), ((4, 2), (6, 1), (8, 1))]


@pytest.mark.parametrize("stop_early", [True, False])
def test_rows_longer_than_a_block_are_counted_per_index(stop_early, monkeypatch):
    from ipython_tensorview.nonfinite import locate

    monkeypatch.setattr(nonfinite, "HOST_ELEMENTS", 0)  # read in blocks, not by NumPy at once
    t = torch.randn(3, 2, 200, generator=torch.Generator().manual_seed(0))
    t[1, 0, 150], t[1, 1, 7], t[2, 1, 150:153] = math.nan, math.inf, -math.inf
    bad = (~torch.isfinite(t)).numpy()
    where = locate(t, 64, stop_early)  # each row of 200 is read in blocks of 64: one dimension left
    assert where.first == (1, 0, 150)
    for axis in where.by_dim:
        per_index = bad.sum(axis=tuple(d for d in range(3) if d != axis.dim))
        holding = np.flatnonzero(per_index)
        assert (axis.holding, axis.first) == (holding.size, tuple((int(i), int(per_index[i])) for i in holding))
    assert [axis.dim for axis in where.by_dim] == [0, 1, 2]


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128, torch.complex32, torch.float32, torch.bfloat16,
                                   torch.int64])
def test_a_zero_dimensional_tensor_has_the_statistics_of_its_value(dtype):
    value = torch.tensor(1.5 - 2.5j if dtype.is_complex else -2.5).to(dtype)
    for t in (value, value.reshape(1).expand(10**10)):
        result = tensor_stats(t)
        expected = abs(complex(value.to(torch.complex128))) if dtype.is_complex else float(value.double())
        if dtype == torch.complex32:  # the magnitude of its complex64 form, in float32
            expected = float(value.to(torch.complex64).abs())
        assert (result.count, result.min, result.max, result.mean, result.std) == (t.numel(), expected, expected,
                                                                                  expected, 0.0)


@given(st.lists(st.one_of(st.floats(), st.floats(-1e6, 1e6), st.integers(-(2**33), 2**33).map(float)), min_size=1,
                max_size=64), st.sampled_from([0, 1, 24]), st.booleans())
@example([2.0**40 + 1, 2.0**40 + 3, math.nan, -math.inf, math.inf, math.inf], 24, False)
def test_the_python_path_of_a_few_values_reads_them_as_the_numpy_path(values, bins, integers):
    array = np.array(values)
    few = stats_module._few_values_stats(array, bins, None, integers)
    by_numpy = stats_module._array_stats(array, bins, None, integers)
    assert (few is None) == (by_numpy is None)
    if few is None:
        return
    assert (few.count, few.low, few.high, few.nan, few.posinf, few.neginf, few.histogram) == (
        by_numpy.count, by_numpy.low, by_numpy.high, by_numpy.nan, by_numpy.posinf, by_numpy.neginf,
        by_numpy.histogram)
    if few.count:  # the same within float64's rounding of the values' magnitude
        finite = [v for v in values if math.isfinite(v)]
        mean, spread = sum(map(Fraction, finite)) / len(finite), max(map(abs, finite))
        assert abs(few.mean - mean) <= 1e-15 * spread  # fsum: a rounding per value, of the shifted values
        assert abs(by_numpy.mean - mean) <= 1e-14 * spread
        assert math.isclose(few.std, by_numpy.std, rel_tol=1e-9, abs_tol=1e-14 * spread)


def test_small_tensors_of_large_integers_have_exact_statistics():
    """A few hundred integers near 2**40, 2**52 or -2**62: the mean and std of exact integer arithmetic."""
    from fractions import Fraction

    for base in (2**31 - 50, 2**40, 2**52, -(2**62)):
        values = [base + k * 7 % 101 for k in range(300)]
        result = tensor_stats(torch.tensor(values))
        mean = Fraction(sum(values), len(values))
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        assert (result.min, result.max, result.mean) == (min(values), max(values), float(mean))
        assert math.isclose(result.std, std, rel_tol=1e-12)


def test_complex64_magnitudes_beyond_float32_s_range_are_finite(path):
    """|3e38 + 3e38j| is 4.2e38, beyond float32's 3.4e38: a magnitude, not an infinity."""
    z = torch.tensor([3e38 + 3e38j, 1 + 1j, 0j, -2e38 + 0j] * 40, dtype=torch.complex64)
    result = tensor_stats(z)
    assert (result.count, result.posinf, result.of) == (160, 0, "|z|")
    assert result.max == abs(complex(np.float32(3e38), np.float32(3e38)))
    _assert_matches(result, z)


def test_bin_edges_take_integer_ends_as_numpy_takes_them():
    from ipython_tensorview.histogram import bin_edges

    for low, high in ((0, 2**53 + 1), (-(2**60), 3), (7, 7)):
        np.testing.assert_array_equal(bin_edges(low, high, 3), np.histogram_bin_edges([low, high], 3))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**64)),
       st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**64)),
       st.integers(1, 64))
def test_inner_edges_are_bin_edges_in_pythons_floats(low, high, bins):
    """A few values' histogram takes its edges in Python's arithmetic: the same floats, bit for bit, at every
    range (empty, beyond float64's, integers it rounds)."""
    from ipython_tensorview.histogram import bin_edges, inner_edges

    low, high = min(low, high), max(low, high)
    expected = bin_edges(low, high, bins)[1:-1]
    assert np.array_equal(np.array(inner_edges(low, high, bins), dtype=np.float64).view(np.int64),
                          expected.view(np.int64))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64]),
       st.floats(-1e6, 1e6), st.sampled_from([1e-3, 1.0, 7.0, 255.0, 1e4, 1e9]), st.integers(1, 64),
       st.integers(0, 2**16), st.booleans())
def test_values_on_and_beside_the_edges_sit_in_numpys_bins(dtype, low, width, bins, seed, among_others):
    """Each edge in the dtype, and its neighbours there, between ends far from zero and near it (alone, or
    among eight times as many values between the ends): the CPU bins a value by its position, correcting
    it against the edges only near one (every value, where many are), and must count as NumPy does."""
    if not dtype.is_floating_point:
        low, width = round(low), max(1, round(width))
    ends = torch.tensor([low, low + width], dtype=torch.float64).to(dtype)
    low, high = ends.tolist()
    assume(low < high < math.inf)  # float16 holds no 1e9
    edges = torch.tensor(bin_edges(low, high, bins)).to(dtype)
    if dtype.is_floating_point:
        up, down = torch.full_like(edges, math.inf), torch.full_like(edges, -math.inf)
        edges = torch.cat([edges, torch.nextafter(edges.double(), up.double()).to(dtype),
                           torch.nextafter(edges.double(), down.double()).to(dtype)])
    values = torch.cat([ends, edges.clamp(low, high)]).repeat(7)  # more than a chunk of 64
    generator = torch.Generator().manual_seed(seed)
    if among_others:
        between = torch.rand(8 * values.numel(), generator=generator, dtype=torch.float64) * (high - low) + low
        values = torch.cat([values, between.to(dtype).clamp(low, high)])
    values = values[torch.randperm(values.numel(), generator=generator)]
    with stats_path(64):
        result = tensor_stats(values, bins=bins)
    assert result.histogram == _numpy_histogram(values.double().numpy(), bins)


def test_a_sampled_histogram_of_values_on_the_edges_has_numpys_shape():
    # values on the bins' edges (0, 0.1, ..., 2.4 in 24 bins): float32 positions would bin some of them
    # one off, and the picture would change from the exact histogram's comb at 4 Mi elements to flat above
    from ipython_tensorview.histogram import HISTOGRAM_EXACT_ELEMENTS, bin_edges

    n = HISTOGRAM_EXACT_ELEMENTS + 1
    t = (torch.arange(n) % 25).float() * 0.1
    result = tensor_stats(t)
    step = result.histogram_step
    sample = t[step // 2 :: step].double().numpy()
    assert step > 1
    expected = np.histogram(sample, bins=bin_edges(result.min, result.max, 24))[0]
    expected[0], expected[-1] = max(expected[0], 1), max(expected[-1], 1)
    assert result.histogram == tuple(expected.tolist())


@pytest.mark.parametrize("shape", [(5000,), (50, 100)], ids=["1-D", "2-D, positions kept"])
def test_signalling_nans_are_nans_to_the_statistics(path, shape):
    t = torch.arange(5000, dtype=torch.float32)
    t.view(torch.int32)[::2] = 0x7F800001  # float32's signalling NaN: how float8 fnuz NaNs reach float32
    result = tensor_stats(t.view(shape))
    assert (result.count, result.nan, result.min, result.max) == (2500, 2500, 1.0, 4999.0)
    if len(shape) == 2:  # every row holds 50, in the even columns
        assert result.first_non_finite == (0, 0)
        assert [(axis.holding, axis.first[:2]) for axis in result.non_finite_by_dim] == [
            (50, ((0, 50), (1, 50))), (50, ((0, 50), (2, 50)))]
    y = torch.linspace(-3, 3, 5000)
    y[::2] = math.nan
    fnuz = y.to(torch.float8_e4m3fnuz)
    result = tensor_stats(fnuz)
    _assert_matches(result, fnuz)
    assert result.first_non_finite == (0,)


@pytest.mark.parametrize("n", [6, 1000, 5000], ids=["few: Python's floats", "small: NumPy's", "chunked"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64])
def test_signalling_nans_raise_no_warning(n, dtype):
    """Casting a signalling NaN raises NumPy's invalid flag: the statistics say nothing of it."""
    t = torch.arange(n).to(dtype)
    bits = (torch.view_as_real(t)[..., 0] if t.is_complex() else t).view(torch.int32)
    bits[1::2] = 0x7F800001
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tensor_stats(t)
    assert (result.count, result.nan, result.min, result.max) == (n // 2, n // 2, 0.0, n - 2)


def test_a_nan_written_while_the_pass_reads_a_chunk_is_counted_from_one_copy(monkeypatch):
    """A value another thread writes between a chunk's sum and its sum of squares sends the chunk to be read
    again, from one copy of it: NaN counted, the moments those of the other values."""
    t = torch.randn(3 * 2**18, generator=torch.Generator().manual_seed(0))
    squares, written, lock = stats_module._squares, [], threading.Lock()

    def writing_first(array):
        with lock:  # once, whichever thread comes first
            if not written:
                array[0] = math.nan  # the chunk's memory: the tensor's own
                written.append(True)
        return squares(array)

    monkeypatch.setattr(stats_module, "_squares", writing_first)
    result = tensor_stats(t)
    finite = t[~t.isnan()].double()  # (the chunk summed first: either thread's)
    assert (result.count, result.nan, finite.numel()) == (t.numel() - 1, 1, t.numel() - 1)
    assert result.mean == pytest.approx(finite.mean().item(), rel=1e-6)
    assert result.std == pytest.approx(finite.std(correction=0).item(), rel=1e-6)


@pytest.mark.parametrize("dtype, written", [(torch.float32, math.nan), (torch.float32, -math.inf),
                                            (torch.float64, math.nan), (torch.float64, 1e200)],
                         ids=["float32 NaN", "float32 -Inf", "float64 NaN", "float64 squares past its range"])
def test_values_written_after_the_first_pass_leave_a_careful_mean_finite(monkeypatch, dtype, written):
    """The float64 pass for a mean far from zero reads the tensor again; NaN, Inf or a value whose square
    overflows, written into it since (by another thread), leave the mean and std those of the values the
    first pass saw, near enough: not NaN."""
    t = 1000 + torch.randn(3 * 2**18, generator=torch.Generator().manual_seed(0), dtype=dtype)
    first_pass = stats_module._host_pass

    def then_written(*args, **kwargs):
        moments = first_pass(*args, **kwargs)
        t[5] = written
        return moments

    monkeypatch.setattr(stats_module, "_host_pass", then_written)
    result = tensor_stats(t)
    assert result.mean == pytest.approx(1000, abs=0.01) and result.std == pytest.approx(1, abs=0.01)


@pytest.mark.parametrize("vecdot", [True, False], ids=["NumPy 2's vecdot", "matmul of a stack, as NumPy 1"])
def test_squares_by_rows_are_the_rows_dots_added_in_float64(monkeypatch, vecdot):
    """float64 chunks (and float32 ones on a coarse grid) take their sums of squares by rows of HALF_ROW: each
    row's dot, the rows' and the rest's added in float64."""
    if not vecdot:
        monkeypatch.delattr(np, "vecdot", raising=False)
    rng = np.random.default_rng(0)
    for array in (rng.standard_normal(3 * stats_module.HALF_ROW + 5), rng.standard_normal(2**17).astype(np.float32)):
        rows = array[: 3 * stats_module.HALF_ROW].reshape(3, -1) if array.size % stats_module.HALF_ROW else \
            array.reshape(-1, stats_module.HALF_ROW)
        rest = array[rows.size:]
        expected = math.fsum(float(np.dot(row, row)) for row in rows) + float(np.dot(rest, rest))
        assert stats_module._squares_by_rows(array) == pytest.approx(expected, rel=1e-12)
    float64 = rng.standard_normal(2**17)
    assert stats_module._squares(float64) == stats_module._squares_by_rows(float64)


def test_statistics_read_cpu_tensors_whatever_the_default_device():
    t = torch.randn(5_000_000, generator=torch.Generator().manual_seed(0))
    expected = tensor_stats(t)
    torch.set_default_device("meta")
    try:
        result = tensor_stats(t)
    finally:
        torch.set_default_device(None)
    assert result == expected


def test_small_complex32_magnitudes_are_those_of_the_chunked_path():
    t = torch.full((4096,), 1 + 1j, dtype=torch.complex64).to(torch.complex32)
    small, chunked = tensor_stats(t), tensor_stats(torch.cat([t, t[:1]]))
    assert small.max == chunked.max == float(torch.tensor(1 + 1j, dtype=torch.complex64).abs())


@pytest.mark.parametrize("offset", [100.0, -100.0, 0.0])
def test_nan_in_every_chunk_of_one_signed_data_keeps_the_true_extremes(offset):
    """NaN set to zero for the sums must not become the min of positive data, nor the max of negative."""
    g = torch.Generator().manual_seed(1)
    t = torch.rand(4096, generator=g) + offset
    t[::100] = math.nan
    t[5] = 0.0 if offset == 0 else t[5]  # a real zero among the values, where zero lies in their range
    with stats_path(64):
        result = tensor_stats(t)
    finite = t[~t.isnan()].double()
    assert (result.min, result.max) == (finite.min().item(), finite.max().item())
    assert (result.count, result.nan) == (finite.numel(), 41)
    assert math.isclose(result.mean, finite.mean().item(), rel_tol=1e-6)
    assert math.isclose(result.std, finite.std(correction=0).item(), rel_tol=1e-5)


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64,
                                   torch.int64, torch.int32, torch.uint8], ids=str)
@pytest.mark.parametrize("data", ["normal", "offset", "non-finite", "transposed", "stepped"])
def test_on_cuda_the_statistics_equal_the_cpu_ones(dtype, data):
    if data == "non-finite" and not (dtype.is_floating_point or dtype.is_complex):
        pytest.skip("integers hold no NaN or Inf")
    g = torch.Generator().manual_seed(0)
    t = torch.randn(1500, 700, generator=g, dtype=torch.float64) * 100  # 1.05e6 elements: an exact histogram
    if data == "offset":
        t += 10_000
    if data == "non-finite":
        t[::7, ::13], t[1::11, ::3], t[2::17, ::5] = math.nan, math.inf, -math.inf
    if not (dtype.is_floating_point or dtype.is_complex):  # a float out of an integer's range casts differently
        t = t.round().clamp(torch.iinfo(dtype).min, torch.iinfo(dtype).max)
    t = t.to(dtype)
    if data == "transposed":
        t = t.T
    if data == "stepped":  # no flat view in memory order
        t = t[:, ::3]
    on_cpu, on_cuda = tensor_stats(t), tensor_stats(t.cuda())
    exact = ("count", "min", "max", "nan", "posinf", "neginf", "histogram", "of", "first_non_finite")
    assert {f: getattr(on_cuda, f) for f in exact} == {f: getattr(on_cpu, f) for f in exact}
    values = t.double() if not dtype.is_complex else t.to(torch.complex128).abs()
    finite = values[values.isfinite()]
    for found in (on_cpu, on_cuda):  # (the CPU's chunks sum in float32: a few parts in a million)
        assert math.isclose(found.mean, finite.mean().item(), rel_tol=1e-5, abs_tol=1e-5 * found.std)
        assert math.isclose(found.std, finite.std(correction=0).item(), rel_tol=1e-5)


def test_a_small_complex64_neg_view_reads_its_magnitudes(path):
    z = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64)
    result = tensor_stats(torch._neg_view(z))  # (no public route to a complex neg view)
    assert (result.of, result.count, result.min, result.max) == ("|z|", 2, math.sqrt(5), 5.0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("make", [
    lambda g: torch.randn(1 << 22, generator=g) * 1000,
    lambda g: torch.tensor([65504.0, -65504.0]).repeat(1 << 21),
], ids=["N(0, 1000)", "+-65504"])
def test_the_accelerator_plan_sums_a_strided_half_precision_tensor_in_rows(make, dtype):
    t = make(torch.Generator().manual_seed(0)).to(dtype)[1::5]  # a 1-D view with no flat view in memory order
    truth = t.double()
    result = tensor_stats(t, plan="whole")  # (one float32 sum over all of them: off by 1e-4 at +-65504)
    assert math.isclose(result.std, truth.std(correction=0).item(), rel_tol=1e-5)  # the CPU chunks' precision
    assert math.isclose(result.mean, truth.mean().item(), rel_tol=1e-5, abs_tol=1e-5 * result.std)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float8_e4m3fn])
@pytest.mark.parametrize("offset", [0.0, 1.5, 2.9])
@pytest.mark.parametrize("nan", [False, True], ids=["", "mostly NaN"])
def test_coarse_floats_near_their_cancelling_limit_have_the_std_of_float64(dtype, offset, nan):
    """The CPU's chunks: a float32 dot over a chunk of coarse values' squares rounds alike at every step
    (bfloat16 2.9 std from zero: 4.5e-5 off); where the mean passes the spread, the rows' sums are exact
    enough. Mostly NaN, the mean is that of the finite values (bfloat16 with 70% NaN: 2.6e-5 off when the
    NaN counted as zeros)."""
    generator = torch.Generator().manual_seed(0)
    t = torch.randn(1 << 20, generator=generator, dtype=torch.float64) + offset
    if nan:
        t[torch.rand(t.shape, generator=generator) < 0.7] = math.nan
    t = t.to(dtype)
    finite = t.double()[~t.isnan()]
    truth = finite.std(correction=0).item()
    assert math.isclose(tensor_stats(t, plan="chunks").std, truth, rel_tol=1e-6 if offset > 1 else 1e-5)


def _pixels(count: int):
    return torch.randint(0, 256, (count,), generator=torch.Generator().manual_seed(0)).float()


@pytest.mark.parametrize("make, tolerance", [
    # one dot per chunk, as before: 4.5e-5, 1.9e-5, 1.1e-5 and 1.5e-5 off
    pytest.param(lambda: _pixels(1 << 22), 1e-7, id="pixels 0 to 255"),
    pytest.param(lambda: _pixels(1 << 22) - 127.5, 1e-7, id="pixels less 127.5"),
    pytest.param(lambda: _pixels(1 << 22) - 128, 1e-7, id="int8"),
    pytest.param(lambda: torch.cat([torch.randn(16, generator=torch.Generator().manual_seed(1)), _pixels(1 << 22)]),
                 1e-7, id="pixels after a header"),  # one of the grid test's values is off the grid
    pytest.param(lambda: (torch.randn(1 << 22, generator=torch.Generator().manual_seed(0)) * 100).round(), 1e-7,
                 id="rounded"),
    # chunks whose mean passes their spread, then chunks on a grid whose mean does not, then again: each
    # thread's guess from its last chunk is wrong at each change (one dot for all: 2.5e-6 off; the rest is
    # the float32 sums', whose means pass the spread)
    pytest.param(lambda: torch.cat([_pixels(1 << 20), _pixels(1 << 20) - 127.5, _pixels(1 << 20) + 1000]), 1e-6,
                 id="pixels, centred, far"),
    # half precision on the grid, whose means are within their spread: 1.1e-5, 1.1e-5 and 1.9e-5 off
    pytest.param(lambda: (_pixels(1 << 21) - 128).bfloat16(), 1e-7, id="bfloat16 int8"),
    pytest.param(lambda: (_pixels(1 << 21) - 128).half(), 1e-7, id="float16 int8"),
    pytest.param(lambda: (_pixels(1 << 21) - 127.5).half(), 1e-7, id="float16 halves"),
])
def test_values_on_a_coarse_grid_have_the_std_of_float64(make, tolerance):
    """One float32 dot over a chunk of whole numbers' (or halves') squares rounds alike at every step; rows
    of them are exact."""
    t = make()
    truth = t.double().std(correction=0).item()
    assert math.isclose(tensor_stats(t, plan="chunks").std, truth, rel_tol=tolerance)
    assert math.isclose(tensor_stats(t, plan="chunks").mean, t.double().mean().item(), rel_tol=1e-7)


@pytest.mark.parametrize("count, waits", [(1 << 16, 3), (1 << 22, 2)])
def test_float32_welford_is_trusted_over_enough_values(monkeypatch, count, waits):
    """1000 std from zero: over 2**16 values a device's float32 Welford could move the std by about 5e-7
    (CUDA's tree, emulated): the careful pass, one more wait; from 2**22 values, var_mean's result."""
    from ipython_tensorview import chunking, histogram

    t = torch.randn(count, generator=torch.Generator().manual_seed(0)) + 1000
    fetches = []
    for module in (stats_module, histogram):
        monkeypatch.setattr(module, "to_host", lambda x: fetches.append(x.shape) or chunking.to_host(x))
    result = tensor_stats(t, plan="whole")
    assert len(fetches) == waits, fetches
    truth = (t.double() - 1000).std(correction=0).item()
    assert math.isclose(result.std, truth, rel_tol=1e-6)


def test_welford_is_trusted_only_where_its_float64_error_is_negligible():
    t = torch.randn(1 << 22, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) + 5e11
    truth = (t - 5e11).std(correction=0).item()  # (the offset is exact in float64 at this magnitude)
    assert math.isclose(tensor_stats(t, plan="whole").std, truth, rel_tol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=3), st.integers(0, 2**16), st.integers(1, 6))
def test_where_the_non_finite_values_are_is_found_reading_only_their_chunks(shape, seed, holes):
    # the accelerator's plan locates them within the chunks its first pass saw them in: the same answer as
    # reading every element (chunks of 64, so most chunks hold none)
    g = torch.Generator().manual_seed(seed)
    t = torch.randn([s * 8 for s in shape], generator=g)
    flat = t.view(-1)
    flat[torch.randint(flat.numel(), (holes,), generator=g)] = torch.tensor([math.nan, math.inf, -math.inf])[
        torch.arange(holes) % 3]
    with stats_path("whole"):
        result = tensor_stats(t)
    with stats_path(64):
        reference = tensor_stats(t)
    assert result.non_finite_within is not None
    assert (result.first_non_finite, result.non_finite_by_dim) == (reference.first_non_finite,
                                                                   reference.non_finite_by_dim)
    assert (result.nan, result.posinf, result.neginf) == (reference.nan, reference.posinf, reference.neginf)


def test_the_accelerator_plan_warns_of_nothing_where_huge_values_hold_nan(monkeypatch):
    monkeypatch.setitem(stats_module.CHUNK_ELEMENTS, "cpu", 64)
    monkeypatch.setattr(stats_module, "SMALL_ELEMENTS", 0)  # not NumPy's path of small CPU tensors
    t = torch.full((1000,), 1e200, dtype=torch.float64)
    t[::7], t[5] = 3e200, math.nan  # each chunk's 2-norm is beyond 1e154: its square overflows float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tensor_stats(t, plan="whole")
    finite = [v / 1e200 for v in t.tolist() if not math.isnan(v)]
    mean = math.fsum(finite) / len(finite)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / len(finite))
    assert (result.count, result.nan) == (999, 1)
    assert math.isclose(result.mean, mean * 1e200, rel_tol=1e-12) and math.isclose(result.std, std * 1e200, rel_tol=1e-9)


@contextmanager
def largest_allocation(half_precision_reductions: bool = True):
    """The largest allocation of any operation run within, in bytes, those inside an operation included (a
    bool mask's sum allocates an int64 copy of it there): a function to call after the block.

    ``half_precision_reductions=False``: leaves out the float32 copy the CPU makes of a float16 or bfloat16
    input to reduce it in float32 (a GPU reads it as it is)."""
    from torch.profiler import ProfilerActivity, profile

    def within_copy_to_reduce(event) -> bool:
        while event is not None and event.cpu_parent is not None:
            if event.name == "aten::to" and event.cpu_parent.name in ("aten::sum", "aten::linalg_vector_norm"):
                return True
            event = event.cpu_parent
        return False

    with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        warnings.simplefilter("ignore")  # (the profiler's own warnings)
        yield lambda: max(event.cpu_memory_usage for event in recorded.events()
                          if half_precision_reductions or not within_copy_to_reduce(event))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_the_accelerator_plan_reads_nan_again_within_its_memory_bound(monkeypatch, dtype):
    """Every chunk holds NaN: read again a few chunks at once, and searched for the first in blocks, each step's
    temporaries within REVISIT_BYTES."""
    monkeypatch.setitem(stats_module.CHUNK_ELEMENTS, "cpu", stats_module.DEFAULT_CHUNK_ELEMENTS)
    t = torch.randn(1 << 23, generator=torch.Generator().manual_seed(0)).to(dtype)
    t[::1000] = math.nan
    for shape in (t.shape, (2048, 4096)):  # (rows and columns: counts per index)
        with largest_allocation(half_precision_reductions=dtype != torch.bfloat16) as largest:
            result = tensor_stats(t.view(shape), plan="whole")
        assert result.nan == len(range(0, 1 << 23, 1000)) and result.first_non_finite == (0,) * len(shape)
        assert largest() <= stats_module.REVISIT_BYTES, largest()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn])
def test_only_values_on_a_coarse_grid_are_judged_on_one(dtype):
    """Whole numbers and halves are (their chunks take the rows); normal data is not (its chunks keep the
    one dot, which costs less), in a dtype of few bits too."""
    generator = torch.Generator().manual_seed(0)
    top = 7 if dtype == torch.float8_e4m3fn else 100  # float8's 4 bits hold whole numbers to 16
    for _ in range(100):
        values = torch.randn(8, 64, generator=generator)
        whole = (values * top / 4).round().clamp(-top, top)
        assert not stats_module._on_coarse_grid(values.to(dtype))
        assert stats_module._on_coarse_grid(whole.to(dtype))
        assert stats_module._on_coarse_grid((whole.T + 0.5).to(dtype))
    assert not stats_module._on_coarse_grid(torch.randn(8, 64, generator=generator) * 100)
    assert stats_module._on_coarse_grid(torch.zeros(3, 4, dtype=dtype))
    column = torch.randn(64, 1, generator=generator).to(dtype)
    column[0] = 0  # a whole number first: the other 15 read say otherwise
    assert not stats_module._on_coarse_grid(column)
    stray = torch.arange(256.0) % top
    stray[0] = 0.3  # one value of the 16 read may be off the grid, not two
    assert stats_module._on_coarse_grid(stray.to(dtype))
    stray[16] = 0.3
    assert not stats_module._on_coarse_grid(stray.to(dtype))
    infinity = math.inf if dtype != torch.float8_e4m3fn else math.nan  # (which has no Inf)
    assert stats_module._on_coarse_grid(torch.tensor([math.nan, 3.0, -infinity, 7.0]).to(dtype))
    assert not stats_module._on_coarse_grid(torch.tensor([math.nan, infinity]).to(dtype))


def test_numpy_error_settings_do_not_reach_the_statistics():
    """Tiny squares underflow in NumPy's row dots: a user's ``np.errstate(all="raise")`` does not make
    them raise (torch's dot never did)."""
    t = _pixels(1 << 17) * 2.0**-140
    with np.errstate(all="raise"):
        result = tensor_stats(t, plan="chunks")
    assert result.max == 255 * 2.0**-140 and result.count == t.numel()


@pytest.mark.parametrize("size", [8, 65])
def test_numpy_error_settings_do_not_reach_a_small_tensor_s_statistics(path, size):
    """The small path's squares of deviations below 1e-154 underflow, as harmlessly."""
    t = torch.zeros(size, dtype=torch.float64)
    t[0], t[1], t[2] = -1, 1, 1e-170
    with np.errstate(all="raise"):
        result = tensor_stats(t)
    assert (result.min, result.max) == (-1, 1) and math.isclose(result.mean, 1e-170 / size, rel_tol=1e-12)
    assert math.isclose(result.std, math.sqrt(2 / size), rel_tol=1e-15)


def test_a_spread_far_below_the_values_keeps_its_std(path):
    """Eight values 1e-163 apart near 1.5e-150: their deviations' squares are below float64's smallest
    normal (the small path had a std of 0); the chunked passes scale them."""
    values = [1.5e-150 + k * 1e-163 for k in range(8)]
    result = tensor_stats(torch.tensor(values, dtype=torch.float64))
    mean = sum(map(Fraction, values)) / 8
    std = math.sqrt(sum((Fraction(v) - mean) ** 2 for v in values) / 8 * Fraction(2) ** 1100) * 2.0**-550
    assert (result.min, result.max) == (values[0], values[-1]) and math.isclose(result.mean, mean, rel_tol=1e-15)
    assert math.isclose(result.std, std, rel_tol=1e-9)


@pytest.mark.parametrize("plan", ["chunks", "whole"])
def test_a_float16_neg_view_has_its_own_statistics(plan):
    """torch's float16-to-float32 copy on the CPU drops the neg bit of a contiguous view."""
    t = (torch.arange(2.0**20) % 256).half()
    t[5] = math.nan
    result = tensor_stats(torch._neg_view(t), plan=plan)
    truth = -t.double()[~t.isnan()]
    assert (result.min, result.max, result.nan) == (-255, 0, 1)
    assert math.isclose(result.mean, truth.mean().item(), rel_tol=1e-7)
    assert math.isclose(result.std, truth.std(correction=0).item(), rel_tol=1e-7)
