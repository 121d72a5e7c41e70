"""What a tensor's display shows, gathered at the cost of the part shown.

The values shown are NumPy's own printing of a small array: when NumPy would summarise the tensor
(``size > threshold``), only the ``edgeitems`` first and last entries of each long dimension (plus one
entry that NumPy's ``...`` hides) are selected on the tensor's device and copied to the host. Statistics
come from :mod:`.stats`, computed on the device in bounded chunks.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from .config import TensorView
from .convert import convert, format_bytes
from .stats import Stats, tensor_stats
from .tensor_kinds import (
    TensorConversionError,
    distinct_view,
    dtype_name,
    is_raw_dtype,
    plain_tensor,
    raw_carrier,
    shape_of,
)

# conversion settings for what is displayed: always a private copy, bfloat16/float8 shown as float32
DISPLAY_SETTINGS = TensorView(copy="always")


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
    # the small array behind ``values`` and whether NumPy summarises it, to print it at another width
    preview: tuple[np.ndarray, bool] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Fact:
    """One fact of a display: the HTML shows ``label`` and ``value`` (nothing where the label is empty),
    the text header ``text``; facts with the same ``field`` share one field of the header (fields are
    joined by " · ")."""

    label: str
    value: str
    text: str
    field: str


def facts(summary: Summary) -> list[Fact]:
    """Every fact a display shows, formatted once: the text header and the HTML both render this list."""
    rows = [
        Fact("type", summary.type_name, summary.type_name, "what"),
        Fact("shape", summary.shape, summary.shape, "what"),
        Fact("dtype", summary.dtype, summary.dtype, "what"),
        Fact("device", summary.device, summary.device, "what"),
    ]
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
    return rows


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


def _torch():
    return sys.modules["torch"]


def nbytes(t) -> int:
    """Bytes the tensor's elements occupy (for sparse layouts: their indices and stored values)."""
    torch = _torch()
    if t.layout == torch.sparse_coo:
        return t._indices().nbytes + t._values().nbytes
    if t.layout in (torch.sparse_csr, torch.sparse_bsr):
        return t.crow_indices().nbytes + t.col_indices().nbytes + t.values().nbytes
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return t.ccol_indices().nbytes + t.row_indices().nbytes + t.values().nbytes
    return t.numel() * t.element_size()


def grad_state(t) -> str:
    if t.grad_fn is not None:
        return f"grad_fn={type(t.grad_fn).__name__}"
    return "requires_grad" if t.requires_grad else ""


def stored_bytes(t) -> int:
    """Bytes of the distinct elements a strided tensor reads: an expand()ed one repeats a few many times."""
    torch = _torch()
    if t.layout != torch.strided or t.is_nested or t.is_meta:
        return nbytes(t)
    distinct, _ = distinct_view(t)
    return distinct.numel() * t.element_size()


def preview_array(t, threshold: int, edgeitems: int) -> tuple[np.ndarray, bool]:
    """The small array NumPy needs to print ``t`` as it would print the whole, and whether it summarises.

    Where NumPy summarises, each long dimension keeps its first ``edgeitems`` entries, one that NumPy's
    "..." stands for, and its last ``edgeitems``; the elements at those indices are gathered in one
    step, so no whole dimension is ever copied (an ``expand()``ed dimension of 10**12 costs nothing).
    """
    torch = _torch()
    if is_raw_dtype(t.dtype):
        t = t.view(raw_carrier(t.dtype))  # torch cannot index these dtypes; their bytes are shown
    if t.layout not in (torch.strided, torch.sparse_coo):
        t = t.to_sparse_coo()  # compressed layouts cannot be indexed; COO can, without densifying
    summarise = t.numel() > threshold
    if summarise:
        kept = [
            [*range(edgeitems + 1), *range(size - edgeitems, size)] if size > 2 * edgeitems else range(size)
            for size in t.shape
        ]
        if t.is_quantized:  # torch indexes only per-tensor quantized tensors: slice, then dequantize
            t = _narrowed_to_edges(t, kept, edgeitems)
        elif t.layout == torch.strided:
            # one index per dimension, shaped to broadcast: the result is the grid of kept indices
            grid = tuple(
                torch.tensor(keep, device=t.device).view([-1 if d == dim else 1 for d in range(t.dim())])
                for dim, keep in enumerate(kept)
            )
            t = t[grid]
        else:  # sparse COO selects along one dimension at a time, at the cost of its stored values
            for dim, keep in enumerate(kept):
                if len(keep) < t.shape[dim]:
                    t = t.index_select(dim, torch.tensor(keep, device=t.device))
    return convert(t, settings=DISPLAY_SETTINGS).array, summarise


def _narrowed_to_edges(t, kept, edgeitems: int, dim: int = 0):
    """The kept edges of ``t`` by slicing (views), each block dequantized once small, then joined."""
    torch = _torch()
    if dim == t.dim():
        return t.dequantize()
    if len(kept[dim]) == t.shape[dim]:
        return _narrowed_to_edges(t, kept, edgeitems, dim + 1)
    size = t.shape[dim]
    head = t.narrow(dim, 0, edgeitems + 1)
    tail = t.narrow(dim, size - edgeitems, edgeitems)
    return torch.cat([_narrowed_to_edges(part, kept, edgeitems, dim + 1) for part in (head, tail)], dim)


