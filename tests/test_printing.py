"""The display's printing of small arrays is NumPy's, character for character."""

import math
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ipython_tensorview.printing import array_text, element_words, laid_out, shown_edges

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64, np.bool_,
          np.complex64]


def numpy_text(array, linewidth=None):
    if linewidth is None:
        return np.array2string(array, threshold=sys.maxsize)
    return np.array2string(array, threshold=sys.maxsize, max_line_width=linewidth)


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    if dtype.kind == "f":
        # values of one scale, as most tensors hold, and of any
        scale = min(draw(st.sampled_from([1e-6, 1e-3, 1.0, 37.0, 1e3, 1e5, 1e7, 1e9])), float(np.finfo(dtype).max))
        scale = float(dtype.type(scale))  # a bound the dtype holds
        width = dtype.itemsize * 8
        elements = st.floats(-scale, scale, width=width) | st.floats(width=width)
        elements = draw(st.sampled_from([elements, st.sampled_from([0.0, -0.0, 0.5, 1.0, -2.0, 1e-4, 100.0])]))
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


@given(arrays(), st.one_of(st.none(), st.integers(1, 200)), st.sampled_from([8, 1, 3, 4, 6, 10, 17]))
def test_small_arrays_print_as_numpy_prints_them(array, linewidth, precision):
    with np.printoptions(precision=precision):  # NumPy's default, 8, and shorter and longer ones
        assert array_text(array, linewidth) == numpy_text(array, linewidth)


def _edges(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """What an adapter's preview_array keeps of a summarised array: of each dimension longer than twice
    ``edgeitems``, its first and last ``edgeitems`` entries and its middle one."""
    for dim, size in enumerate(array.shape):
        if size > 2 * edgeitems:
            array = np.take(array, [*range(edgeitems), size // 2, *range(size - edgeitems, size)], axis=dim)
    return array


@st.composite
def summarised_arrays(draw):
    dtype = np.dtype(draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.complex64])))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=12))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e3, 1e9]))  # positional and scientific notation
    scale = float(np.float32(scale))  # a bound float32 holds
    elements = st.integers(0, 255) if dtype.kind in "iu" else st.floats(-scale, scale, width=32)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@given(summarised_arrays(), st.integers(1, 4), st.integers(0, 40), st.one_of(st.none(), st.integers(1, 200)))
def test_summarised_arrays_print_as_numpy_prints_the_whole(array, edgeitems, threshold, linewidth):
    """The edges of an array NumPy summarises are printed as NumPy prints the whole array, "..." and all."""
    with np.printoptions(edgeitems=edgeitems, threshold=threshold):
        summarise = array.size > threshold
        edges = _edges(array, edgeitems) if summarise else array
        words = element_words(shown_edges(edges) if summarise else edges)
        expected = np.array2string(array, max_line_width=linewidth) if linewidth else np.array2string(array)
        assert laid_out(edges, words, linewidth, summarise) == expected


def test_a_summarised_tensor_is_printed_without_array2string(monkeypatch):
    import torch

    from ipython_tensorview.adapters.torch import preview_array
    from ipython_tensorview.summary import preview_of, printed

    t = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))
    expected = np.array2string(t.numpy()), np.array2string(t.numpy(), max_line_width=120)
    preview = preview_of(*preview_array(t, 1000, 3))
    monkeypatch.setattr(np, "array2string", None)  # (a call would raise)
    assert (printed(preview), printed(preview, 120)) == expected


@pytest.mark.parametrize("options", [dict(precision=3), dict(floatmode="fixed"), dict(sign="+"), dict(suppress=True),
                                     dict(legacy="1.13"), dict(formatter={"float": "{:.2f}".format}),
                                     dict(linewidth=20)])
def test_print_options_in_force_apply(options):
    array = np.array([[0.123456789, -1.5, 2.0], [3.25, 1e-5, 0.0]], dtype=np.float32)
    with np.printoptions(**options):
        assert array_text(array) == numpy_text(array)
        assert array_text(array[:, :1]) == numpy_text(array[:, :1])
        assert array_text(np.arange(-3, 9).reshape(3, 4)) == numpy_text(np.arange(-3, 9).reshape(3, 4))


