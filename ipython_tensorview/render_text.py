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


def stats_fields(stats: Stats) -> list[str]:
    """The statistics as header fields: "min -1 max 2 mean 0.5 std 1", the non-finite counts, the sample."""
    of = f"{stats.of} " if stats.of else ""
    fields = []
    if stats.count:
        fields.append(
            f"{of}min {number(stats.min)} max {number(stats.max)} "
            f"mean {number(stats.mean)} std {number(stats.std)}"
        )
    counts = " ".join(f"{label} {n}" for label, n in stats.non_finite())
    fields += [counts] if counts else []
    if stats.sampled_from:
        fields.append(f"≈ sample of {stats.count + stats.nan + stats.posinf + stats.neginf:,} of {stats.sampled_from:,}")
    return fields


def size_text(summary: Summary) -> str:
    """The tensor's size; with the bytes actually stored where expand() repeats them: "3.6 TiB (4 B stored)"."""
    size = format_bytes(summary.nbytes)
    if summary.stored_bytes != summary.nbytes:
        size += f" ({format_bytes(summary.stored_bytes)} stored)"
    return size


def header(summary: Summary) -> str:
    """The header line: type, shape, dtype, device, grad state, size, then statistics or a note."""
    fields = [f"{summary.type_name} {summary.shape} {summary.dtype} {summary.device}"]
    fields += [summary.grad] if summary.grad else []
    fields.append(size_text(summary))
    fields += [summary.note] if summary.note else []
    if summary.stats is not None:
        fields += stats_fields(summary.stats)
        spark = sparkline(summary.stats.histogram)
        fields += [spark] if spark else []
    return " · ".join(fields)


def render_text(summary: Summary) -> str:
    """Header line, then the values as NumPy prints them (nothing more where there is no data)."""
    return f"{header(summary)}\n{summary.values}" if summary.values else header(summary)
