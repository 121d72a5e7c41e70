"""The torch adapter: what a display asks of a torch tensor, and the engine every other adapter's arrays
go through once they are seen as torch tensors.

The values shown are NumPy's own printing of a small array: when NumPy would summarise the tensor
(``size > threshold``), only the ``edgeitems`` first and last entries of each long dimension (plus one
entry that NumPy's ``...`` hides) are selected on the tensor's device and copied to the host.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..config import TensorView
from ..convert import convert
from ..tensor_kinds import distinct_view, dtype_name, is_raw_dtype, raw_carrier, shared_host_array

if TYPE_CHECKING:
    from ..stats import Stats

# conversion settings for what is displayed: always a private copy, bfloat16/float8 shown as float32
DISPLAY_SETTINGS = TensorView(copy="always")


def _torch():
    return sys.modules["torch"]


def picturable(t) -> bool:
    """Whether a thumbnail can picture ``t``: strided, real, with data, of a dtype that has values."""
    torch = _torch()
    return not (t.layout != torch.strided or t.is_nested or t.is_complex() or t.is_meta or is_raw_dtype(t.dtype))


def held_by_nothing_else(t) -> bool:
    """Whether ``t`` is a CPU tensor whose memory nothing else holds, the caller's one variable aside: no other
    Python reference, no other tensor on its storage (a view, ``detach()``, a graph's saved result) and memory
    torch allocated for it (not NumPy's, a buffer's, DLPack's or shared memory). An array of it is then the
    memory's only holder: a new tensor an expression made (``-x``, ``x * 2``, ``x.flip(0)``)."""
    torch = sys.modules.get("torch")
    probe = object()
    if torch is None or not isinstance(t, torch.Tensor) or sys.getrefcount(t) > sys.getrefcount(probe) + 1:
        return False
    try:
        if t.layout != torch.strided or t.device.type != "cpu" or t.is_shared():
            return False
        if any(stride == 0 and size > 1 for stride, size in zip(t.stride(), t.shape)):
            return False  # its array is a read-only view that says why
        storage = t.untyped_storage()
        alike = torch.empty(0)
        fresh = alike.untyped_storage()  # the references of a tensor's storage that no one else holds
        # private counts: nothing public says how many tensors hold a tensor or a storage (here: t, and t
        # and the Python storage, which a user may hold too: torch hands out the same one)
        return (t._use_count() == 1 and torch._C._storage_Use_Count(storage._cdata) == 2
                and sys.getrefcount(storage) <= sys.getrefcount(fresh) and storage.resizable())
    except Exception:  # a subclass without storage (a wrapper, a fake tensor), a torch without the counts
        return False


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
        kept = edge_indices(t.shape, edgeitems)
        if t.is_quantized:  # torch indexes only per-tensor quantized tensors: slice, then dequantize
            t = _narrowed_to_edges(t, kept, edgeitems)
        elif t.layout == torch.strided:
            # one index per dimension, shaped to broadcast: the result is the grid of kept indices
            grid = tuple(
                torch.tensor(keep, device=t.device).view([-1 if d == dim else 1 for d in range(t.dim())])
                for dim, keep in enumerate(kept)
            )
            t = _gathered(t, grid)
        else:  # sparse COO selects along one dimension at a time, at the cost of its stored values
            for dim, keep in enumerate(kept):
                if len(keep) < t.shape[dim]:
                    t = t.index_select(dim, torch.tensor(keep, device=t.device))
    return host_values(t), summarise


def _gathered(t, grid):
    """``t[grid]``, with a conj or neg bit applied to the gathered elements alone: indexing a tensor that has
    one resolves it whole first (the whole tensor copied, or an ``expand()``ed one materialised)."""
    torch = _torch()
    if t.is_conj():
        return _gathered(t.conj(), grid).conj()  # conj of a conj view: a view without the bit
    if t.is_neg():
        # no public view clears a neg bit: _neg_view of a neg view is one, and negating is exact
        return torch.neg(_gathered(torch._neg_view(t), grid))
    return t[grid]


def host_values(t) -> np.ndarray:
    """``t``'s values in a NumPy array of their own (bfloat16 and float8 as float32). A plain CPU tensor's
    are copied from its NumPy view, the commonest case, without the rest of :func:`convert`'s route."""
    shared = shared_host_array(t)
    if shared is not None:
        return shared[0].copy()
    return convert(t, settings=DISPLAY_SETTINGS).array


def edge_indices(shape, edgeitems: int) -> list[list[int]]:
    """Per dimension, the indices NumPy's summarised printing needs: the first ``edgeitems``, one that
    its "..." stands for, and the last ``edgeitems`` (the last one where ``edgeitems`` is 0: NumPy prints
    it after "..." all the same); every index of a dimension too short to summarise."""
    tail = max(1, edgeitems)
    return [
        [*range(edgeitems + 1), *range(size - tail, size)] if size > 2 * edgeitems else list(range(size))
        for size in shape
    ]


def _narrowed_to_edges(t, kept, edgeitems: int, dim: int = 0):
    """The kept edges of ``t`` by slicing (views), each block dequantized once small, then joined."""
    torch = _torch()
    if dim == t.dim():
        return t.dequantize()
    if len(kept[dim]) == t.shape[dim]:
        return _narrowed_to_edges(t, kept, edgeitems, dim + 1)
    size, last = t.shape[dim], max(1, edgeitems)  # as edge_indices keeps them
    head = t.narrow(dim, 0, edgeitems + 1)
    tail = t.narrow(dim, size - last, last)
    return torch.cat([_narrowed_to_edges(part, kept, edgeitems, dim + 1) for part in (head, tail)], dim)


def values_text(t) -> str:
    """``t``'s values as NumPy prints them with the current print options."""
    options = np.get_printoptions()
    if t.is_nested:
        return _nested_values_text(t, options)
    array, summarise = preview_array(t, options["threshold"], options["edgeitems"])
    return np.array2string(array, threshold=0 if summarise else sys.maxsize)


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


def note(t) -> str:
    """What the header says where statistics do not apply, or about the layout."""
    torch = _torch()
    name = dtype_name(t.dtype)
    if t.is_nested:
        return f"nested: {t.size(0)} components"
    if t.layout != torch.strided:
        layout = str(t.layout).removeprefix("torch.")
        coo = t.layout == torch.sparse_coo
        stored = (t._values() if coo else t.values()).numel()  # _nnz() would leave out hybrid's dense dimensions
        share = stored / t.numel() if t.numel() else 0.0
        text = f"{layout}: {stored} stored values ({share:.1%} of {t.numel()}); stats over stored values"
        if coo and not t.is_coalesced():  # an element is the sum of the values stored at its index
            text += ", uncoalesced: values stored at one index counted apart"
        return text
    if t._is_zerotensor():
        return "ZeroTensor: all zeros"
    if t.dtype == torch.bool and t.numel():
        from ..chunking import true_count  # (chunking reads rows with this module's decoders)

        distinct, repeats = distinct_view(t)
        true = true_count(distinct) * repeats
        return f"bool: {true} of {t.numel()} true ({true / t.numel():.1%})"
    if is_raw_dtype(t.dtype):
        return f"{name}: packed bits, shown as raw bytes; no statistics"
    if t.is_quantized:
        return f"quantized {name}: statistics of the dequantized values"
    if t.is_complex():
        return "complex: statistics of the magnitude |z|"
    return ""


def read_by_rows(t) -> bool:
    """Whether the statistics read ``t`` a block of whole rows at a time, each block decoded into its values
    (see :func:`decoded`): a quantized tensor, whose per-channel kind torch can neither permute nor flatten."""
    return t.is_quantized


def decoded(rows):
    """A block of rows of a tensor read by rows (see :func:`read_by_rows`), as its values, flat."""
    return rows.dequantize().view(-1)


def decoded_dtype(dtype):
    """The dtype the values of a tensor of ``dtype`` read by rows decode into (quantized: float32), else None."""
    torch = _torch()
    return torch.float32 if dtype in (torch.qint8, torch.quint8, torch.qint32) else None


def stats_source(t):
    """The strided tensor whose values the statistics describe, or None."""
    torch = _torch()
    if t.is_nested or t._is_zerotensor() or t.dtype == torch.bool or is_raw_dtype(t.dtype):
        return None
    if t.layout == torch.sparse_coo:
        return t._values()
    if t.layout != torch.strided:
        return t.values()
    return t


def located_in_sparse(t, stats: Stats | None) -> Stats | None:
    """Where the NaNs are, as indices of a sparse tensor rather than of its stored values: a coalesced COO
    tensor stores its values in index order; for other layouts no place is given."""
    if stats is None or stats.first_non_finite is None:
        return stats
    if t.layout == _torch().sparse_coo and t.is_coalesced():
        stored, *dense = stats.first_non_finite
        index = (*t._indices()[:, stored].tolist(), *dense)
        return replace(stats, first_non_finite=tuple(int(i) for i in index), non_finite_by_dim=())
    return replace(stats, first_non_finite=None, non_finite_by_dim=())
