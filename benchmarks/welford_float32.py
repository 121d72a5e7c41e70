"""How far a float32 Welford variance moves the std of data far from zero, by how many values it holds.

Run: python benchmarks/welford_float32.py
The statistics trust a device's ``var_mean`` for float32 while |mean| * eps <= std * sqrt(count) * 2**-24
(``stats._WELFORD_PER_ROOT_COUNT``). This emulates, in float32 as CUDA accumulates, a reduction like CUDA's:
Welford's update over each thread's few values, then Chan's combination up a binary tree; and prints the
worst relative error of the std over a few draws, beside the bound eps * |mean| / std / sqrt(count) and
torch's own ``var_mean`` on the CPU (which accumulates float32 in float64). ``benchmarks/gpu_check.py``
measures a GPU's own.
"""

import math

import numpy as np
import torch

F32 = np.float32


def _combine(a, b):
    """Chan's combination of two (count, mean, M2) in float32."""
    (na, ma, m2a), (nb, mb, m2b) = a, b
    n = na + nb
    delta = F32(mb - ma)
    weight = F32(F32(nb) / F32(n))
    return n, F32(ma + F32(delta * weight)), F32(F32(m2a + m2b) + F32(F32(F32(delta * delta) * F32(na)) * weight))


def emulated_std(x: np.ndarray, per_thread: int) -> float:
    parts = []
    for start in range(0, len(x), per_thread):
        n, mean, m2 = 0, F32(0), F32(0)
        for value in x[start : start + per_thread]:
            n += 1
            delta = F32(value - mean)
            mean = F32(mean + F32(delta / F32(n)))
            m2 = F32(m2 + F32(delta * F32(value - mean)))
        parts.append((n, mean, m2))
    while len(parts) > 1:
        parts = [_combine(*parts[i : i + 2]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    n, _, m2 = parts[0]
    return math.sqrt(m2 / n)


def main():
    rng = np.random.default_rng(0)
    eps = float(np.finfo(np.float32).eps)
    print(f"{'values':>7} {'mean/std':>8} {'emulated':>9} {'bound':>9} {'torch cpu':>9}")
    for count in (2, 4, 64, 1024, 8192):
        for ratio in (100, 1000):
            emulated = cpu = 0.0
            for _ in range(30 if count <= 1024 else 5):
                x = (rng.standard_normal(count) + ratio).astype(np.float32)
                truth = x.astype(np.float64).std()
                emulated = max(emulated, abs(emulated_std(x, 4) - truth) / truth)
                variance, _ = torch.var_mean(torch.from_numpy(x), correction=0)
                cpu = max(cpu, abs(math.sqrt(variance.item()) - truth) / truth)
            bound = eps * ratio / math.sqrt(count)
            print(f"{count:7} {ratio:8} {emulated:9.1e} {bound:9.1e} {cpu:9.1e}", flush=True)


if __name__ == "__main__":
    main()
