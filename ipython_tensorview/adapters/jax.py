"""JAX arrays.

One on a single device is a DLPack array (see :mod:`.dlpack`), immutable: ``%np`` gives a read-only view
of its host memory, and a display reads it as a torch tensor over the same memory.

One sharded over several devices stays where it is: each distinct shard is read on its own device by
the torch engine, through DLPack (no shard is gathered to the host, nothing is compiled), and the results
are merged. Where torch cannot reach the devices (a GPU this torch was not built for), XLA reads the
array on them instead: jitted ``jax.numpy`` reductions, compiled the first time a display meets a shape,
whose sums are in float32 unless ``jax_enable_x64`` is on. A display runs no collective across processes:
of an array other processes share, it reads the shards this process holds. Its values are the edge
elements NumPy prints, gathered by index, and the display names the sharding, the mesh and the shards.
``%np`` gathers it and says so.
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
    """JAX's own name of a device, ``cpu:0`` or ``cuda:0`` (as torch names the same GPU), where it gives one
    of that form; else the platform's (``gpu``, ``tpu``) and the id."""
    return f"{_device_kind(device)}:{device.id}"


def _device_kind(device) -> str:
    kind, _, number = str(device).rpartition(":")
    return kind if kind and number == str(device.id) else device.platform


def _devices_text(devices) -> str:
    if len(devices) == 1:
        return device_name(devices[0])
    ids = [d.id for d in devices]
    span = f"{ids[0]}..{ids[-1]}" if ids == list(range(ids[0], ids[-1] + 1)) else ",".join(map(str, ids))
    return f"{_device_kind(devices[0])}:{span}"


def sharded(obj) -> bool:
    return len(_devices(obj)) > 1


def view(obj) -> ArrayView:
    _alive(obj)
    devices = _devices(obj)
    if len(devices) == 1:
        try:
            t = dlpack.as_tensor(obj)
        except Exception:  # a device this torch was not built for: read by XLA, where the array lies
            t = None
        if t is not None:
            return ArrayView(t, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), device_name(devices[0]),
                             (("memory", "immutable"),))
    note = ""
    if obj.dtype == bool and obj.size:
        true = true_count(obj)
        note = f"bool: {true} of {obj.size} true ({true / obj.size:.1%})"
    if not obj.is_fully_addressable:
        note = "; ".join(filter(None, [note, f"statistics of the shards process {_process_index()} holds; "
                                             "no values (other processes hold the rest)"]))
    facts = _sharding_facts(obj) if len(devices) > 1 else (("memory", "immutable"),)
    return ArrayView(None, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), _devices_text(devices), facts,
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


def _process_index() -> int:
    import jax

    return jax.process_index()


def to_array(obj, *, ml_dtypes: bool = False):
    from ..tensor_kinds import TensorConversionError

    _alive(obj)
    if not obj.is_fully_addressable:
        raise TensorConversionError(
            "this jax.Array spans devices of other processes: gather it in every process, e.g. with "
            "jax.experimental.multihost_utils.process_allgather, then convert the result", "other processes")
    if not sharded(obj):
        try:
            array, steps, shares = dlpack.to_array(obj, ml_dtypes=ml_dtypes)
        except Exception:  # a dtype DLPack cannot carry (int4): JAX's own copy to the host
            array = np.asarray(obj)
            plain = _numpy_dtype(array, ml_dtypes)
            return plain, [f"{array.dtype.name} -> {plain.dtype.name}"] if plain is not array else [], False
        if shares and array.flags.writeable:  # through torch (bfloat16 with ml_dtypes): still JAX's memory
            array = array.view()
            array.flags.writeable = False
        return array, steps, shares
    array = _gathered(obj)
    steps = [f"gathered {len(obj.addressable_shards)} shards from {_devices_text(_devices(obj))}"]
    plain = _numpy_dtype(array, ml_dtypes)
    if plain is not array:
        steps.append(f"{array.dtype.name} -> {plain.dtype.name}")
    return plain, steps, False


def _gathered(obj) -> np.ndarray:
    """A sharded array's values in host memory of their own, each distinct shard copied once to its place.
    (``np.asarray`` hands out JAX's own copy, which the array keeps and hands out again, or a view of one
    replica's memory.)"""
    array = np.empty(obj.shape, dtype=obj.dtype)
    for shard in _distinct(obj):
        array[shard.index] = np.asarray(shard.data)
    return array


def _numpy_dtype(array: np.ndarray, ml_dtypes: bool = False) -> np.ndarray:
    """``array`` in a dtype of NumPy's own: ml_dtypes' (bfloat16, float8, int4...) become float32 (int16 for
    the integers), as torch tensors of those dtypes convert; kept with ``ml_dtypes``."""
    import jax.numpy as jnp

    if ml_dtypes or not array.dtype.type.__module__.startswith("ml_dtypes"):
        return array
    return array.astype(np.int16 if jnp.issubdtype(array.dtype, jnp.integer) else np.float32)  # int4: kind "V"


def _distinct(obj) -> list:
    """Each distinct shard this process holds, once: a replicated one has copies on several devices."""
    shards = {}
    for shard in obj.addressable_shards:
        shards.setdefault(tuple((index.start, index.stop, index.step) for index in shard.index), shard)
    return list(shards.values())


