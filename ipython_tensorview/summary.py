"""What a display shows, gathered at the cost of the part shown: the facts an array's adapter gives
(:mod:`.adapters`), NumPy's printing of its edge elements, and statistics from :mod:`.stats`, computed on
the array's device in bounded chunks. The text and HTML both render the one list of :func:`facts`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .adapters import adapter_for
from .adapters import torch as torch_adapter
from .config import TensorView
from .convert import format_bytes
from .printing import element_words, laid_out, shown_edges
from .stats import Stats, tensor_stats
from .tensor_kinds import (
    TensorConversionError,
    dtype_name,
    plain_tensor,
    read_unrecorded,
    shape_of,
)


class Preview(NamedTuple):
    """The values a display prints: the array of them, and how NumPy prints it."""

    array: np.ndarray  # the whole array, or its edges where NumPy summarises it
    summarise: bool  # NumPy prints the edges alone, with "..."
    words: list[str] | None  # each element printed (see printing.element_words and shown_edges), for each width


def preview_of(array: np.ndarray, summarise: bool) -> Preview:
    """The preview of an adapter's ``(array, summarise)``, with the words of the elements it prints."""
    return Preview(array, summarise, element_words(shown_edges(array) if summarise else array))


@dataclass(frozen=True)
class Summary:
    """The facts a display shows about one tensor; small, whatever the tensor's size."""

    type_name: str
    shape: str
    dtype: str
    device: str
    grad: str  # "", "requires_grad" or "grad_fn=MulBackward0"
    nbytes: int
    stored_bytes: int  # bytes of the distinct elements: less than nbytes where expand() repeats them
    stats: Stats | None
    note: str  # what applies where statistics do not: "bool: 3 of 4 true (75.0%)", "meta: no data"...
    values: str  # NumPy's text of the values, or "" where there are none
    # the small array behind ``values``, to print it at another width
    preview: Preview | None = field(default=None, compare=False, repr=False)
    extra: tuple[tuple[str, str], ...] = ()  # facts of the array's library: ("placements", "(Shard(dim=0))")


class Fact(NamedTuple):
    """One fact of a display: the HTML shows ``label`` and ``value`` (nothing where the label is empty),
    the text header ``text``; facts with the same ``field`` share one field of the header (fields are
    joined by " · ")."""

    label: str
    value: str
    text: str
    field: str


def facts(summary: Summary) -> tuple[Fact, ...]:
    """Every fact a display shows, formatted once per summary: the text header and the HTML both render it."""
    listed = summary.__dict__.get("_facts")  # a frozen dataclass: the list is kept beside its fields
    if listed is None:
        listed = summary.__dict__["_facts"] = tuple(_listed_facts(summary))
    return listed


def _listed_facts(summary: Summary) -> list[Fact]:
    rows = [
        Fact("type", summary.type_name, summary.type_name, "what"),
        Fact("shape", summary.shape, summary.shape, "what"),
        Fact("dtype", summary.dtype, summary.dtype, "what"),
        Fact("device", summary.device, summary.device, "what"),
    ]
    for label, value in summary.extra:
        rows.append(Fact(label, value, f"{label} {value}", f"library: {label}"))
    if summary.grad:
        rows.append(Fact("grad", summary.grad, summary.grad, "grad"))
    size = size_text(summary)
    rows.append(Fact("size", size, size, "size"))
    if summary.note:
        rows.append(Fact("note", summary.note, summary.note, "note"))
    stats = summary.stats
    if stats is None:
        return rows
    if stats.count:
        if stats.of:  # what the statistics describe ("|z|": complex magnitudes), said once in the text
            rows.append(Fact("", "", stats.of, "stats"))
        of = f"{stats.of} " if stats.of else ""
        for name, text in zip(("min", "max", "mean", "std"), numbers([stats.min, stats.max, stats.mean, stats.std])):
            rows.append(Fact(of + name, text, f"{name} {text}", "stats"))
    for label, n in stats.non_finite():
        rows.append(Fact(label, str(n), f"{label} {n}", "non-finite"))
    if stats.non_finite() and stats.first_non_finite is not None:
        where = f"[{', '.join(map(str, stats.first_non_finite))}]"
        rows.append(Fact("first non-finite", where, f"(first at {where})", "non-finite"))
    for axis in stats.non_finite_by_dim:  # the HTML alone: which rows, columns... hold them
        shown = ", ".join(f"{index} ×{count}" for index, count in axis.first)
        more = " …" if axis.holding > len(axis.first) else ""
        rows.append(Fact(f"non-finite along dim {axis.dim}", f"{axis.holding} of {axis.size}: {shown}{more}", "",
                         "non-finite"))
    if stats.sampled_from:
        shown = stats.count + stats.nan + stats.posinf + stats.neginf
        sample = f"≈ sample of {shown:,} of {stats.sampled_from:,}"
        rows.append(Fact("stats", sample, sample, "sample"))
    if stats.histogram and stats.histogram_step > 1:  # the HTML alone: the text's sparkline starts with "≈"
        rows.append(Fact("histogram", f"≈ every {ordinal(stats.histogram_step)} element", "", "sample"))
    return rows


