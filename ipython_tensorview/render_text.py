"""The text/plain display of a tensor: one header line of facts and statistics, then NumPy's printing.

    Tensor (1000, 1000) float32 cpu · requires_grad · 3.8 MiB · min -4.8 max 5.1 mean 0.0004 std 1 · ▁▂▄▇█▇▄▂▁
    [[ 0.496  -0.1383 ...
"""

from __future__ import annotations

import math

from .convert import format_bytes
from .stats import Stats
from .summary import Summary

SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def number(value: float) -> str:
    """A statistic for the header: four significant digits, integers without a decimal point."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def sparkline(histogram: tuple[int, ...]) -> str:
    """One character per bin, its height proportional to the count; an empty bin is a space."""
    peak = max(histogram, default=0)
    if not peak:
        return ""
    levels = len(SPARK_LEVELS)
    return "".join(
        " " if count == 0 else SPARK_LEVELS[max(0, math.ceil(count / peak * levels) - 1)] for count in histogram
    )


def stats_fields(stats: Stats, omit: frozenset[str] = frozenset()) -> list[str]:
    """The statistics as header fields: "min -1 max 2 mean 0.5 std 1", the non-finite counts, the sample.
    ``omit``: any of "min max", "mean", "std", to save room."""
    of = f"{stats.of} " if stats.of else ""
    fields = []
    if stats.count:
        parts = [] if "min max" in omit else [f"min {number(stats.min)} max {number(stats.max)}"]
        parts += [] if "mean" in omit else [f"mean {number(stats.mean)}"]
        parts += [] if "std" in omit else [f"std {number(stats.std)}"]
        fields += [of + " ".join(parts)] if parts else []
    counts = " ".join(f"{label} {n}" for label, n in stats.non_finite())
    if counts and stats.first_non_finite is not None:
        counts += f" (first at {first_at(stats)})"
    fields += [counts] if counts else []
    if stats.sampled_from:
        shown = stats.count + stats.nan + stats.posinf + stats.neginf
        fields.append(f"≈ sample of {shown:,} of {stats.sampled_from:,}")
    return fields


def first_at(stats: Stats) -> str:
    """Where the first NaN or Inf is, as an index: "[0, 17]"."""
    return f"[{', '.join(map(str, stats.first_non_finite))}]"


def size_text(summary: Summary) -> str:
    """The tensor's size; with the bytes actually stored where expand() repeats them: "3.6 TiB (4 B stored)"."""
    size = format_bytes(summary.nbytes)
    if summary.stored_bytes != summary.nbytes:
        size += f" ({format_bytes(summary.stored_bytes)} stored)"
    return size


def header_fields(summary: Summary, omit: frozenset[str] = frozenset()) -> list[str]:
    """The header's facts: type, shape, dtype, device, grad state, size, then statistics or a note.

    ``omit``: parts to leave out to save room, of "size", "min max", "mean", "std", "sparkline".
    """
    fields = [f"{summary.type_name} {summary.shape} {summary.dtype} {summary.device}"]
    fields += [summary.grad] if summary.grad else []
    fields += [] if "size" in omit else [size_text(summary)]
    fields += [summary.note] if summary.note else []
    if summary.stats is not None:
        fields += stats_fields(summary.stats, omit)
        spark = "" if "sparkline" in omit else sparkline(summary.stats.histogram).rstrip()
        fields += [spark] if spark else []
    return fields


def header(summary: Summary) -> str:
    """The header on one line."""
    return " · ".join(header_fields(summary))


def wrap_fields(fields: list[str], width: int) -> list[str]:
    """Fields joined by " · " into lines of at most ``width`` columns, broken between fields, never inside
    one (a field longer than the width has a line to itself)."""
    lines = []
    for field in fields:
        if lines and len(lines[-1]) + 3 + len(field) <= width:
            lines[-1] += " · " + field
        else:
            lines.append(field)
    return lines


# what a one-line header drops first, to fit its width
_SHORTENINGS = ("sparkline", "std", "mean", "min max", "size")


def one_line(summary: Summary, width: int) -> str:
    """The header on one line of at most ``width`` columns where it can be: the sparkline goes first,
    then std, mean, min and max, the size; never the type, shape, dtype, device or the NaN/Inf counts."""
    omit = frozenset()
    line = " · ".join(header_fields(summary))
    for part in _SHORTENINGS:
        if len(line) <= width:
            break
        omit |= {part}
        line = " · ".join(header_fields(summary, omit))
    return line


def render_text(summary: Summary, width: int = 0) -> str:
    """Header, wrapped between facts to ``width`` columns (0: one line), then the values as NumPy prints
    them (nothing more where there is no data)."""
    fields = header_fields(summary)
    lines = wrap_fields(fields, width) if width else [" · ".join(fields)]
    if summary.values:
        lines.append(summary.values)
    return "\n".join(lines)
