"""Checks on a real accelerator: conversion of every kind of tensor, and the display of a huge one.

Run on a CUDA machine (under 5 minutes on one GPU):   python benchmarks/gpu_check.py
Run anywhere, smaller, on the CPU:                    python benchmarks/gpu_check.py --device cpu --gib 0.25

1. Every kind of tensor the engine converts (tests/kinds.py), put on the device: the values must equal
   the CPU reference, the steps must name the device and the array must not share memory with it.
2. Displaying a float32 tensor of --gib GiB (text and HTML, as Jupyter asks for both): time, host memory
   growth (resident set, and its peak during the display) and the peak extra device memory the
   statistics took; the same for lovely-tensors when installed, side by side; then for a bool tensor of as
   many elements, whose display counts the true ones.
3. The statistics' plan on the device, for normal, offset, NaN-holding (1-D, and 2-D with counts per row and
   column) and half-precision data: time against t.sum(), kernel launches (torch.profiler) and waits for the
   device (torch.cuda.set_sync_debug_mode).
4. The error of the device's var_mean and of the statistics' std, for data offset from zero, by size, and
   of the statistics' std of float32 whole numbers.
"""

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from IPython.core.formatters import DisplayFormatter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from kinds import KINDS, reference  # noqa: E402

from ipython_tensorview import TensorConversionError, convert  # noqa: E402
from ipython_tensorview.config import TensorView  # noqa: E402
from ipython_tensorview.formatters import TensorFormatters  # noqa: E402


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))


def check_conversions(device: str) -> bool:
    print(f"1. conversion of every kind on {device}")
    failures = 0
    for kind in KINDS:
        if kind.error:
            continue
        try:
            tensor = kind.make().to(device)
        except (RuntimeError, NotImplementedError, TypeError) as e:
            print(f"  skip  {kind.name}: torch cannot put it on {device} ({str(e).splitlines()[0][:70]})")
            continue
        try:
            result = convert(tensor)
            problems = []
            if not np.array_equal(result.array, reference(kind, tensor.cpu()), equal_nan=True):
                problems.append("values differ")
            if device != "cpu" and not any(str(tensor.device) in step for step in result.steps):
                problems.append(f"no step names {tensor.device}")
            if device != "cpu" and result.shares_memory:
                problems.append("claims to share memory")
        except TensorConversionError as e:
            problems = [f"TensorConversionError: {e}"]
        failures += bool(problems)
        print(f"  {'FAIL' if problems else 'ok  '}  {kind.name}: {'; '.join(problems) or result}")
    print(f"  {failures} failure(s)\n")
    return failures == 0


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_display(name: str, show, t, device: str) -> None:
    """Time, host memory and device memory of one display."""
    _synchronize(device)
    on_gpu = device.startswith("cuda")
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
        gpu_before = torch.cuda.memory_allocated()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss_before = _status("VmRSS:")
    started = time.perf_counter()
    shown = show(t)
    _synchronize(device)
    seconds = time.perf_counter() - started
    rss_after, rss_peak = _status("VmRSS:"), _status("VmHWM:")
    gpu = ""
    if on_gpu:
        gpu = f", device memory peak extra {(torch.cuda.max_memory_allocated() - gpu_before) / 2**20:.1f} MiB"
    print(f"  {name:28} {seconds * 1e3:8.0f} ms, host RSS +{(rss_after - rss_before) / 2**20:.1f} MiB "
          f"(peak +{(rss_peak - rss_before) / 2**20:.1f} MiB){gpu}")
    print(f"  {'':28} {shown.splitlines()[0][:150]}")


def check_display(device: str, gib: float) -> None:
    elements = int(gib * 2**30 / 4)
    print(f"2. display of a {gib:g} GiB float32 tensor ({elements:,} elements) on {device}")
    display = DisplayFormatter()  # one output: text and HTML from one summary, as in Jupyter
    plain, html = display.formatters["text/plain"], display.formatters["text/html"]
    TensorFormatters(TensorView()).register(plain, html, display)
    t = torch.randn(elements, device=device)
    small = torch.randn(1000, device=device)
    plain(small), html(small), plain(small[::3])  # warm-up: first kernel launches (a strided sample's too), imports
    _synchronize(device)
    measure_display("t.sum() (one pass)", lambda x: repr(x.sum().item()), t, device)
    measure_display("this extension: text + html", lambda x: display.format(x)[0]["text/plain"], t, device)
    measure_display("repr(t) (torch)", repr, t, device)
    try:
        import lovely_tensors
    except ImportError:
        print("  lovely-tensors: not installed")
    else:
        str(lovely_tensors.lovely(small))
        measure_display(f"lovely-tensors {lovely_tensors.__version__}", lambda x: str(lovely_tensors.lovely(x)), t,
                        device)
    mask = t > 1  # as many bools: the display counts the true ones
    del t
    plain(small > 0)  # warm-up
    measure_display("a bool tensor as large", lambda x: display.format(x)[0]["text/plain"].splitlines()[1], mask,
                    device)
    measure_display("  (t.sum())", lambda x: repr(x.sum().item()), mask, device)


