"""Displaying a JAX array, on one device and sharded over four, against the way round: np.asarray, then
the display of a torch tensor over that array. Ratios to one jnp.sum() of the same array, same run.

Run: python benchmarks/other_arrays.py [--elements 1e8]
JAX is started with four host devices (XLA_FLAGS), so the sharded array's reductions run on four
"devices" sharing this machine's cores. Each display is the best of a few (JAX arrays are immutable:
every display is a first look); the first display of a shape is also given, alone: for a sharded array
it includes XLA compiling its programs for that shape.
"""

import argparse
import os
import time
import warnings

os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from IPython.core.formatters import DisplayFormatter  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from ipython_tensorview.config import TensorView  # noqa: E402
from ipython_tensorview.formatters import TensorFormatters  # noqa: E402


def best(action, x, repeat=3) -> float:
    """The best of a few runs of ``action`` on a fresh copy of ``x`` each (not timed): JAX keeps the host
    copy np.asarray makes, so a second np.asarray of the same array costs nothing."""
    times = []
    for _ in range(repeat):
        fresh = x.copy()
        fresh.block_until_ready()
        started = time.perf_counter()
        action(fresh)
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=float, default=1e8)
    elements = int(parser.parse_args().elements)
    display = DisplayFormatter()
    TensorFormatters(TensorView()).register(display.formatters["text/plain"], display.formatters["text/html"],
                                            display)
    key = jax.random.PRNGKey(0)
    single = jax.random.normal(key, (elements // 1000, 1000), dtype=jnp.float32)
    mesh = Mesh(np.array(jax.devices()[:4]), ("x",))
    sharded = jax.device_put(single, NamedSharding(mesh, P("x", None)))
    display.format(jnp.ones(1000))  # warm-up
    display.format(torch.ones(1000))
    print(f"jax {jax.__version__}, {len(jax.devices())} host devices; torch {torch.__version__}")
    print(f"{'what':52} {'time':>10} {'x jnp.sum()':>12}")
    for name, x in (("on one device", single), ("sharded over 4", sharded)):
        first = best(display.format, x, repeat=1)  # a shape not seen before: XLA compiles what it reads it with
        baseline = best(lambda y: jnp.sum(y).block_until_ready(), x)
        rows = [
            ("jnp.sum() (the baseline)", baseline),
            ("this extension's first display of the shape", first),
            ("this extension's display (text + HTML)", best(display.format, x)),
            ("np.asarray, then the display of a torch tensor over it",
             best(lambda y: display.format(torch.from_numpy(np.array(y, copy=False))), x)),
            ("np.asarray alone", best(np.asarray, x)),
        ]
        print(f"{elements:.0e} float32 {name}")
        for what, seconds in rows:
            print(f"  {what:50} {seconds * 1e3:8.1f} ms {seconds / baseline:11.2f}x", flush=True)


if __name__ == "__main__":
    main()