def ordinal(n: int) -> str:
    """7th, 21st, 112th, 1,003rd."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def numbers(values: list[float | int]) -> list[str]:
    """Statistics in one notation: integers where all are whole (and not huge), else four significant
    digits; exact integers (an integer tensor's min and max) stay whole."""
    whole = all(isinstance(v, int) or (math.isfinite(v) and v == int(v) and abs(v) < 1e15) for v in values)
    return [str(int(v)) if whole or isinstance(v, int) else f"{v:.4g}" for v in values]


def size_text(summary: Summary) -> str:
    """The tensor's size; with the bytes actually stored where expand() repeats them: "3.6 TiB (4 B stored)"."""
    size = format_bytes(summary.nbytes)
    if summary.stored_bytes != summary.nbytes:
        size += f" ({format_bytes(summary.stored_bytes)} stored)"
    return size


def printed(preview: Preview, linewidth: int | None = None) -> str:
    """A preview as NumPy prints the whole it stands for (at ``linewidth``, else NumPy's own)."""
    return laid_out(preview.array, preview.words, linewidth, preview.summarise)


def wide_values(summary: Summary, linewidth: int) -> str:
    """The values printed ``linewidth`` columns wide where that changes them, else as the text shows them."""
    narrow = np.get_printoptions()["linewidth"]
    if summary.preview is None or linewidth <= narrow:
        return summary.values
    # each row NumPy prints ends its last line with "]": a line that ends otherwise (but "...") is a
    # wrapped row's beginning; where there is none, the wider printing is the same text
    if all(line.endswith("]") or line.strip(" .,") == "" for line in summary.values.splitlines()):
        return summary.values
    return printed(summary.preview, linewidth=linewidth)


def summarize(obj, settings: TensorView, values: bool = True, view=None) -> Summary:
    """Every fact the text and HTML displays show, read from the array as it is now; without ``values``,
    the header's facts alone, without a histogram (an array shown on one line inside a container).

    A torch tensor is read directly; an array of another library (or a DTensor) through its adapter,
    as a torch tensor over its data, with the library's own facts (``view``: the adapter's view of it,
    where the caller has it already).
    """
    adapter = adapter_for(obj)
    if view is None and adapter is not None:
        view = adapter.view(obj)  # imports torch where needed
    if view is not None and view.tensor is None:  # read where it lies, by its own library
        return _summarize_in_place(obj, adapter, view, settings, values)
    t = view.tensor if view is not None else obj
    show_values, values, stats, plain, preview = values, "", None, None, None
    with read_unrecorded(t):
        try:
            plain = plain_tensor(t)
        except TensorConversionError as e:
            # the whole reason in a block of its own; its few words on one line, inside a container
            note = "meta: no data" if t.is_meta else str(e) if show_values else e.short
        else:
            note = torch_adapter.note(plain)
            if show_values and plain.is_nested:
                values = torch_adapter.values_text(plain)
            elif show_values:
                options = np.get_printoptions()
                preview = preview_of(*torch_adapter.preview_array(plain, options["threshold"], options["edgeitems"]))
                values = printed(preview)
            source = torch_adapter.stats_source(plain) if settings.stats else None
            if source is not None and source.numel():
                bins = settings.histogram_bins if show_values else 0  # one line has no room for a sparkline
                stats = tensor_stats(source, bins=bins, max_elements=settings.stats_max_elements)
                if source is not plain:
                    stats = torch_adapter.located_in_sparse(plain, stats)
        if view is None:  # its shape and stored bytes run torch ops too (unbind, narrow)
            return Summary(
                type_name=type(obj).__name__,
                shape=shape_of(obj),
                dtype=dtype_name(obj.dtype),
                device=str(obj.device),
                grad=torch_adapter.grad_state(obj),
                nbytes=torch_adapter.nbytes(obj),
                stored_bytes=torch_adapter.stored_bytes(plain) if plain is not None else torch_adapter.nbytes(obj),
                stats=stats,
                note=note,
                values=values,
                preview=preview,
            )
    if stats is not None and not view.whole:  # places in a shard are not places in the array
        stats = replace(stats, first_non_finite=None, non_finite_by_dim=())
    return _viewed(view, dtype_name(t.dtype), stats, note, values, preview)


def _summarize_in_place(obj, adapter, view, settings: TensorView, values: bool) -> Summary:
    """The summary of an array its adapter reads where it lies (a sharded JAX array)."""
    preview = None
    if values:
        options = np.get_printoptions()
        edges = adapter.preview(obj, options["threshold"], options["edgeitems"])
        preview = preview_of(*edges) if edges is not None else None
    stats = adapter.statistics(obj, settings.histogram_bins if values else 0) if settings.stats else None
    return _viewed(view, view.dtype, stats, "", printed(preview) if preview is not None else "", preview)


def _viewed(view, dtype: str, stats, note: str, values: str, preview) -> Summary:
    """The summary of an array another library holds: its adapter's facts, with what was read of it."""
    return Summary(
        type_name=view.type_name,
        shape=str(view.shape),
        dtype=dtype,
        device=view.device,
        grad=view.grad,
        nbytes=view.nbytes,
        stored_bytes=view.nbytes,
        stats=stats,
        note="; ".join(filter(None, [view.note, note])),
        values=values,
        preview=preview,
        extra=view.facts,
    )
