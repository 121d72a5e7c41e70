"""The text/html display of a tensor: its facts, a histogram and a thumbnail as images, the values.

Every frontend shows the same block, JupyterLab's sanitizer included (it handles notebooks it did not run
itself): no inline SVG, no CSS variable, only style properties and values that sanitizer keeps, and
nothing that needs a style to be read. The histogram is an SVG image (a data URI) in a colour readable on
light and dark pages, the thumbnail a PNG already scaled up pixel by pixel, and the facts flow as
"label value" pairs whose inner spaces do not break, so a narrow pane wraps them between facts. Text
takes the page's own colour.
"""

from __future__ import annotations

import base64
from html import escape

import numpy as np

from .summary import Summary, facts, numbers, ordinal, wide_values
from .thumbnail import Picture, png

# literal font names: a sanitizer drops var(--jp-code-font-family)
_MONOSPACE = "font-family: Menlo, Consolas, 'DejaVu Sans Mono', monospace"
_BLOCK = f"{_MONOSPACE}; font-size: 12px; line-height: 1.5; margin: 2px 0"
_FACT = "display: inline-block; white-space: nowrap; margin-right: 4px"
_LABEL = "opacity: 0.7"
_PICTURE = "display: inline-block; vertical-align: bottom; margin: 4px 12px 0 0"
_VALUES = f"margin: 4px 0; white-space: pre; overflow-x: auto; {_MONOSPACE}"
HISTOGRAM_BAR = 5  # px per bin
HISTOGRAM_HEIGHT = 32
# the bars' colour: contrast of 4.5 or more against white and against black
HISTOGRAM_COLOUR = "#4c78a8"
THUMBNAIL_DISPLAY = 128  # px of the larger side, at least one px per element
THUMBNAIL_SHORT_SIDE = 16  # px at least of the shorter side: a (2, 1000) tensor is a strip, not a line
VALUES_LINEWIDTH = 120  # NumPy's line width for the values in HTML: a notebook has room for more than 75


def histogram_img(histogram: tuple[int, ...], low: float, high: float, step: int = 1) -> str:
    """The histogram as an SVG image, with what it shows in its alt text; empty where there is nothing to draw.

    ``step`` > 1: the counts are those of a sample of about every step-th element, and the alt text says so.
    """
    peak = max(histogram, default=0)
    if not peak:
        return ""
    width = HISTOGRAM_BAR * len(histogram)
    # drawn in tenths of a pixel, so that every coordinate is an integer; a bar is a pixel high at least
    tall = HISTOGRAM_HEIGHT * 10
    bars = "".join(
        f'<rect x="{i * HISTOGRAM_BAR * 10}" y="{tall - h}" width="{HISTOGRAM_BAR * 10 - 10}" height="{h}"/>'
        for i, count in enumerate(histogram)
        if count and (h := max(10, (count * tall + peak // 2) // peak))
    )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HISTOGRAM_HEIGHT}" '
        f'viewBox="0 0 {width * 10} {tall}" fill="{HISTOGRAM_COLOUR}">{bars}</svg>'
    )
    sample = f" (a sample of ≈ every {ordinal(step)} element)" if step > 1 else ""
    ends = numbers([low, high])
    alt = escape(f"histogram of finite values{sample}, {len(histogram)} bins from {ends[0]} to {ends[1]}")
    data = base64.b64encode(svg.encode()).decode("ascii")
    return (
        f'<img class="tensorview-histogram" alt="{alt}" title="{alt}" width="{width}" height="{HISTOGRAM_HEIGHT}" '
        f'style="{_PICTURE}" src="data:image/svg+xml;base64,{data}"/>'
    )


def scale(pixels: np.ndarray) -> tuple[int, int]:
    """How many px each of the thumbnail's samples (``pixels``' first two dimensions) takes down and across:
    to about ``THUMBNAIL_DISPLAY`` px on its larger side, and ``THUMBNAIL_SHORT_SIDE`` at least on each."""
    height, width = pixels.shape[:2]
    both = max(1, THUMBNAIL_DISPLAY // max(height, width))
    return max(both, -(-THUMBNAIL_SHORT_SIDE // height)), max(both, -(-THUMBNAIL_SHORT_SIDE // width))


def thumbnail_img(picture: Picture) -> str:
    """The thumbnail as an image: a PNG of one pixel per sample, inside an SVG image that draws it
    scaled up without smoothing (``image-rendering``, inside the image's own document, where no
    notebook's sanitizer reaches), so that each sample is a crisp block."""
    height, width = picture.pixels.shape[:2]
    rows, columns = scale(picture.pixels)
    pixels = base64.b64encode(png(*picture)).decode("ascii")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * columns}" height="{height * rows}" '
        f'viewBox="0 0 {width} {height}" preserveAspectRatio="none"><image width="{width}" height="{height}" '
        f'preserveAspectRatio="none" image-rendering="pixelated" style="image-rendering: pixelated" '
        f'href="data:image/png;base64,{pixels}"/></svg>'
    )
    data = base64.b64encode(svg.encode()).decode("ascii")
    return (
        f'<img class="tensorview-thumbnail" alt="thumbnail, {height}x{width} samples" '
        f'width="{width * columns}" height="{height * rows}" style="{_PICTURE}" '
        f'src="data:image/svg+xml;base64,{data}"/>'
    )


def _unbreakable(text: str) -> str:
    """A fact's label or value as HTML whose inner spaces do not break."""
    return escape(text).replace(" ", "\u00a0")


_FACT_OPEN = f'<span class="tensorview-fact" style="{_FACT}"><span class="tensorview-label" style="{_LABEL}">'


def facts_html(summary: Summary) -> str:
    """The facts as "label value" pairs, each unbreakable, separated where a line may break."""
    pairs = [
        f"{_FACT_OPEN}{_unbreakable(fact.label)}</span>\u00a0{_unbreakable(fact.value)}</span>"
        for fact in facts(summary)
        if fact.label
    ]
    return f'<div class="tensorview-facts">{" · ".join(pairs)}</div>'


def render_html(summary: Summary, thumbnail: Picture | None = None) -> str:
    """The whole block; ``thumbnail`` is the tensor's picture, if any."""
    parts = [facts_html(summary)]
    pictures = []
    if summary.stats is not None and summary.stats.count:
        stats = summary.stats
        pictures.append(histogram_img(stats.histogram, stats.min, stats.max, stats.histogram_step))
    if thumbnail is not None:
        pictures.append(thumbnail_img(thumbnail))
    pictures = [p for p in pictures if p]
    if pictures:
        parts.append(f'<div class="tensorview-pictures">{"".join(pictures)}</div>')
    values = wide_values(summary, VALUES_LINEWIDTH)
    if values:
        parts.append(f'<pre class="tensorview-values" style="{_VALUES}">{escape(values)}</pre>')
    return f'<div class="tensorview" style="{_BLOCK}">{"".join(parts)}</div>'
