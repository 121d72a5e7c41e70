"""JAX arrays.

One on a single device is a DLPack array (see :mod:`.dlpack`), immutable: ``%np`` gives a read-only view
of its host memory, and a display reads it as a torch tensor over the same memory.

One sharded over several devices (or on a device torch cannot reach) stays where it is: XLA reduces each
distinct shard on its own device (jitted ``jax.numpy`` reductions, compiled once per shard shape and
dtype, with no collective: a display runs in one process, and the other processes of a multi-process
array would not join one), and only scalars and the histogram's counts come to the host, merged there in
float64. Its values are the edge elements NumPy prints, gathered by index, and the display names the
sharding, the mesh and the shards. ``%np`` gathers it and says so.
"""

from __future__ import annotations

import functools
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


def _parts(obj) -> list:
    """What XLA reads, as (global index of its first element, jax.Array): the whole array where this
    process holds all of it (one program over every device, compiled once per shape and sharding, its
    partial results combined between the devices); else each distinct shard this process holds, on its
    device (a program over the whole would be a collective the other processes do not join)."""
    if obj.is_fully_addressable:
        return [((0,) * obj.ndim, obj)]
    return [(tuple(index.start or 0 for index in shard.index), shard.data)
            for shard in obj.addressable_shards if shard.replica_id == 0]