def values_text(t) -> str:
    """``t``'s values as NumPy prints them with the current print options."""
    options = np.get_printoptions()
    if t.is_nested:
        return _nested_values_text(t, options)
    return printed(*preview_array(t, options["threshold"], options["edgeitems"]))


def printed(array: np.ndarray, summarise: bool, linewidth: int | None = None) -> str:
    """A preview array as NumPy prints the whole it stands for (at ``linewidth``, else NumPy's own)."""
    threshold = 0 if summarise else sys.maxsize
    if linewidth is None:
        return np.array2string(array, threshold=threshold)
    return np.array2string(array, threshold=threshold, max_line_width=linewidth)


def wide_values(summary: Summary, linewidth: int) -> str:
    """The values printed ``linewidth`` columns wide where that changes them, else as the text shows them."""
    if summary.preview is None or linewidth <= np.get_printoptions()["linewidth"]:
        return summary.values
    return printed(*summary.preview, linewidth=linewidth)


def _nested_values_text(t, options) -> str:
    parts = t.unbind()
    edge = options["edgeitems"]
    shown = list(enumerate(parts))
    if len(parts) > 2 * edge:
        shown = shown[:edge] + [(None, None)] + shown[-edge:]
    lines = []
    for index, part in shown:
        lines.append("..." if part is None else f"[{index}] {values_text(part)}")
    return "\n".join(lines)


def _note(t) -> str:
    """What the header says where statistics do not apply, or about the layout."""
    torch = _torch()
    name = dtype_name(t.dtype)
    if t.is_nested:
        return f"nested: {t.size(0)} components"
    if t.layout != torch.strided:
        layout = str(t.layout).removeprefix("torch.")
        nnz = t._nnz() if t.layout == torch.sparse_coo else t.values().numel()
        share = nnz / t.numel() if t.numel() else 0.0
        return f"{layout}: {nnz} stored values ({share:.1%} of {t.numel()}); stats over stored values"
    if t._is_zerotensor():
        return "ZeroTensor: all zeros"
    if t.dtype == torch.bool and t.numel():
        distinct, repeats = distinct_view(t)
        true = int(distinct.count_nonzero()) * repeats
        return f"bool: {true} of {t.numel()} true ({true / t.numel():.1%})"
    if is_raw_dtype(t.dtype):
        return f"{name}: packed bits, shown as raw bytes; no statistics"
    if t.is_quantized:
        return f"quantized {name}: statistics of the dequantized values"
    if t.is_complex():
        return "complex: statistics of the magnitude |z|"
    return ""


def _stats_source(t):
    """The strided tensor whose values the statistics describe, or None."""
    torch = _torch()
    if t.is_nested or t._is_zerotensor() or t.dtype == torch.bool or is_raw_dtype(t.dtype):
        return None
    if t.layout == torch.sparse_coo:
        return t._values()
    if t.layout != torch.strided:
        return t.values()
    return t


def _located_in_sparse(t, stats: Stats | None) -> Stats | None:
    """Where the NaNs are, as indices of a sparse tensor rather than of its stored values: a coalesced COO
    tensor stores its values in index order; for other layouts no place is given."""
    if stats is None or stats.first_non_finite is None:
        return stats
    if t.layout == _torch().sparse_coo and t.is_coalesced():
        stored, *dense = stats.first_non_finite
        index = (*t._indices()[:, stored].tolist(), *dense)
        return replace(stats, first_non_finite=tuple(int(i) for i in index), non_finite_by_dim=())
    return replace(stats, first_non_finite=None, non_finite_by_dim=())


def summarize(t, settings: TensorView, values: bool = True) -> Summary:
    """Every fact the text and HTML displays show, read from the tensor as it is now; without ``values``,
    the header's facts alone (a tensor shown on one line inside a container)."""
    torch = _torch()
    show_values, values, stats, plain, preview = values, "", None, None, None
    with torch.no_grad():
        try:
            plain = plain_tensor(t)
        except TensorConversionError as e:
            note = "meta: no data" if t.is_meta else str(e)
        else:
            note = _note(plain)
            if show_values and plain.is_nested:
                values = values_text(plain)
            elif show_values:
                options = np.get_printoptions()
                preview = preview_array(plain, options["threshold"], options["edgeitems"])
                values = printed(*preview)
            source = _stats_source(plain) if settings.stats else None
            if source is not None and source.numel():
                stats = tensor_stats(source, bins=settings.histogram_bins, max_elements=settings.stats_max_elements)
                if source is not plain:
                    stats = _located_in_sparse(plain, stats)
    return Summary(
        type_name=type(t).__name__,
        shape=shape_of(t),
        dtype=dtype_name(t.dtype),
        device=str(t.device),
        grad=grad_state(t),
        nbytes=nbytes(t),
        stored_bytes=stored_bytes(plain) if plain is not None else nbytes(t),
        stats=stats,
        note=note,
        values=values,
        preview=preview,
    )

