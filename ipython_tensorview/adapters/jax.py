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
    plain = _numpy_dtype(array, ml_dtypes)
    if plain is not array:
        steps.append(f"{array.dtype.name} -> {plain.dtype.name}")
    return plain, steps, False


def _numpy_dtype(array: np.ndarray, ml_dtypes: bool = False) -> np.ndarray:
    """``array`` in a dtype of NumPy's own: ml_dtypes' (bfloat16, float8, int4...) become float32 (int16 for
    the integers), as torch tensors of those dtypes convert; kept with ``ml_dtypes``."""
    if ml_dtypes or not array.dtype.type.__module__.startswith("ml_dtypes"):
        return array
    return array.astype(np.int16 if array.dtype.kind in "iu" else np.float32)


def _distinct_shards(obj) -> list:
    """Each distinct shard this process holds, once (a replicated one has copies on several devices), as
    (global index of its first element, the shard: a single-device jax.Array)."""
    shards = {}
    for shard in obj.addressable_shards:
        where = tuple((index.start, index.stop, index.step) for index in shard.index)
        shards.setdefault(where, (tuple(index.start or 0 for index in shard.index), shard.data))
    return list(shards.values())


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
    cannot reach the devices, by XLA (see :func:`_xla_statistics`)."""
    from ..histogram import middle_bin
    from ..stats import Stats, tensor_stats

    if obj.dtype == bool or not obj.size:
        return None
    shards = _as_tensors(_distinct_shards(obj))
    if shards is None:
        return _xla_statistics(obj, bins)
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
    mean, std = _merged([(stats.count, stats.mean, stats.std) for _, stats in counted])
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


def _merged(parts: list[tuple[int, float, float]]) -> tuple[float, float]:
    """The mean and std of the union of parts given as (count, mean, std), merged in float64 over values
    scaled by a power of two (exact), so that no square overflows or underflows."""
    from ..chunking import exponent

    power = exponent(max(max(abs(mean), std) for _, mean, std in parts))
    scaled = [(n, math.ldexp(mean, -power), math.ldexp(std, -power)) for n, mean, std in parts]
    count = sum(n for n, _, _ in scaled)
    mean = math.fsum(n * m for n, m, _ in scaled) / count
    variance = math.fsum(n * (s * s + (m - mean) ** 2) for n, m, s in scaled) / count
    return math.ldexp(mean, power), math.ldexp(math.sqrt(max(variance, 0.0)), power)


def _parts(obj) -> list:
    """What XLA reads, as (global index of its first element, jax.Array): the whole array where this
    process holds all of it (one program over every device, compiled once per shape and sharding, its
    partial results combined between the devices); else each distinct shard this process holds, on its
    device (a program over the whole would be a collective the other processes do not join)."""
    if obj.is_fully_addressable:
        return [((0,) * obj.ndim, obj)]
    return _distinct_shards(obj)


@functools.cache
def _reductions():
    """The jitted reductions XLA reads an array with: ``moments(parts)`` and ``histogram(x, edges, steps,
    power)``.

    ``moments`` takes min, max and the sum first, the fastest reductions XLA has. Where they are finite
    and of an ordinary magnitude, the common case, the sums of differences to a pivot near the mean (an
    integer, for integers: their differences are exact) are one more pass. Only where they are not does
    it count and mask NaN and Inf, and scale the values by a power of two (exact), so that neither the sums
    nor the squares overflow. Low-precision floats are read as float32. Sums accumulate in JAX's default
    float (float32; float64 where ``jax_enable_x64`` is on); counts are uint32. Nothing is reshaped:
    reshaping a sharded array would move it between the devices.
    """
    import jax
    import jax.numpy as jnp

    def real_values(x):
        if jnp.iscomplexobj(x):  # |z|, infinite where either part is (abs would make inf + nan*j NaN)
            return jnp.where(jnp.isinf(x.real) | jnp.isinf(x.imag), jnp.inf, jnp.abs(x))
        if jnp.issubdtype(x.dtype, jnp.floating) and jnp.finfo(x.dtype).bits < 32:
            return x.astype(jnp.float32)  # float8 has no room for the infinities masks use
        return x

    def integers(values) -> bool:
        return jnp.issubdtype(values.dtype, jnp.integer)

    @jax.jit
    def first_pass(x):
        values = real_values(x)
        # the sum is NaN where any value is (a min or max taken across devices may skip a NaN)
        return values.min(), values.max(), values.astype(jnp.result_type(float)).sum()

    def differences_to(values, origin):
        """Integers less ``origin`` (their min), exact: taken modulo 2**bits in the unsigned integers of their
        width, where every difference between two of them lies."""
        if values.dtype.itemsize < 1 or jnp.iinfo(values.dtype).bits < 8:  # int4 and its kin
            values = values.astype(jnp.int8 if jnp.issubdtype(values.dtype, jnp.signedinteger) else jnp.uint8)
        unsigned = jnp.dtype(f"uint{jnp.iinfo(values.dtype).bits}")
        return values.astype(unsigned) - jnp.asarray(origin).astype(values.dtype).astype(unsigned)

    @jax.jit
    def ordinary(x, pivot, origin):
        """No NaN or Inf, magnitudes float32 holds the squares of: the sums of the differences to ``pivot``
        and of their squares (integers: their differences to ``origin``, their min, taken exactly first)."""
        values = real_values(x)
        accumulator = jnp.result_type(float)
        if integers(values):
            differences = differences_to(values, origin).astype(accumulator) - (pivot - origin)
        else:
            differences = values.astype(accumulator) - pivot
        return differences.sum(), jnp.sum(jnp.square(differences))

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
        centre = scaled.sum() / jnp.maximum(count, 1)
        differences = jnp.where(finite, scaled - centre, 0)
        nan = jnp.sum(jnp.isnan(values), dtype=jnp.uint32)
        posinf = jnp.sum(values == jnp.inf, dtype=jnp.uint32)
        # the first value that is not finite, as a flat index in index order (its size where there is none)
        flat = sum(jax.lax.broadcasted_iota(jnp.uint32, values.shape, d) * math.prod(values.shape[d + 1:])
                   for d in range(values.ndim)) if values.ndim else jnp.zeros((), jnp.uint32)
        first = jnp.min(jnp.where(finite, jnp.uint32(values.size), flat))
        return (count, nan, posinf, low, high, power, centre, differences.sum(), jnp.sum(jnp.square(differences)),
                first)

    def moments(parts) -> list[tuple]:
        """Each part's (count, nan, +inf, low, high, power p, pivot / 2**p, sum of differences to the pivot
        and of their squares, each / 2**p and / 2**2p, flat index of the first value that is not finite),
        in two waits for the devices. Only the program a part needs is compiled: a display pays for the
        careful one only where it is needed."""
        firsts = jax.device_get([first_pass(part) for part in parts])
        results = []
        for part, (low, high, total) in zip(parts, firsts):
            whole = jnp.issubdtype(low.dtype, jnp.integer)
            magnitude = max(abs(float(low)), abs(float(high)))
            if whole or (math.isfinite(float(total)) and (magnitude == 0 or 2.0**-32 <= magnitude <= 2.0**40)):
                pivot = min(max(float(total) / part.size, float(low)), float(high))
                origin = int(low) if whole else 0
                results.append((part.size, 0, 0, low, high, 0, pivot, *ordinary(part, pivot, origin), part.size))
            else:
                results.append(careful(part))
        return jax.device_get(results)

    @functools.partial(jax.jit, static_argnums=3)
    def histogram(x, high_parts, low_parts, steps, power, origin):
        """np.histogram's counts over the bins of every ``steps[d]``-th index along each dimension d: each
        value's bin from its position, then corrected against the edges as NumPy corrects it, comparing as
        exactly as float64 does.

        Floats are compared as value / 2**power (exact; power is 0 but where their range would overflow)
        against each edge / 2**power held as the sum of two numbers of the values' float, ``high_parts +
        low_parts``: v >= e exactly where v - high >= low, since v - high is exact where it is small
        (Sterbenz) and far larger than ``low`` where it is not. Integers are compared as their differences
        to ``origin``, their min (exact), against the integer edges ``high_parts`` (the least difference in
        each bin; ``low_parts`` is then unused).
        """
        accumulator = jnp.result_type(float)
        values = real_values(x)[tuple(slice(step // 2, None, step) for step in steps)]
        bins = high_parts.size - 1
        if integers(values):
            values = differences_to(values, origin)
            edges = high_parts.astype(values.dtype)  # the last, max - min + 1, may wrap to 0: never compared

            def at_least(k):
                return values >= edges[k]

            counted = jnp.ones(values.shape, bool)
            position = values.astype(accumulator) * (bins / high_parts[-1].astype(accumulator))
        else:
            half = power // 2  # 2**-power in two factors, each a normal number whatever the power
            values = values.astype(accumulator) * jnp.ldexp(jnp.ones((), accumulator), -half)
            values = values * jnp.ldexp(jnp.ones((), accumulator), half - power)
            highs, lows = high_parts.astype(accumulator), low_parts.astype(accumulator)

            def at_least(k):
                return values - highs[k] >= lows[k]

            counted = at_least(0) & (values - highs[-1] <= lows[-1])  # NaN and values outside: not counted
            position = (values - highs[0]) * (bins / (highs[-1] - highs[0]))
        index = jnp.clip(jnp.where(counted, position, 0).astype(jnp.int32), 0, bins - 1)
        index = jnp.where(at_least(index), index, index - 1)
        index = jnp.where(at_least(jnp.minimum(index + 1, bins - 1)) & (index < bins - 1), index + 1, index)
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


def _xla_statistics(obj, bins: int):
    """The statistics of an array torch cannot reach, computed by XLA on its devices (see :func:`_parts`
    and :func:`_reductions`) and merged on the host in float64: exact counts, min and max; the mean and
    the spread from sums in JAX's default float; the histogram over the array's range, from a sample taken
    along each dimension above a few million elements. XLA reads subnormal numbers as zero."""
    import jax

    from ..histogram import HISTOGRAM_EXACT_ELEMENTS, HISTOGRAM_SAMPLE_ELEMENTS, bin_edges, middle_bin
    from ..stats import Stats

    moments, histogram = _reductions()
    parts = _parts(obj)
    rows = moments([part for _, part in parts])
    count = sum(int(row[0]) for row in rows)
    nan, posinf = sum(int(row[1]) for row in rows), sum(int(row[2]) for row in rows)
    neginf = sum(part.size for _, part in parts) - count - nan - posinf
    firsts = [tuple(o + int(i) for o, i in zip(offset, np.unravel_index(int(row[9]), part.shape)))
              for (offset, part), row in zip(parts, rows) if int(row[9]) < part.size]
    first = min(firsts) if firsts else None
    of = "|z|" if np.issubdtype(obj.dtype, np.complexfloating) else ""
    if not count:
        return Stats(0, math.nan, math.nan, math.nan, math.nan, nan, posinf, neginf, of=of, first_non_finite=first)
    counted = [(part, row) for (_, part), row in zip(parts, rows) if int(row[0])]
    as_number = int if jax.numpy.issubdtype(obj.dtype, jax.numpy.integer) else float  # int4 too: NumPy says no
    low = min(as_number(row[3]) for _, row in counted)
    high = max(as_number(row[4]) for _, row in counted)
    summaries = []  # each part's count, mean and std, scaled back by its power of two
    for _, row in counted:
        n, power, pivot, differences, squares = int(row[0]), int(row[5]), float(row[6]), float(row[7]), float(row[8])
        offset = differences / n
        spread = math.sqrt(max(squares / n - offset * offset, 0.0))
        summaries.append((n, math.ldexp(pivot + offset, power), math.ldexp(spread, power)))
    mean, std = _merged(summaries)
    target = HISTOGRAM_SAMPLE_ELEMENTS * 4 // max(4, obj.dtype.itemsize)
    steps = [(1,) * part.ndim if part.size <= HISTOGRAM_EXACT_ELEMENTS else sample_steps(part.shape, target)
             for part, _ in counted]
    step = max(math.prod(s) for s in steps)  # about every step-th element
    if not bins:
        counts = ()
    elif low < high:
        edges = bin_edges(float(low), float(high), bins)
        if as_number is int:  # the least difference to the min in each bin; the last edge just above the max
            high_parts = np.append(np.ceil(edges[:-1] - low), high - low + 1).astype(np.uint64)
            low_parts, power = np.zeros(1, np.float32), 0
        else:  # each edge / 2**power as the sum of two numbers of the values' float
            float_type = np.float64 if jax.config.jax_enable_x64 else np.float32
            largest = np.finfo(float_type).max
            power = 2 if max(abs(low), abs(high)) > largest / 4 else 0  # v - e would overflow
            scaled = np.ldexp(edges, -power)
            high_parts = scaled.astype(float_type)
            low_parts = (scaled - high_parts).astype(float_type)
        tallies = jax.device_get([histogram(part, high_parts, low_parts, s, power, low)
                                  for (part, _), s in zip(counted, steps)])
        counts = [int(n) for n in np.sum(tallies, axis=0, dtype=np.int64)]
        if step > 1:  # a sample may miss the extremes; the exact min and max are known
            counts[0], counts[-1] = max(counts[0], 1), max(counts[-1], 1)
        counts = tuple(counts)
    else:
        counts = tuple(middle_bin(count, bins))
    return Stats(count, low, high, min(max(mean, float(low)), float(high)), std, nan, posinf, neginf, counts, of=of,
                 histogram_step=step, first_non_finite=first)


def true_count(obj) -> int:
    """How many elements of a boolean array are true, counted on each shard's device."""
    import jax
    import jax.numpy as jnp

    shards = _distinct_shards(obj)
    tensors = _as_tensors(shards)
    if tensors is not None:
        return sum(int(t.count_nonzero()) for _, t in tensors)
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
