"""NumPy's printing of an array, at a fraction of ``np.array2string``'s cost where the array is small.

A display prints the values of every small tensor it shows, and ``np.array2string`` spends most of a small
tensor's display on its generality: the options it merges, the formatter it picks, two passes of Dragon4
per element and a line builder called per element. For the arrays a display prints most (real numbers,
every element shown, or a summarised array's edges with its "...") this module makes the same text from
NumPy's own pieces: Dragon4 through a
NumPy scalar's ``str`` or ``np.format_float_positional`` and ``np.format_float_scientific`` (once per
element, twice for some in scientific notation), and NumPy's layout rules (fields padded to one width, rows
wrapped at the line width, a blank line per dimension between blocks). The words of the elements are
taken once for every width the array is printed at. It answers only where the text is certainly NumPy's
under the print options in force, and hands every other case to ``np.array2string``: options other than
NumPy's defaults for precision's mode, sign and formatter, legacy modes, complex, bool and other dtypes,
values near the cutoffs of scientific notation, which differ between NumPy versions, and NaN or Inf named
with a line break. NaN and Inf are printed here, with the names the print options give them.
``tests/test_printing.py`` holds it to ``np.array2string``'s output.
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
    return laid_out(array, element_words(array), linewidth)


def element_words(array: np.ndarray) -> list[str] | None:
    """Each element of ``array`` (in C order) as NumPy prints it among the others, under the print options in
    force; None where ``np.array2string`` alone can say (see the module's docstring). The same words lay
    the array out at any width."""
    options = np.get_printoptions()
    if type(array) is np.ndarray and array.ndim and array.size and options["formatter"] is None and (
            options["legacy"] is False and options["sign"] == "-"):
        kind = array.dtype.type
        if kind in _INTEGERS:
            return _integer_words(array)
        if kind in _FLOATS and options["floatmode"] == "maxprec":
            return _float_words(array, options)
    return None


def laid_out(array: np.ndarray, words: list[str] | None, linewidth: int | None = None, summarise: bool = False) -> str:
    """:func:`array_text` from the array's :func:`element_words`, taken once for every width it is printed at.

    With ``summarise``, the array is a summary's edges (each dimension longer than twice the ``edgeitems``
    print option holding its first and last few entries, and one in the middle that "..." stands for, as
    an adapter's ``preview_array`` gives them) and ``words`` those of its :func:`shown_edges`: the text is
    ``np.array2string(array, threshold=0)``, NumPy's printing of the whole array the edges come from."""
    width = np.get_printoptions()["linewidth"] if linewidth is None else linewidth
    if words is None:
        return np.array2string(array, threshold=0 if summarise else sys.maxsize, max_line_width=width)
    return _layout(words, array.shape, width, np.get_printoptions()["edgeitems"] if summarise else None)


def shown_edges(array: np.ndarray) -> np.ndarray:
    """The elements NumPy prints of a summary's edges (see :func:`laid_out`), whose words it formats alike:
    each dimension longer than twice ``edgeitems`` without its middle entries."""
    edgeitems = np.get_printoptions()["edgeitems"]
    for dim, size in enumerate(array.shape):
        if size > 2 * edgeitems:
            array = np.take(array, [*range(edgeitems), *range(size - edgeitems, size)], axis=dim)
    return array


def _integer_words(array: np.ndarray) -> list[str]:
    """Each integer right-aligned to the widest of the min and max, as NumPy's IntegerFormat pads them."""
    values = array.ravel().tolist()
    width = max(len(str(min(values))), len(str(max(values))))
    return [str(value).rjust(width) for value in values]


def _float_words(array: np.ndarray, options: dict) -> list[str] | None:
    """Floats as NumPy prints them (its FloatingFormat in "maxprec" mode), under print ``options``: the finite
    values in scientific notation where every NumPy version would, else in positional notation, each padded
    to the same widths left and right of the point; NaN and Inf as the options name them, right-aligned to
    the same width, which their names widen where needed. None where NumPy versions differ in their choice."""
    flat = array.ravel()
    low, high = _extremes(flat)
    if math.isfinite(low) and math.isfinite(high):  # NaN or Inf make one of them not finite
        return _finite_words(flat, low, high, options, 0)
    if any(len(("x" + options[name]).splitlines()) > 1 for name in ("nanstr", "infstr")):
        return None  # NumPy lays a word holding a line break out over lines of its own
    finite = np.isfinite(flat)
    values = flat[finite]
    # NumPy makes room for either name, and for a minus sign where an infinity is negative
    widest = max(len(options["nanstr"]), len(options["infstr"]) + bool(np.any(flat == -math.inf)))
    words = []
    if values.size:
        words = _finite_words(values, float(values.min()), float(values.max()), options, widest)
        if words is None:
            return None
    width = len(words[0]) if words else max(1, widest)
    shown = iter(words)
    return [next(shown) if is_finite else _non_finite_name(value, options).rjust(width)
            for is_finite, value in zip(finite.tolist(), flat.tolist())]


# up to this many values, Python's loops over a list cost less than NumPy's reductions (about a microsecond
# each, and twice that inside a display, whose other code has pushed NumPy's out of the processor's caches)
FEW_VALUES = 64


def _extremes(flat: np.ndarray) -> tuple[float, float]:
    """The min and max of flat floats; NaN for both where any is NaN, as NumPy's minimum and maximum give."""
    if flat.size > FEW_VALUES:
        return float(np.minimum.reduce(flat)), float(np.maximum.reduce(flat))
    listed = flat.tolist()
    if any(value != value for value in listed):
        return math.nan, math.nan
    return min(listed), max(listed)


def _non_finite_name(value: float, options: dict) -> str:
    """NaN or Inf as NumPy names it where the sign option is "-": "nan", "inf", "-inf" (a NaN has no sign)."""
    if math.isnan(value):
        return options["nanstr"]
    return "-" + options["infstr"] if value < 0 else options["infstr"]


def _finite_words(values: np.ndarray, low: float, high: float, options: dict, widest: int) -> list[str] | None:
    """The words of finite ``values`` (from ``low`` to ``high``), wide enough to the left of the point that the
    whole word is ``widest`` characters at least (the names of NaN and Inf beside them)."""
    precision = options["precision"]
    if values.size <= FEW_VALUES:
        smallest = min((abs(value) for value in values.tolist() if value), default=math.inf)
    else:
        magnitudes = np.absolute(values)
        smallest = float(np.minimum.reduce(magnitudes, where=magnitudes != 0, initial=math.inf))
    if smallest != math.inf:  # some value is not zero
        largest, (cutoff, tiny) = max(-low, high), _cutoffs(values.dtype)
        # where NumPy may print them in scientific notation (the values are exact in float64, and so are the
        # bounds): in every version, or in some (a quotient just above 1000 in float64 that NumPy 2 rounds
        # to 1000 in the dtype; float32 from 1e6 to 1e8), which NumPy itself prints
        if largest >= cutoff or smallest < tiny or largest / smallest > 1000.0:
            if _scientific_in_every_version(largest, smallest, values.dtype, options["suppress"]):
                return _scientific_words(values, precision, widest)
            return None
    parts = [_positional(value, precision) for value in values]
    wholes, fractions = zip(*parts)
    right = max(map(len, fractions))
    left = max(max(map(len, wholes)), widest - right - 1)
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


def _scientific_in_every_version(largest: float, smallest: float, dtype: np.dtype, suppress: bool) -> bool:
    """Whether every NumPy version prints finite values in scientific notation, given their largest and
    smallest non-zero magnitudes: where the largest is 1e8 or more; or, unless the ``suppress`` print option
    is on, where the smallest is below 1e-4 (compared in float64, as NumPy 1 does, and in the dtype, as
    NumPy 2 does), or the largest over the smallest, divided in the dtype as NumPy divides, is above 1000."""
    kind = dtype.type
    with np.errstate(over="ignore"):  # a quotient beyond the dtype's range is infinite, and above 1000
        ratio = float(kind(largest) / kind(smallest))
    return largest >= 1e8 or not suppress and (smallest < min(0.0001, float(kind(0.0001))) or ratio > 1000.0)


def _scientific_words(flat: np.ndarray, precision: int, widest: int) -> list[str]:
    """Finite floats in NumPy's scientific notation (its FloatingFormat, "maxprec" mode): Dragon4's shortest
    digits of each, at most ``precision`` after the point, then every mantissa as many digits long as the
    longest (Dragon4's further digits of the value, not zeros: float32's 1e-05 is 9.9999997e-06 beside
    longer ones), padded on the left to one width (so that a word is ``widest`` long at least), and every
    exponent to as many digits."""
    parts = []
    for value in flat:
        mantissa, _, exponent = np.format_float_scientific(value, precision=precision, trim=".").partition("e")
        whole, _, fraction = mantissa.partition(".")
        parts.append((whole, fraction, exponent))
    right = max(len(fraction) for _, fraction, _ in parts)
    digits = max(len(exponent) for _, _, exponent in parts) - 1  # after the exponent's sign
    left = max(max(len(whole) for whole, _, _ in parts), widest - right - digits - 3)  # ".", "e" and its sign
    return [
        f"{whole.rjust(left)}.{fraction}e{exponent[0]}{exponent[1:].zfill(digits)}" if len(fraction) == right
        else np.format_float_scientific(value, precision=right, trim="k", pad_left=left, exp_digits=digits,
                                        min_digits=right)
        for value, (whole, fraction, exponent) in zip(flat, parts)
    ]


@functools.cache
def _cutoffs(dtype: np.dtype) -> tuple[float, float]:
    """The magnitudes from which NumPy may print floats of ``dtype`` in scientific notation: the largest value
    at or above 1e8 (in recent versions, at or above 10**precision of the dtype), the smallest below 1e-4
    (since NumPy 2, compared in the dtype). Each the side of its versions' bounds that leaves more to NumPy."""
    large = 10.0 ** min(8, np.finfo(dtype).precision)
    return min(large, float(dtype.type(large))), max(0.0001, float(dtype.type(0.0001)))


def _layout(words: list[str], shape: tuple[int, ...], width: int, edgeitems: int | None = None) -> str:
    """The words (in C order) as NumPy lays out an array of ``shape`` with separator " ": each row's
    elements wrapped before ``width`` columns, each deeper dimension one more column of indent and one more
    blank line between its blocks. With ``edgeitems``, a dimension longer than twice it shows its first and
    last ``edgeitems`` entries with "..." between (the words are those of the entries shown)."""
    shown = [2 * edgeitems if edgeitems is not None and size > 2 * edgeitems else size for size in shape]
    entries = [[*range(edgeitems), None, *range(size - edgeitems, size)] if size < full else range(size)
               for size, full in zip(shown, shape)]  # the entries of each dimension, None for "..."
    last = len(shown) - 1

    def block(start: int, dim: int, indent: str, columns: int) -> str:
        if dim == last:
            limit = columns - 1  # room for the "]"
            text, line = "", indent
            for position in entries[dim]:
                word = "..." if position is None else words[start + position]
                if len(line) + len(word) > limit and len(line) > len(indent):
                    text += line.rstrip() + "\n"
                    line = indent
                line += word + " "
            text += line[:-1]
        else:
            size = math.prod(shown[dim + 1 :])
            breaks = "\n" * (last - dim)
            text = breaks.join(
                indent + ("..." if i is None else block(start + i * size, dim + 1, indent + " ", columns - 1))
                for i in entries[dim]
            )
        return "[" + text[len(indent):] + "]"

    return block(0, 0, " ", width)