@functools.cache
def _reductions():
    """The jitted reductions an array is read with: ``moments(parts)`` and ``histogram(x, edges, steps)``.

    ``moments`` takes min, max and the sum first, the fastest reductions XLA has. Where they are finite
    and of an ordinary magnitude, the common case, the squares of differences to the mean are one more
    sum. Only where they are not does it count and mask NaN and Inf, and scale the values by a power of
    two (exact), so that neither the sum nor the squares overflow or underflow: on a CPU, XLA takes
    several times as long over those. Sums accumulate in JAX's default float (float32; float64 where
    ``jax_enable_x64`` is on). Counts are uint32. Nothing is reshaped: reshaping a sharded array would
    move it between the devices.
    """
    import jax
    import jax.numpy as jnp

    def real_values(x):
        return jnp.abs(x) if jnp.iscomplexobj(x) else x

    @jax.jit
    def first_pass(x):
        values = real_values(x)
        # the sum is NaN where any value is (a min or max taken across devices may skip a NaN)
        return values.min(), values.max(), values.astype(jnp.result_type(float)).sum()

    @jax.jit
    def ordinary(x, total):
        """No NaN or Inf, and magnitudes whose squares of differences float32 holds unscaled."""
        values = real_values(x)
        return jnp.sum(jnp.square(values - total / values.size))

    @jax.jit
    def careful(x):
        values = real_values(x)
        accumulator = jnp.result_type(float)
        finite = jnp.isfinite(values)
        count = jnp.sum(finite, dtype=jnp.uint32)
        low = jnp.min(jnp.where(finite, values, jnp.inf)) if not integers(values) else values.min()
        high = jnp.max(jnp.where(finite, values, -jnp.inf)) if not integers(values) else values.max()
        magnitude = jnp.maximum(jnp.abs(low.astype(accumulator)), jnp.abs(high.astype(accumulator)))
        power = jnp.frexp(jnp.where(count > 0, magnitude, 0))[1]
        half = power // 2  # 2**-power in two factors, each a normal number whatever the power
        scaled = values.astype(accumulator) * jnp.ldexp(jnp.ones((), accumulator), -half)
        scaled = jnp.where(finite, scaled * jnp.ldexp(jnp.ones((), accumulator), half - power), 0)
        total = scaled.sum()
        squares = jnp.sum(jnp.where(finite, jnp.square(scaled - total / jnp.maximum(count, 1)), 0))
        nan = jnp.sum(jnp.isnan(values), dtype=jnp.uint32)
        posinf = jnp.sum(values == jnp.inf, dtype=jnp.uint32)
        # the first value that is not finite, as a flat index in index order (its size where there is none)
        flat = sum(jax.lax.broadcasted_iota(jnp.uint32, values.shape, d) * math.prod(values.shape[d + 1:])
                   for d in range(values.ndim)) if values.ndim else jnp.zeros((), jnp.uint32)
        first = jnp.min(jnp.where(finite, jnp.uint32(values.size), flat))
        return count, nan, posinf, low, high, power, total, squares, first

    def integers(values) -> bool:
        return jnp.issubdtype(values.dtype, jnp.integer)

    def moments(parts) -> list[tuple]:
        """Each part's (count, nan, +inf, low, high, power p, sum / 2**p, squares of differences / 2**2p,
        flat index of the first value that is not finite), in two waits for the devices. Only the program
        a part needs is compiled: a display pays for the careful one only where it is needed."""
        firsts = jax.device_get([first_pass(part) for part in parts])
        results = []
        for part, (low, high, total) in zip(parts, firsts):
            magnitude = max(abs(float(low)), abs(float(high)))
            if math.isfinite(float(total)) and (magnitude == 0 or 2.0**-32 <= magnitude <= 2.0**40):
                results.append((part.size, 0, 0, low, high, 0, total, ordinary(part, total), part.size))
            else:
                results.append(careful(part))
        return jax.device_get(results)

    @functools.partial(jax.jit, static_argnums=2)
    def histogram(x, edges, steps):
        """np.histogram's counts over ``edges`` of every ``steps[d]``-th index along each dimension d: each
        value's bin from its position, corrected against the edges as NumPy corrects it."""
        accumulator = jnp.result_type(float)
        values = real_values(x)[tuple(slice(step // 2, None, step) for step in steps)].astype(accumulator)
        edges = edges.astype(accumulator)
        bins = edges.size - 1
        counted = (values >= edges[0]) & (values <= edges[-1])  # NaN and values outside: not counted
        position = jnp.where(counted, (values - edges[0]) * (bins / (edges[-1] - edges[0])), 0)
        index = jnp.clip(position.astype(jnp.int32), 0, bins - 1)
        index = jnp.where(values < edges[index], index - 1, index)
        index = jnp.where((values >= edges[index + 1]) & (index < bins - 1), index + 1, index)
        return jnp.zeros(bins, jnp.uint32).at[jnp.where(counted, index, 0)].add(counted.astype(jnp.uint32))

    return moments, histogram


def sample_steps(shape: tuple[int, ...], target: int) -> tuple[int, ...]:
    """Steps along each dimension of a sample of about ``target`` elements, taken without reshaping.

    The factor to shed is spread evenly over the dimensions of 16 or more (shortest first, so that what
    one cannot shed passes to the longer ones; each keeps 8 indices at least), and each step is a prime
    that does not divide its dimension's length, so that the sample does not fall into step with a
    pattern along it (every other column, an image's channels)."""
    from ..chunking import sampling_step

    steps = [1] * len(shape)
    factor = math.prod(shape) / max(1, target)
    long = sorted((d for d in range(len(shape)) if shape[d] >= 16), key=lambda d: shape[d])
    for position, dim in enumerate(long):
        if factor <= 1:
            break
        wanted = min(math.ceil(factor ** (1 / (len(long) - position))), shape[dim] // 8)
        if wanted >= 2:
            steps[dim] = sampling_step((shape[dim],), shape[dim] // wanted)
            factor /= steps[dim]
    return tuple(steps)


def statistics(obj, bins: int):
    """The statistics of an array read where it lies, by XLA on its devices (see :func:`_parts` and
    :func:`_reductions`), merged on the host in float64 where there are parts: exact counts, min and max,
    the mean and the spread; the histogram over the array's range, from a sample taken along each
    dimension above a few million elements."""
    import jax

    from ..histogram import HISTOGRAM_EXACT_ELEMENTS, HISTOGRAM_SAMPLE_ELEMENTS, bin_edges, middle_bin
    from ..stats import Stats

    if obj.dtype == bool or not obj.size:
        return None
    moments, histogram = _reductions()
    parts = _parts(obj)
    rows = moments([part for _, part in parts])
    count = sum(int(row[0]) for row in rows)
    nan, posinf = sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows)
    neginf = sum(part.size for _, part in parts) - count - nan - posinf
    firsts = [tuple(o + int(i) for o, i in zip(offset, np.unravel_index(int(row[8]), part.shape)))
              for (offset, part), row in zip(parts, rows) if int(row[8]) < part.size]
    first = min(firsts) if firsts else None
    of = "|z|" if np.issubdtype(obj.dtype, np.complexfloating) else ""
    if not count:
        return Stats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, of=of, first_non_finite=first)
    counted = [(part, row) for (_, part), row in zip(parts, rows) if int(row[0])]
    as_number = int if np.issubdtype(obj.dtype, np.integer) else float
    low = min(as_number(row[3]) for _, row in counted)
    high = max(as_number(row[4]) for _, row in counted)
    # each part's mean, and its sum of squared differences to it, scaled back by its power of two
    means = [math.ldexp(float(row[6]) / int(row[0]), int(row[5])) for _, row in counted]
    spreads = [math.ldexp(float(row[7]), 2 * int(row[5])) for _, row in counted]
    mean = math.fsum(int(row[0]) * m for (_, row), m in zip(counted, means)) / count
    squares = math.fsum(spreads) + math.fsum(int(row[0]) * (m - mean) ** 2 for (_, row), m in zip(counted, means))
    target = HISTOGRAM_SAMPLE_ELEMENTS * 4 // max(4, obj.dtype.itemsize)
    steps = [(1,) * part.ndim if part.size <= HISTOGRAM_EXACT_ELEMENTS else sample_steps(part.shape, target)
             for part, _ in counted]
    step = max(math.prod(s) for s in steps)  # about every step-th element
    if not bins:
        counts = ()
    elif low < high:
        edges = bin_edges(float(low), float(high), bins)
        tallies = jax.device_get([histogram(part, edges, s) for (part, _), s in zip(counted, steps)])
        counts = [int(n) for n in np.sum(tallies, axis=0, dtype=np.int64)]
        if step > 1:  # a sample may miss the extremes; the exact min and max are known
            counts[0], counts[-1] = max(counts[0], 1), max(counts[-1], 1)
        counts = tuple(counts)
    else:
        counts = tuple(middle_bin(count, bins))
    return Stats(count, low, high, min(max(mean, float(low)), float(high)), math.sqrt(max(squares / count, 0.0)),
                 nan, posinf, neginf, counts, of=of, histogram_step=step, first_non_finite=first)


def true_count(obj) -> int:
    """How many elements of a boolean array are true, counted by XLA on its devices."""
    import jax
    import jax.numpy as jnp

    return sum(int(n) for n in jax.device_get([jnp.count_nonzero(part) for _, part in _parts(obj)]))


def preview(obj, threshold: int, edgeitems: int) -> tuple[np.ndarray, bool] | None:
    """The edge elements NumPy prints, gathered by index from the devices: a small array, and whether
    NumPy summarises; None where other processes hold part of the array."""
    if not obj.is_fully_addressable:  # reading another process's shard is a collective
        return None
    summarise = obj.size > threshold
    if not summarise:
        return to_array(obj)[0], False
    small = np.asarray(obj[np.ix_(*edge_indices(obj.shape, edgeitems))])
    if small.dtype.name not in np.sctypeDict:
        small = small.astype(np.float32)
    return small, True

