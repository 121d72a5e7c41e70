"""NumPy's printing of an array, at a fraction of ``np.array2string``'s cost where the array is small.

A display prints the values of every small tensor it shows, and ``np.array2string`` spends most of a small
tensor's display on its generality: the options it merges, the formatter it picks, two passes of Dragon4
per element and a line builder called per element. For the arrays a display prints most (real numbers, all
finite, every element shown) this module makes the same text from NumPy's own pieces: Dragon4 through
``np.format_float_positional`` (once per element), and NumPy's layout rules (fields padded to one width,
rows wrapped at the line width, a blank line per dimension between blocks). It answers only where the text
is certainly NumPy's under the print options in force, and hands every other case to ``np.array2string``:
options other than NumPy's defaults for precision's mode, sign and formatter, legacy modes, NaN or Inf,
complex, bool and other dtypes, and values that NumPy might print in scientific notation (whose cutoffs
differ between NumPy versions). ``tests/test_printing.py`` holds it to ``np.array2string``'s output.
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np

# NumPy's own scalar types (not ml_dtypes' float8 or int4, nor longdouble, which NumPy formats otherwise)
_INTEGERS = frozenset({np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64})
_FLOATS = frozenset({np.float16, np.float32, np.float64})


def array_text(array: np.ndarray, linewidth: int | None = None) -> str:
    """``np.array2string(array, threshold=sys.maxsize, max_line_width=linewidth)``: every element printed."""
    options = np.get_printoptions()
    width = options["linewidth"] if linewidth is None else linewidth
    words = None
    if type(array) is np.ndarray and array.ndim and array.size and options["formatter"] is None and (
            options["legacy"] is False and options["sign"] == "-"):
        kind = array.dtype.type
        if kind in _INTEGERS:
            words = _integer_words(array)
        elif kind in _FLOATS and options["floatmode"] == "maxprec":
            words = _float_words(array, options["precision"])
    if words is None:
        return np.array2string(array, threshold=sys.maxsize, max_line_width=width)
    return _layout(words, array.shape, width)


def _integer_words(array: np.ndarray) -> list[str]:
    """Each integer right-aligned to the widest of the min and max, as NumPy's IntegerFormat pads them."""
    values = array.ravel().tolist()
    width = max(len(str(min(values))), len(str(max(values))))
    return [str(value).rjust(width) for value in values]


def _float_words(array: np.ndarray, precision: int) -> list[str] | None:
    """Finite floats in NumPy's positional notation, each padded to the same widths left and right of the
    point (NumPy's FloatingFormat in "maxprec" mode); None where NumPy may choose scientific notation or
    a value is not finite."""
    flat = array.ravel()
    low, high = float(np.minimum.reduce(flat)), float(np.maximum.reduce(flat))
    if not (math.isfinite(low) and math.isfinite(high)):  # NaN or Inf: one of them is not finite
        return None
    magnitudes = np.absolute(flat)
    smallest = float(np.minimum.reduce(magnitudes, where=magnitudes != 0, initial=math.inf))
    if smallest != math.inf:  # some value is not zero
        largest, (cutoff, tiny) = max(-low, high), _cutoffs(array.dtype)
        # the values are exact in float64, and so are the bounds; a quotient just above 1000 in float64 that
        # NumPy 2 rounds to 1000 in the dtype is left to NumPy too
        if largest >= cutoff or smallest < tiny or largest / smallest > 1000.0:
            return None
    parts = [_positional(value, precision) for value in flat]
    wholes, fractions = zip(*parts)
    left, right = max(map(len, wholes)), max(map(len, fractions))
    return [whole.rjust(left) + "." + fraction.ljust(right) for whole, fraction in parts]


def _positional(value: np.floating, precision: int) -> tuple[str, str]:
    """A finite value's digits before and after the point, as NumPy's "maxprec" mode prints it (from 1e-4
    to 1e16, where a NumPy scalar's own ``str`` is positional too). That ``str`` is the shortest text that
    reads back as the value, which is NumPy's choice wherever it needs at most ``precision`` decimals; it
    costs half of ``np.format_float_positional``, which rounds the rest."""
    whole, _, fraction = str(value).partition(".")
    if len(fraction) > precision:
        whole, _, fraction = np.format_float_positional(value, precision=precision, unique=True, fractional=True,
                                                        trim=".").partition(".")
    return whole, "" if fraction == "0" else fraction  # "1.0" is printed "1."


@functools.cache
def _cutoffs(dtype: np.dtype) -> tuple[float, float]:
    """The magnitudes from which NumPy may print floats of ``dtype`` in scientific notation: the largest value
    at or above 1e8 (in recent versions, at or above 10**precision of the dtype), the smallest below 1e-4
    (since NumPy 2, compared in the dtype). Each the side of its versions' bounds that leaves more to NumPy."""
    large = 10.0 ** min(8, np.finfo(dtype).precision)
    return min(large, float(dtype.type(large))), max(0.0001, float(dtype.type(0.0001)))


def _layout(words: list[str], shape: tuple[int, ...], width: int) -> str:
    """The words (in C order) as NumPy lays out an array of ``shape`` with separator " ": each row's
    elements wrapped before ``width`` columns, each deeper dimension one more column of indent and one more
    blank line between its blocks."""

    def block(start: int, dims: tuple[int, ...], indent: str, columns: int) -> str:
        if len(dims) == 1:
            limit = columns - 1  # room for the "]"
            text, line = "", indent
            for position in range(start, start + dims[0]):
                word = words[position]
                if len(line) + len(word) > limit and len(line) > len(indent):
                    text += line.rstrip() + "\n"
                    line = indent
                line += word + " "
            text += line[:-1]
        else:
            size = math.prod(dims[1:])
            breaks = "\n" * (len(dims) - 1)
            text = breaks.join(indent + block(start + i * size, dims[1:], indent + " ", columns - 1)
                               for i in range(dims[0]))
        return "[" + text[len(indent):] + "]"

    return block(0, tuple(shape), " ", width)