def check_stats_plan(device: str, gib: float) -> None:
    from ipython_tensorview.stats import tensor_stats

    elements = int(gib * 2**30 / 4)
    print(f"\n3. the statistics' plan on {device}, {elements:,} float32 elements")
    on_gpu = device.startswith("cuda")
    side = math.isqrt(elements)
    for data in ("normal", "offset by 1000", "a NaN every 1000", f"the same ({side}, {side})", "bfloat16",
                 "float16 offset by 10"):
        t = torch.randn(elements, device=device)
        if data.startswith("offset"):
            t += 1000
        elif data.startswith("a NaN"):
            t[::1000] = math.nan
        elif data.startswith("the same"):  # NaN counted per row and per column too
            t[::1000] = math.nan
            t = t[: side * side].view(side, side)
        elif data.startswith("float16"):
            t = (t + 10).half()
        elif data == "bfloat16":
            t = t.bfloat16()
        tensor_stats(t[:1000]), t.sum()  # warm-up
        _synchronize(device)
        started = time.perf_counter()
        t.sum().item()
        baseline = time.perf_counter() - started
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
        started = time.perf_counter()
        tensor_stats(t, max_elements=0)
        _synchronize(device)
        seconds = time.perf_counter() - started
        memory = f"{(torch.cuda.max_memory_allocated() - before) / 2**20:.1f} MiB" if on_gpu else "n/a"
        launches = waits = "n/a"
        if on_gpu:
            from torch.profiler import ProfilerActivity, profile

            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                tensor_stats(t, max_elements=0)
                _synchronize(device)
            launches = sum(1 for e in prof.events() if e.device_type.name == "CUDA")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                torch.cuda.set_sync_debug_mode("warn")
                try:
                    tensor_stats(t, max_elements=0)
                finally:
                    torch.cuda.set_sync_debug_mode("default")
            waits = sum("synchroniz" in str(w.message) for w in caught)
        print(f"  {data:21} {seconds * 1e3:8.1f} ms = {seconds / baseline:5.1f} x t.sum() "
              f"({baseline * 1e3:.1f} ms); kernels {launches}; waits {waits}; device memory peak extra {memory}")
        del t


def check_welford(device: str) -> None:
    """How far the device's ``var_mean`` (Welford's update) and the statistics' std are from the truth, for
    data offset from zero: what ``stats._WELFORD_MEAN_TO_STD`` trusts. Each figure is the worst relative
    error of a few seeds."""
    from ipython_tensorview.stats import tensor_stats

    ratios = (2.9, 10, 100, 1000, 10**4)  # (below 3 std, the raw sums are trusted)
    print(f"\n4. std of data offset by |mean| / std, relative error on {device}: var_mean / the statistics'")
    print(f"  {'dtype':8} {'elements':>10}  " + "  ".join(f"{ratio:>19,}" for ratio in ratios))
    for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        for n in (2, 16, 1000, 2**16, 2**24):
            cells = []
            for ratio in ratios:
                errors = ([], [])  # var_mean's, the statistics'
                for seed in range(20 if n <= 2**16 else 3):
                    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + ratio
                    x = x.to(dtype)
                    truth = (x.double() - ratio).std(correction=0).item()  # the shift is exact in float64
                    if not truth:  # every value rounded to one (float16 10**4 from zero): no spread to measure
                        continue
                    on_device = x.to(device)
                    variance, _ = torch.var_mean(on_device, correction=0)
                    for found, std in zip(errors, (math.sqrt(variance.item()), tensor_stats(on_device).std)):
                        found.append(abs(std - truth) / truth)
                cells.append(" / ".join(f"{max(found):8.1e}" if found else f"{'n/a':>8}" for found in errors))
            print(f"  {str(dtype).removeprefix('torch.'):8} {n:>10,}  " + "  ".join(cells), flush=True)
    # values on a coarse grid, whose squares round alike in one float32 sum (the CPU takes them by rows)
    print(f"  float32 whole numbers, the statistics' std:  {'elements':>10}  {'0 to 255':>9}  {'less 127.5':>10}")
    for n in (2**20, 2**24) + ((2**27,) if device != "cpu" else ()):
        pixels = torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(0)).float()
        cells = []
        for x in (pixels, pixels - 127.5):
            truth = x.double().std(correction=0).item()
            cells.append(abs(tensor_stats(x.to(device)).std - truth) / truth)
        print(f"  {'':44} {n:>10,}  {cells[0]:9.1e}  {cells[1]:10.1e}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, mps or cpu")
    parser.add_argument("--gib", type=float, default=8.0, help="size of the displayed tensor (default 8)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device here: run with --device cpu --gib 0.25")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(f"torch {torch.__version__} on {name}\n")
    ok = check_conversions(args.device)
    check_display(args.device, args.gib)
    check_stats_plan(args.device, min(args.gib, 4.0))
    check_welford(args.device)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
