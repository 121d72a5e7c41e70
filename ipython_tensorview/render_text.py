"""The text/plain display of a tensor: one header line of facts and statistics, then NumPy's printing.

    Tensor (1000, 1000) float32 cpu · requires_grad · 3.8 MiB · min -4.8 max 5.1 mean 0.0004 std 1 · ▁▂▄▇█▇▄▂▁
    [[ 0.496  -0.1383 ...
"""

from __future__ import annotations

from .summary import Summary, facts

SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def sparkline(histogram: tuple[int, ...]) -> str:
    """One character per bin, its height proportional to the count; an empty bin is a space."""
    peak = max(histogram, default=0)
    if not peak:
        return ""
    levels = len(SPARK_LEVELS)
    # the level is ceil(count / peak * levels), in integers: a count of at least one is one level high at least
    return "".join([SPARK_LEVELS[(count * levels - 1) // peak] if count else " " for count in histogram])


def header_facts(summary: Summary, omit: frozenset[str] = frozenset()) -> list[list[str]]:
    """The header's fields, each the texts of its facts, from the display's one list of facts, then the
    sparkline.

    ``omit``: facts to leave out to save room, by label ("size", "min", "mean", ...), or "sparkline".
    """
    fields: dict[str, list] = {}
    for fact in facts(summary):
        if fact.label.removeprefix("|z| ") not in omit:
            fields.setdefault(fact.field, []).append(fact)
    grouped = []
    for field in fields.values():
        if not any(fact.label for fact in field):
            continue  # labelless facts alone (a "|z|" whose statistics were all omitted) say nothing
        texts = []
        for fact in field:
            if texts and texts[-1] == "|z|":  # a labelless fact stays with the fact after it
                texts[-1] = f"|z| {fact.text}"
            elif fact.text:
                texts.append(fact.text)
        if texts:  # a field of HTML-only facts has no text
            grouped.append(texts)
    if summary.stats is not None and "sparkline" not in omit:
        spark = sparkline(summary.stats.histogram).rstrip()
        if spark and summary.stats.histogram_step > 1:  # the counts of a sample
            spark = "≈" + spark
        grouped += [[spark]] if spark else []
    return grouped


def header_fields(summary: Summary, omit: frozenset[str] = frozenset()) -> list[str]:
    """The header's fields as text (see :func:`header_facts`)."""
    return [" ".join(texts) for texts in header_facts(summary, omit)]


def header(summary: Summary) -> str:
    """The header on one line."""
    return " · ".join(header_fields(summary))


def wrap_fields(fields: list[list[str]], width: int) -> list[str]:
    """Fields (each a list of facts, joined by spaces) joined by " · " into lines of at most ``width``
    columns, broken between fields; a field too long for a line of its own is broken between its facts,
    never inside one."""
    lines = []
    for field in fields:
        text = " ".join(field)
        if lines and len(lines[-1]) + 3 + len(text) <= width:
            lines[-1] += " · " + text
        elif len(text) <= width:
            lines.append(text)
        else:
            first = True
            for fact in field:
                if lines and not first and len(lines[-1]) + 1 + len(fact) <= width:
                    lines[-1] += " " + fact
                else:
                    lines.append(fact)
                first = False
    return lines


# what a one-line header drops first, to fit its width
_SHORTENINGS = (("sparkline",), ("std",), ("mean",), ("stats",), ("min", "max"), ("note",), ("size",),
                ("shards", "shard", "memory"), ("mesh", "sharding", "placements"))


def one_line(summary: Summary, width: int) -> str:
    """The header on one line of at most ``width`` columns where it can be: the sparkline goes first,
    then std, mean, the sample note, min and max, notes, the size, the library's facts; never the type,
    shape, dtype, device or the NaN/Inf counts."""
    omit = frozenset()
    line = " · ".join(header_fields(summary))
    for part in _SHORTENINGS:
        if len(line) <= width:
            break
        omit |= set(part)
        line = " · ".join(header_fields(summary, omit))
    return line


def render_text(summary: Summary, width: int = 0) -> str:
    """Header, wrapped between facts to ``width`` columns (0: one line), then the values as NumPy prints
    them (nothing more where there is no data)."""
    lines = wrap_fields(header_facts(summary), width) if width else [header(summary)]
    if summary.values:
        lines.append(summary.values)
    return "\n".join(lines)