def test_values_near_the_scientific_cutoffs_are_numpy_s():
    for dtype in (np.float16, np.float32, np.float64):
        for value in (999.0, 1000.0, 1e6 - 1, 1e6, 99999999.0, 1e8, 1e-4, 9.9999e-5):
            with np.errstate(over="ignore"):  # 1e6 and above overflow float16: NumPy prints inf
                array = np.array([value, 1.0, -value], dtype=dtype)
            assert array_text(array) == numpy_text(array)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_scientific_notation_is_numpy_s(dtype):
    """Values every NumPy prints in scientific notation (one below 1e-4, or magnitudes over 1000 apart) are
    printed here, not by NumPy, and its text is NumPy's: a short mantissa beside longer ones takes more of
    its value's digits (float32's 1e-05 beside 0.12345678 is 9.9999997e-06), and exponents one width."""
    rows = [[1e-5, 0.12345678, -2.5], [1e-5, 1.0, -2.0], [1000.5, 0.25, 0.0], [-3e-7, 2.0, 0.0], [6e-8, 1.0, 1.0]]
    if dtype != np.float16:
        rows += [[1e-30, 1.5, 3e20], [1.0, 1e8, 7.0]]
    if dtype == np.float64:
        rows += [[1e-300, 1.0, 1e300], [5e-324, -1.0, 0.1]]
    for row in rows:
        _assert_printed_here_as_numpy_prints(np.array(row, dtype=dtype))


def _assert_printed_here_as_numpy_prints(array):
    """Three values: their words are this module's, and the text NumPy's, on one line and wrapped."""
    assert element_words(array) is not None
    assert array_text(array) == numpy_text(array)
    assert array_text(array.reshape(3, 1), 8) == numpy_text(array.reshape(3, 1), 8)


@pytest.mark.parametrize("names", [{}, dict(nanstr="NaN", infstr="Infinity"), dict(nanstr="", infstr="∞")])
def test_nan_and_inf_are_numpy_s(names):
    """NaN and Inf beside finite values, positional and scientific, and alone: printed here, not by NumPy,
    each name right-aligned to the finite values' width, which a long name widens."""
    rows = [[math.nan, 1.5, -2.0], [math.inf, -math.inf, 0.25], [1e-5, math.nan, 3.0], [-math.inf, 1e10, 7.0],
            [math.nan, math.nan, math.nan], [math.inf, -math.inf, math.nan], [-math.nan, 10.0, 100.0]]
    with np.printoptions(**names):
        for dtype in (np.float16, np.float32, np.float64):
            for row in rows:
                with np.errstate(over="ignore"):  # 1e10 overflows float16: inf
                    array = np.array(row, dtype=dtype)
                _assert_printed_here_as_numpy_prints(array)


def test_nan_and_inf_named_with_a_line_break_are_numpy_s():
    """NumPy indents a name's second line under its first: such names go to NumPy (a break that ends a name
    starts no line of its own)."""
    for names in (dict(nanstr="a\nb"), dict(infstr="∞\u2028x"), dict(nanstr="n\r\n")):
        with np.printoptions(**names):
            for array in (np.array([np.nan, 1.5]), np.array([[np.inf, -np.inf], [np.nan, 2.0]])):
                assert (element_words(array) is None) == (names.get("nanstr") != "n\r\n")
                assert array_text(array) == numpy_text(array)


@pytest.mark.filterwarnings("ignore:Format strings passed to MaskedConstant:FutureWarning")  # NumPy's own
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_arrays_of_other_kinds_are_numpy_s():
    """Subclasses and ml_dtypes' dtypes go to np.array2string as they are."""
    import ml_dtypes

    with np.errstate(all="ignore"):
        others = [np.matrix([[1, 2], [3, 4]]), np.matrix([[1.5, 2], [3, 4]]),
                  np.ma.masked_array([1.5, 2.0, 3.0], mask=[0, 1, 0]),
                  np.array([0.5, 1, -2, 3]).astype(ml_dtypes.float8_e5m2),
                  np.array([0.5, 1, -2, 3]).astype(ml_dtypes.bfloat16), np.array([1, -2], dtype=ml_dtypes.int4),
                  np.array([1.5, 2.0], dtype=np.longdouble)]
    for array in others:
        assert array_text(array) == numpy_text(array)