def _distinct_shards(obj) -> list:
    """Each distinct shard this process holds, once, as (global index of its first element, the shard: a
    single-device jax.Array)."""
    return [(tuple(index.start or 0 for index in shard.index), shard.data) for shard in _distinct(obj)]


def _as_tensors(shards) -> list | None:
    """Torch tensors over the shards' memory, on their devices; None where torch cannot reach one (a GPU
    this torch was not built for)."""
    try:
        return [(offset, dlpack.as_tensor(data)) for offset, data in shards]
    except Exception:
        return None


def statistics(obj, bins: int):
    """The statistics of an array read where it lies: each distinct shard by the torch engine on its own
    device, through DLPack, without a copy, the results merged (exact counts, min and max; the mean and
    the spread merged in float64; the histogram counted in each shard over the array's range). Where torch
    cannot reach the devices, by XLA (see :mod:`.xla`)."""
    from ..histogram import middle_bin
    from ..stats import Stats, merged_moments, tensor_stats

    if obj.dtype == bool or not obj.size:
        return None
    shards = _as_tensors(_distinct_shards(obj))
    if shards is None:
        from .xla import statistics as read_by_xla

        return read_by_xla(obj, _parts(obj), bins)
    parts = [(offset, t, tensor_stats(t, bins=bins if len(shards) == 1 else 0)) for offset, t in shards]
    count = sum(stats.count for _, _, stats in parts)
    nan, posinf, neginf = (sum(getattr(stats, name) for _, _, stats in parts) for name in ("nan", "posinf", "neginf"))
    firsts = [tuple(o + i for o, i in zip(offset, stats.first_non_finite))
              for offset, _, stats in parts if stats.first_non_finite is not None]
    first = min(firsts) if firsts else None
    of = parts[0][2].of
    if not count:
        return Stats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, of=of, first_non_finite=first)
    counted = [(t, stats) for _, t, stats in parts if stats.count]
    low, high = min(stats.min for _, stats in counted), max(stats.max for _, stats in counted)
    mean, std = merged_moments([(stats.count, stats.mean, stats.std) for _, stats in counted])
    if len(parts) == 1:
        histogram, step = parts[0][2].histogram, parts[0][2].histogram_step
    elif bins and low < high:  # each shard's counts over the array's range
        shard_histograms = [tensor_stats(t, bins=bins, value_range=(float(low), float(high))) for t, _ in counted]
        histogram = tuple(int(n) for n in np.sum([h.histogram for h in shard_histograms], axis=0))
        step = max(h.histogram_step for h in shard_histograms)
    else:
        histogram, step = (tuple(middle_bin(count, bins)) if bins else ()), 1
    return Stats(count, low, high, min(max(mean, float(low)), float(high)), std, nan, posinf, neginf, histogram,
                 of=of, histogram_step=step, first_non_finite=first)


def _parts(obj) -> list:
    """What XLA reads, as (global index of its first element, jax.Array): the whole array where this
    process holds all of it (one program over every device, compiled once per shape and sharding, its
    partial results combined between the devices); else each distinct shard this process holds, on its
    device (a program over the whole would be a collective the other processes do not join)."""
    if obj.is_fully_addressable:
        return [((0,) * obj.ndim, obj)]
    return _distinct_shards(obj)


def true_count(obj) -> int:
    """How many elements of a boolean array are true, counted on each shard's device."""
    import jax
    import jax.numpy as jnp

    from .. import chunking

    shards = _distinct_shards(obj)
    tensors = _as_tensors(shards)
    if tensors is not None:
        return sum(chunking.true_count(t) for _, t in tensors)
    return sum(int(n) for n in jax.device_get([jnp.count_nonzero(data) for _, data in shards]))


def preview(obj, threshold: int, edgeitems: int) -> tuple[np.ndarray, bool] | None:
    """The edge elements NumPy prints, gathered by index from the devices: a small array, and whether
    NumPy summarises; None where other processes hold part of the array."""
    if not obj.is_fully_addressable:  # reading another process's shard is a collective
        return None
    summarise = obj.size > threshold
    if not summarise:
        return to_array(obj)[0], False
    kept = edge_indices(obj.shape, edgeitems)
    shards = _as_tensors(_distinct_shards(obj))
    if shards is None:  # JAX gathers them (compiling the gather for the shape)
        return _numpy_dtype(np.asarray(obj[np.ix_(*kept)])), True
    return _edges_of_shards(shards, kept), True


def _edges_of_shards(shards, kept: list[list[int]]) -> np.ndarray:
    """The elements at the global indices ``kept`` (per dimension), each taken from the shard that holds it,
    on its device, by torch: only they cross to the host."""
    import torch

    from ..convert import convert
    from .torch import DISPLAY_SETTINGS

    small = None
    for offset, t in shards:
        where, local = [], []  # per dimension: positions in ``kept``, and the shard's own indices there
        for start, size, indices in zip(offset, t.shape, kept):
            inside = [(position, index - start) for position, index in enumerate(indices) if 0 <= index - start < size]
            where.append([position for position, _ in inside])
            local.append([index for _, index in inside])
        if not all(where):
            continue
        block = t[tuple(torch.as_tensor(i, device=t.device) for i in np.ix_(*local))]
        block = convert(block, settings=DISPLAY_SETTINGS).array
        if small is None:
            small = np.empty([len(indices) for indices in kept], dtype=block.dtype)
        small[np.ix_(*where)] = block
    return small
