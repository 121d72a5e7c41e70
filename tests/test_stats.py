import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ipython_tensorview import stats as stats_module
from ipython_tensorview.stats import chunks, strided_sample, tensor_stats


def _reference(t):
    values = t.detach()
    if values.is_quantized:
        values = values.dequantize()
    if values.is_complex():  # magnitudes in the tensor's own precision, as torch.abs gives them
        array = values.to(torch.complex64).abs().to(torch.float64).numpy()
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
        expected, _ = np.histogram(finite, bins=bins, range=(finite.min(), finite.max()) if finite.max() > finite.min()
                                   else None)
        assert sum(result.histogram) == finite.size
        if finite.max() > finite.min():
            # bin edges of float32 arithmetic may move a value sitting on an edge by one bin
            assert np.abs(np.array(result.histogram) - expected).sum() <= 0.01 * finite.size + 2


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
@given(numeric_tensors(), st.sampled_from([7, 64, 1 << 18]))
def test_stats_match_numpy_whatever_the_chunking(t, chunk):
    previous = stats_module.CHUNK_ELEMENTS["cpu"]
    stats_module.CHUNK_ELEMENTS["cpu"] = chunk
    try:
        _assert_matches(tensor_stats(t), t)
    finally:
        stats_module.CHUNK_ELEMENTS["cpu"] = previous


def test_chunks_cover_every_element_once_and_stay_small():
    t = torch.arange(6 * 50 * 7, dtype=torch.float32).reshape(6, 50, 7).transpose(0, 2)[:, ::3]
    pieces = list(chunks(t, 40))
    assert all(p.numel() <= 40 for p in pieces)
    np.testing.assert_array_equal(np.sort(torch.cat(pieces).numpy()), np.sort(t.reshape(-1).numpy()))


def test_contiguous_chunks_are_views():
    t = torch.arange(100.0)
    assert all(p.data_ptr() >= t.data_ptr() and p._base is t for p in chunks(t, 30))


def test_all_non_finite():
    result = tensor_stats(torch.tensor([math.nan, math.inf, -math.inf]))
    assert (result.count, result.nan, result.posinf, result.neginf) == (0, 1, 1, 1)
    assert math.isnan(result.mean) and result.histogram == ()


def test_constant_tensor_fills_one_bin():
    result = tensor_stats(torch.full((10,), 3.0), bins=4)
    assert (result.min, result.max, result.mean, result.std) == (3.0, 3.0, 3.0, 0.0)
    assert result.histogram == (10, 0, 0, 0)


def test_stats_do_not_apply_to_bool_raw_or_empty():
    assert tensor_stats(torch.ones(3, dtype=torch.bool)) is None
    assert tensor_stats(torch.empty(0)) is None
    assert tensor_stats(torch.zeros(3, dtype=torch.uint8).view(torch.uint4)) is None


def test_exact_integer_extremes():
    t = torch.tensor([2**40 + 1, -(2**40) - 3], dtype=torch.int64)
    result = tensor_stats(t)
    assert (result.min, result.max) == (-(2**40) - 3, 2**40 + 1)


def test_quantized_per_channel_uses_dequantized_values():
    x = torch.randn(4, 5)
    q = torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.05, 0.1]), torch.zeros(4, dtype=torch.long), 0,
                                   torch.qint8)
    _assert_matches(tensor_stats(q), q)


def test_complex_statistics_describe_the_magnitude():
    t = torch.tensor([3 + 4j, -6 + 8j])
    result = tensor_stats(t)
    assert (result.min, result.max, result.mean, result.of) == (5.0, 10.0, 7.5, "|z|")


def test_sampling_above_the_cap_is_deterministic_and_marked():
    t = torch.arange(1_000_000, dtype=torch.float32).reshape(1000, 1000)
    first, second = tensor_stats(t, max_elements=10_000), tensor_stats(t, max_elements=10_000)
    assert first == second
    assert first.sampled_from == 1_000_000 and first.count <= 10_000
    assert first.count == strided_sample(t, 10_000).numel()
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
