"""XLA's reading of a JAX array that torch cannot reach (on a GPU this torch was not built for, or of a
dtype DLPack cannot carry, like int4): the statistics, computed by jitted ``jax.numpy`` reductions on
the array's devices, compiled the first time a display meets a shape, and merged on the host.

Within the limits of XLA's arithmetic, the results are those of the torch engine: exact counts, min and
max, the mean and the spread of differences to a pivot (integers: exact differences to their min), and
NumPy's histogram bins, compared against edges as exactly as float64 compares them. The limits: sums
accumulate in JAX's default float (float32, unless ``jax_enable_x64`` is on); XLA reads subnormal numbers
as zero (and so may bin a value below about 2**-100 that lies on a bin's edge one bin off); with x64,
integers beyond 2**53 are binned by their differences to the min, where NumPy rounds them to float64.
"""

from __future__ import annotations

import functools
import math

import numpy as np


@functools.cache
def _reductions():
    """The jitted reductions XLA reads an array with: ``moments(parts)`` and ``histogram(x, high_parts,
    low_parts, steps, power, origin)``.

    ``moments`` takes min, max and the sum first, the fastest reductions XLA has. Where they are finite
    and of an ordinary magnitude, the common case, and for every integer dtype, the sums of differences to
    a pivot near the mean (integers: of their exact differences to their min) are one more pass. Only
    where they are not does it count and mask NaN and Inf, and scale the values by a power of two (exact),
    so that neither the sums nor the squares overflow. Low-precision floats are read as float32. Sums
    accumulate in JAX's default float (float32; float64 where ``jax_enable_x64`` is on); counts are uint32.
    Nothing is reshaped: reshaping a sharded array would move it between the devices.
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
        if jnp.iinfo(values.dtype).bits < 8:  # int4 and its kin
            values = values.astype(jnp.int8 if jnp.issubdtype(values.dtype, jnp.signedinteger) else jnp.uint8)
        unsigned = jnp.dtype(f"uint{jnp.iinfo(values.dtype).bits}")
        return values.astype(unsigned) - origin.astype(values.dtype).astype(unsigned)

    @jax.jit
    def ordinary(x, pivot, origin):
        """No NaN or Inf, magnitudes float32 holds the squares of: the sums of the differences to ``pivot``
        and of their squares (integers: their differences to ``origin``, their min in their own dtype, taken
        exactly first; ``pivot`` is then given as its difference to the min)."""
        values = real_values(x)
        accumulator = jnp.result_type(float)
        if integers(values):
            differences = differences_to(values, origin).astype(accumulator) - pivot
        else:
            differences = values.astype(accumulator) - pivot
        return differences.sum(), jnp.sum(jnp.square(differences))

    @jax.jit
    def careful(x):
        """Floats with NaN or Inf, or of an extreme magnitude (integers always take ``ordinary``)."""
        values = real_values(x)
        accumulator = jnp.result_type(float)
        finite = jnp.isfinite(values)
        count = jnp.sum(finite, dtype=jnp.uint32)
        low = jnp.min(jnp.where(finite, values, jnp.inf))
        high = jnp.max(jnp.where(finite, values, -jnp.inf))
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
                if whole:  # the sums come of differences to the min: the pivot's too
                    sums = ordinary(part, pivot - int(low), low)
                else:
                    sums = ordinary(part, pivot, np.zeros((), part.dtype))
                results.append((part.size, 0, 0, low, high, 0, pivot, *sums, part.size))
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
        to ``origin``, their min in their dtype (exact), against the integer edges ``high_parts`` (the least
        difference in each bin); ``low_parts`` then holds their span, max - min + 1, as a float.
        """
        accumulator = jnp.result_type(float)
        values = real_values(x)[tuple(slice(step // 2, None, step) for step in steps)]
        bins = high_parts.size - 1
        if integers(values):
            values = differences_to(values, origin)
            edges = high_parts.astype(values.dtype)  # the last is never compared (every value is below it)

            def at_least(k):
                return values >= edges[k]

            counted = jnp.ones(values.shape, bool)
            position = values.astype(accumulator) * (bins / low_parts[0])  # low_parts: the span, max - min + 1
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


def statistics(obj, parts: list, bins: int):
    """The statistics of ``obj``, read as ``parts`` ((global index of the first element, jax.Array): the
    whole array, or the shards this process holds) by XLA on their devices (see :func:`_reductions`) and
    merged on the host in float64: exact counts, min and max; the mean and the spread from sums in JAX's
    default float; the histogram over the array's range, from a sample taken along each dimension above a
    few million elements."""
    import jax

    from ..histogram import HISTOGRAM_EXACT_ELEMENTS, HISTOGRAM_SAMPLE_ELEMENTS, bin_edges, middle_bin, with_extremes
    from ..stats import Stats, merged_moments

    moments, histogram = _reductions()
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
    mean, std = merged_moments(summaries)
    target = HISTOGRAM_SAMPLE_ELEMENTS * 4 // max(4, obj.dtype.itemsize)
    steps = [(1,) * part.ndim if part.size <= HISTOGRAM_EXACT_ELEMENTS else sample_steps(part.shape, target)
             for part, _ in counted]
    step = max(math.prod(s) for s in steps)  # about every step-th element
    if not bins:
        counts = ()
    elif low < high:
        edges = bin_edges(float(low), float(high), bins)
        if as_number is int:  # the least difference to the min in each bin (the last edge is not compared)
            high_parts = np.append(np.ceil(edges[:-1] - low), 0).astype(np.uint64)
            low_parts, power = np.array([float(high - low + 1)]), 0
        else:  # each edge / 2**power as the sum of two numbers of the values' float
            float_type = np.float64 if jax.config.jax_enable_x64 else np.float32
            largest = np.finfo(float_type).max
            power = 2 if max(abs(low), abs(high)) > largest / 4 else 0  # v - e would overflow
            scaled = np.ldexp(edges, -power)
            high_parts = scaled.astype(float_type)
            low_parts = (scaled - high_parts).astype(float_type)
        tallies = jax.device_get([histogram(part, high_parts, low_parts, s, power, np.asarray(low, part.dtype))
                                  for (part, _), s in zip(counted, steps)])
        counts = [int(n) for n in np.sum(tallies, axis=0, dtype=np.int64)]
        counts = tuple(with_extremes(counts, low, high, low, high) if step > 1 else counts)
    else:
        counts = tuple(middle_bin(count, bins))
    return Stats(count, low, high, min(max(mean, float(low)), float(high)), std, nan, posinf, neginf, counts, of=of,
                 histogram_step=step, first_non_finite=first)
