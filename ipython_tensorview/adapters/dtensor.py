"""DTensor (``torch.distributed.tensor``): the parameters of FSDP2 and tensor-parallel models.

A display runs on one rank, and a collective there would wait for ranks that never join it: a display
never runs one. It shows the global shape, the placements, the mesh and this rank's shard, and takes its
statistics and values from the shard this rank holds (the whole tensor on a mesh of one). ``%np`` gives
that shard likewise; ``%np --gather`` runs ``full_tensor()``, a collective every rank must run.
"""

from __future__ import annotations

import sys

from . import ArrayView

TYPE_NAME = "DTensor"


def claims(obj) -> bool:
    return any(cls.__name__ == "DTensor" and cls.__module__.startswith("torch.distributed.tensor")
               for cls in type(obj).__mro__)


def type_name(obj) -> str:
    return type(obj).__name__


def _partial(obj) -> bool:
    return any(placement.is_partial() for placement in obj.placements)


def whole_here(obj) -> bool:
    """Whether this rank's shard is the whole tensor: a mesh of one, or every placement Replicate."""
    return not _partial(obj) and (obj.device_mesh.size() == 1 or all(p.is_replicate() for p in obj.placements))


def local_tensor(obj):
    """This rank's shard: no communication, and no autograd graph of the call."""
    with sys.modules["torch"].no_grad():
        return obj.to_local()


def view(obj) -> ArrayView:
    from .torch import grad_state

    local = local_tensor(obj).detach()
    mesh = obj.device_mesh
    rank, size = mesh.get_rank(), mesh.size()
    placements = ", ".join(repr(p) for p in obj.placements)
    facts = (("placements", f"({placements})"), ("mesh", f"{mesh.device_type} {tuple(mesh.shape)}"),
             ("shard", f"{tuple(local.shape)} on rank {rank} of {size}"))
    note = ""
    if _partial(obj):
        note = f"partial: rank {rank}'s addend, before the sum across ranks"
    elif not whole_here(obj):
        note = f"statistics and values of rank {rank}'s shard; %np --gather for the whole (a collective)"
    return ArrayView(local, type_name(obj), tuple(obj.shape), obj.numel() * obj.element_size(), str(local.device),
                     facts, grad_state(obj), note, whole=whole_here(obj))


def to_array(obj, *, ml_dtypes: bool = False):
    from ..tensor_kinds import overlaps, tensor_to_array

    array, steps, span = tensor_to_array(local_tensor(obj), ml_dtypes=ml_dtypes)
    if not whole_here(obj):
        mesh = obj.device_mesh
        steps.insert(0, f"rank {mesh.get_rank()}'s shard of {mesh.size()} (%np --gather for the whole)")
    return array, steps, overlaps(array, span)


def gather(obj):
    """The whole tensor, on every rank: ``full_tensor()``, a collective (no autograd graph of it)."""
    with sys.modules["torch"].no_grad():
        return obj.full_tensor()



def shares_with_shard(array, obj) -> bool:
    """Whether ``array`` shares memory with the shard of ``obj`` this rank holds (a gathered tensor does
    on a mesh of one: it is the shard)."""
    from ..tensor_kinds import overlaps, storage_span

    return overlaps(array, storage_span(local_tensor(obj)))
