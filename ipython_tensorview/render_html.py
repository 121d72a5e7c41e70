"""The text/html display of a tensor: a facts table, an SVG histogram, a thumbnail, the values.

Colours come from the page (``currentColor``, inherited text colour, translucent greys), so the block
reads the same in light and dark themes.
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np

from .render_text import first_at, number, size_text
from .summary import Summary

_BLOCK = "font-family: var(--jp-code-font-family, monospace); font-size: 12px; color: inherit; margin: 2px 0"
_CELL = "padding: 1px 8px; text-align: left; border-bottom: 1px solid rgba(128, 128, 128, 0.4)"
_PICTURES = "display: flex; gap: 12px; align-items: flex-end; margin: 4px 0"
HISTOGRAM_BAR = 5  # px per bin
HISTOGRAM_HEIGHT = 32
THUMBNAIL_DISPLAY = 128  # px of the larger side, at least one px per element


def facts(summary: Summary) -> list[tuple[str, str]]:
    """The header table's (label, value) pairs."""
    rows = [
        ("type", summary.type_name),
        ("shape", summary.shape),
        ("dtype", summary.dtype),
        ("device", summary.device),
        ("grad", summary.grad or "no"),
        ("size", size_text(summary)),
    ]
    stats = summary.stats
    if stats is not None:
        of = f"{stats.of} " if stats.of else ""
        if stats.count:
            rows += [(f"{of}{name}", number(getattr(stats, name))) for name in ("min", "max", "mean", "std")]
        rows += [(label, str(n)) for label, n in stats.non_finite()]
        if stats.non_finite() and stats.first_non_finite is not None:
            rows.append(("first non-finite", first_at(stats)))
        if stats.sampled_from:
            shown = stats.count + stats.nan + stats.posinf + stats.neginf
            rows.append(("stats", f"≈ sample of {shown:,} of {stats.sampled_from:,}"))
    return rows


def histogram_svg(histogram: tuple[int, ...], low: float, high: float, step: int = 1) -> str:
    """Bars in the text colour, with a title giving the range; empty where there is nothing to draw.

    ``step`` > 1: the counts are those of every step-th element in memory order, and the title says so.
    """
    peak = max(histogram, default=0)
    if not peak:
        return ""
    width = HISTOGRAM_BAR * len(histogram)
    bars = "".join(
        f'<rect x="{i * HISTOGRAM_BAR}" y="{HISTOGRAM_HEIGHT - h:.1f}" width="{HISTOGRAM_BAR - 1}" height="{h:.1f}"/>'
        for i, count in enumerate(histogram)
        if (h := max(1.0, count / peak * HISTOGRAM_HEIGHT) if count else 0)
    )
    sample = f" (≈ every {step:,}th element in memory order)" if step > 1 else ""
    title = escape(
        f"histogram of finite values{sample}, {len(histogram)} bins from {number(low)} to {number(high)}"
    )
    return (
        f'<svg class="tensorview-histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{HISTOGRAM_HEIGHT}" viewBox="0 0 {width} {HISTOGRAM_HEIGHT}" role="img" '
        f'fill="currentColor" style="color: inherit; opacity: 0.8"><title>{title}</title>{bars}</svg>'
    )


def thumbnail_img(rgba: np.ndarray, png: bytes) -> str:
    height, width = rgba.shape[:2]
    scale = max(1, THUMBNAIL_DISPLAY // max(height, width))
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="tensorview-thumbnail" alt="thumbnail, {height}x{width} samples" '
        f'width="{width * scale}" height="{height * scale}" style="image-rendering: pixelated" '
        f'src="data:image/png;base64,{data}"/>'
    )


def render_html(summary: Summary, thumbnail: tuple[np.ndarray, bytes] | None = None) -> str:
    """The whole block; ``thumbnail`` is the (RGBA array, PNG bytes) picture, if any."""
    labels, values = zip(*facts(summary))
    head = "".join(f'<th style="{_CELL}">{escape(label)}</th>' for label in labels)
    body = "".join(f'<td style="{_CELL}">{escape(value)}</td>' for value in values)
    parts = [
        f'<table class="tensorview-facts" style="border-collapse: collapse; color: inherit; '
        f'background: transparent"><thead><tr>{head}</tr></thead><tbody><tr>{body}</tr></tbody></table>'
    ]
    if summary.note:
        parts.append(f'<div class="tensorview-note" style="opacity: 0.8">{escape(summary.note)}</div>')
    pictures = []
    if summary.stats is not None and summary.stats.count:
        stats = summary.stats
        pictures.append(histogram_svg(stats.histogram, stats.min, stats.max, stats.histogram_step))
    if thumbnail is not None:
        pictures.append(thumbnail_img(*thumbnail))
    pictures = [p for p in pictures if p]
    if pictures:
        parts.append(f'<div class="tensorview-pictures" style="{_PICTURES}">{"".join(pictures)}</div>')
    if summary.values:
        parts.append(
            f'<pre class="tensorview-values" style="margin: 4px 0; color: inherit; background: transparent">'
            f"{escape(summary.values)}</pre>"
        )
    return f'<div class="tensorview" style="{_BLOCK}">{"".join(parts)}</div>'
