"""JAX arrays.

One on a single device is a DLPack array (see :mod:`.dlpack`), immutable: ``%np`` gives a read-only view
of its host memory, and a display reads it as a torch tensor over the same memory.

One sharded over several devices stays where it is: each distinct shard is read on its own device by
the torch engine, through DLPack (no shard is gathered to the host), and the results are merged; its
values are the edge elements NumPy prints, gathered by index, and the display names the sharding, the
mesh and the shards. ``%np`` gathers it and says so.
"""

from __future__ import annotations

import math

import numpy as np

from . import ArrayView, dlpack
from .torch import edge_indices

TYPE_NAME = "jax.Array"


def claims(obj) -> bool:
    cls = type(obj)
    module = cls.__module__
    # arrays of numbers (a typed PRNG key array has a sharding, but no data DLPack could carry)
    return (module.startswith("jaxlib") or module.startswith("jax.")) and all(
        hasattr(cls, name) for name in ("sharding", "__dlpack__", "__dlpack_device__"))


def _alive(obj) -> None:
    from ..tensor_kinds import TensorConversionError

    if obj.is_deleted():
        raise TensorConversionError("this jax.Array has been deleted (its buffer is gone)", "deleted")


def type_name(obj) -> str:
    return TYPE_NAME


def _devices(obj) -> list:
    return sorted(obj.sharding.device_set, key=lambda d: d.id)


def device_name(device) -> str:
    return f"{device.platform}:{device.id}"


def _devices_text(devices) -> str:
    if len(devices) == 1:
        return device_name(devices[0])
    ids = [d.id for d in devices]
    span = f"{ids[0]}..{ids[-1]}" if ids == list(range(ids[0], ids[-1] + 1)) else ",".join(map(str, ids))
    return f"{devices[0].platform}:{span}"


def sharded(obj) -> bool:
    return len(_devices(obj)) > 1


def view(obj) -> ArrayView:
    _alive(obj)
    devices = _devices(obj)
    if len(devices) == 1:
        t = dlpack.as_tensor(obj)
        return ArrayView(t, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), device_name(devices[0]),
                         (("memory", "immutable"),))
    note = ""
    if obj.dtype == bool and obj.size:
        true = true_count(obj)
        note = f"bool: {true} of {obj.size} true ({true / obj.size:.1%})"
    return ArrayView(None, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), _devices_text(devices), _sharding_facts(obj),
                     note=note, dtype=str(obj.dtype))


def _sharding_facts(obj) -> tuple[tuple[str, str], ...]:
    sharding = obj.sharding
    facts = []
    spec = getattr(sharding, "spec", None)
    if spec is not None:
        facts.append(("sharding", str(spec)))
    mesh = getattr(sharding, "mesh", None)
    if mesh is not None:
        facts.append(("mesh", " ".join(f"{name}={size}" for name, size in mesh.shape.items())))
    shapes = sorted({tuple(shard.data.shape) for shard in obj.addressable_shards})
    count = len(obj.addressable_shards)
    facts.append(("shards", f"{count} × {' or '.join(str(s) for s in shapes)}"))
    return tuple(facts)


def to_array(obj, *, ml_dtypes: bool = False):
    _alive(obj)
    if not sharded(obj):
        array, steps, shares = dlpack.to_array(obj, ml_dtypes=ml_dtypes)
        if shares and array.flags.writeable:  # through torch (bfloat16 with ml_dtypes): still JAX's memory
            array = array.view()
            array.flags.writeable = False
        return array, steps, shares
    array = np.asarray(obj)  # the gather
    steps = [f"gathered {len(obj.addressable_shards)} shards from {_devices_text(_devices(obj))}"]
    if array.dtype.kind == "V" or array.dtype.name not in np.sctypeDict:  # bfloat16 and its kin
        steps.append(f"{array.dtype.name} -> float32")
        array = array.astype(np.float32)
    return array, steps, False


def _shards(obj) -> list:
    """Each distinct shard once (a replicated one has copies on several devices), as (global offset of its
    first element, torch tensor over its memory on its device)."""
    shards = []
    for shard in obj.addressable_shards:
        if shard.replica_id == 0:
            offset = tuple(index.start or 0 for index in shard.index) if obj.ndim else ()
            shards.append((offset, dlpack.as_tensor(shard.data)))
    return shards


def statistics(obj, bins: int):
    """The statistics of a sharded array, each shard read where it lies by the torch engine (through
    DLPack, without a copy) and the results merged: exact counts, min and max; mean and std merged in
    float64; the histogram counted in each shard over the global range."""
    from ..histogram import middle_bin
    from ..stats import Stats, tensor_stats

    shards = _shards(obj)
    parts = [(offset, t, tensor_stats(t, bins=bins)) for offset, t in shards]
    parts = [(offset, t, stats) for offset, t, stats in parts if stats is not None]
    if not parts:
        return None
    count = sum(stats.count for _, _, stats in parts)
    nan, posinf, neginf = (sum(getattr(stats, name) for _, _, stats in parts) for name in ("nan", "posinf", "neginf"))
    firsts = [tuple(o + i for o, i in zip(offset, stats.first_non_finite))
              for offset, _, stats in parts if stats.first_non_finite is not None]
    first = min(firsts) if firsts else None
    of = parts[0][2].of
    if not count:
        return Stats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, of=of, first_non_finite=first)
    counted = [(offset, t, stats) for offset, t, stats in parts if stats.count]
    low, high = min(stats.min for _, _, stats in counted), max(stats.max for _, _, stats in counted)
    mean = math.fsum(stats.count * stats.mean for _, _, stats in counted) / count
    variance = math.fsum(stats.count * (stats.std**2 + (stats.mean - mean) ** 2) for _, _, stats in counted) / count
    step = max(stats.histogram_step for _, _, stats in counted)
    if not bins:
        histogram = ()
    elif low < high:
        histogram = np.zeros(bins, dtype=np.int64)
        for _, t, _ in counted:
            histogram += tensor_stats(t, bins=bins, value_range=(float(low), float(high))).histogram
        histogram = tuple(int(n) for n in histogram)
    else:
        histogram = tuple(middle_bin(count, bins))
    return Stats(count, low, high, min(max(mean, float(low)), float(high)), math.sqrt(max(variance, 0.0)), nan,
                 posinf, neginf, histogram, of=of, histogram_step=step, first_non_finite=first)


def true_count(obj) -> int:
    """How many elements of a sharded boolean array are true, counted shard by shard."""
    return sum(int(t.count_nonzero()) for _, t in _shards(obj))


def preview(obj, threshold: int, edgeitems: int) -> tuple[np.ndarray, bool]:
    """The edge elements NumPy prints, gathered by index from the devices: a small array, and whether
    NumPy summarises."""
    summarise = obj.size > threshold
    if not summarise:
        return to_array(obj)[0], False
    small = np.asarray(obj[np.ix_(*edge_indices(obj.shape, edgeitems))])
    if small.dtype.name not in np.sctypeDict:
        small = small.astype(np.float32)
    return small, True

