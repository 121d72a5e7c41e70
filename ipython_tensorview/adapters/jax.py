"""JAX arrays.

One on a single device is a DLPack array (see :mod:`.dlpack`), immutable: ``%np`` gives a read-only view
of its host memory, and a display reads it as a torch tensor over the same memory.

One sharded over several devices stays where it is: its statistics are reductions that XLA runs on the
devices over the global array (no shard is gathered to the host), its values are the edge elements NumPy
prints, gathered by index, and the display names the sharding, the mesh and the shards. ``%np`` gathers it
and says so.
"""

from __future__ import annotations

import math

import numpy as np

from . import ArrayView, dlpack

TYPE_NAME = "jax.Array"


def claims(obj) -> bool:
    module = type(obj).__module__
    return (module.startswith("jaxlib") or module.startswith("jax.")) and hasattr(type(obj), "sharding")


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
    devices = _devices(obj)
    if len(devices) == 1:
        t = dlpack.as_tensor(obj)
        return ArrayView(t, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), device_name(devices[0]),
                         (("memory", "immutable"),))
    return ArrayView(None, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), _devices_text(devices), _sharding_facts(obj),
                     dtype=str(obj.dtype))


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
    if not sharded(obj):
        return dlpack.to_array(obj, ml_dtypes=ml_dtypes)
    array = np.asarray(obj)  # the gather
    steps = [f"gathered {len(obj.addressable_shards)} shards from {_devices_text(_devices(obj))}"]
    if array.dtype.kind == "V" or array.dtype.name not in np.sctypeDict:  # bfloat16 and its kin
        steps.append(f"{array.dtype.name} -> float32")
        array = array.astype(np.float32)
    return array, steps, False


def statistics(obj, bins: int):
    """The statistics of a sharded array, by reductions XLA runs on its devices; one fetch of a few numbers
    and one of the histogram's counts. Sums are taken in float32 after a shift by the middle of the range."""
    import jax.numpy as jnp

    from ..histogram import bin_edges, middle_bin
    from ..stats import Stats

    x = obj
    floating = jnp.issubdtype(x.dtype, jnp.floating)
    values = x.astype(jnp.float32)
    finite = jnp.isfinite(values)
    if floating:
        low, high = jnp.where(finite, x, jnp.inf).min(), jnp.where(finite, x, -jnp.inf).max()
    else:
        low, high = x.min(), x.max()
    facts = [finite.sum(), low, high, jnp.isnan(values).sum(), (values == jnp.inf).sum(), (values == -jnp.inf).sum()]
    count, low, high, nan, posinf, neginf = (v.item() for v in facts)
    if not count:
        return Stats(0, math.nan, math.nan, math.nan, math.nan, int(nan), int(posinf), int(neginf))
    centre = float(low) / 2 + float(high) / 2
    shifted = jnp.where(finite, values - centre, 0.0)
    total, squares = (v.item() for v in (shifted.sum(), (shifted * shifted).sum()))
    offset = total / count
    mean, std = centre + offset, math.sqrt(max(squares / count - offset * offset, 0.0))
    if low < high:
        edges = bin_edges(float(low), float(high), bins)
        counts = jnp.histogram(jnp.where(finite, values, -jnp.inf), bins=jnp.asarray(edges, dtype=jnp.float32))[0]
        histogram = tuple(int(n) for n in np.asarray(counts))
    else:
        histogram = tuple(middle_bin(int(count), bins))
    exact = int if not floating else float
    return Stats(int(count), exact(low), exact(high), min(max(mean, float(low)), float(high)), std, int(nan),
                 int(posinf), int(neginf), histogram)


def preview(obj, threshold: int, edgeitems: int) -> tuple[np.ndarray, bool]:
    """The edge elements NumPy prints, gathered by index from the devices: a small array, and whether
    NumPy summarises."""
    summarise = obj.size > threshold
    if not summarise:
        return to_array(obj)[0], False
    kept = [
        [*range(edgeitems + 1), *range(size - edgeitems, size)] if size > 2 * edgeitems else list(range(size))
        for size in obj.shape
    ]
    small = np.asarray(obj[np.ix_(*kept)])
    if small.dtype.name not in np.sctypeDict:
        small = small.astype(np.float32)
    return small, True

