"""Time and peak memory of displaying a 1e8-element tensor, against torch's repr and lovely-tensors.

Run: python benchmarks/display.py [--elements N]
All figures come from one run of this script. Each display is measured in a fresh child process that
builds the same tensor (fixed seed), warms the code up on a small tensor, resets its resident-set
high-water mark (Linux: /proc/self/clear_refs) and displays once: the time is that first display, the
peak is how far resident memory rose above where it stood. The best of three children is kept. The
ratios against ``t.sum()`` (one pass over memory) are what to compare across machines.
"""

import argparse
import multiprocessing
import time

METHODS = ["t.sum() (one pass, the baseline)", "this extension: text/plain", "this extension: text + html",
           "repr(t) (torch)", "lovely-tensors: str(lovely(t))"]


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))


def _child(method: str, elements: int, dtype_name: str, results) -> None:
    import torch
    from IPython.core.formatters import DisplayFormatter

    from ipython_tensorview.config import TensorView
    from ipython_tensorview.formatters import TensorFormatters

    display = DisplayFormatter()  # as in Jupyter: one output computes text and HTML from one summary
    plain, html = display.formatters["text/plain"], display.formatters["text/html"]
    TensorFormatters(TensorView()).register(plain, html, display)
    torch.manual_seed(0)
    t = torch.randn(elements).to(getattr(torch, dtype_name))
    actions = {
        METHODS[0]: t.sum,
        METHODS[1]: lambda x=t: plain(x),
        METHODS[2]: lambda x=t: display.format(x),
        METHODS[3]: lambda x=t: repr(x),
    }
    if method == METHODS[4]:
        import lovely_tensors

        actions[method] = lambda x=t: str(lovely_tensors.lovely(x))
    small = torch.randn(1000).to(t.dtype)
    for warm_up in (lambda: plain(small), lambda: html(small), lambda: repr(small)):
        warm_up()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = _status("VmRSS:")
    started = time.perf_counter()
    actions[method]()
    results.put((time.perf_counter() - started, _status("VmHWM:") - start))


def measure(method: str, elements: int, dtype_name: str) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    runs = []
    for _ in range(3):
        results = context.Queue()
        child = context.Process(target=_child, args=(method, elements, dtype_name, results))
        child.start()
        runs.append(results.get())
        child.join()
    return min(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=float, default=1e8)
    args = parser.parse_args()
    elements = int(args.elements)
    try:
        import lovely_tensors

        lovely = f"lovely-tensors {lovely_tensors.__version__}"
    except ImportError:
        lovely = "lovely-tensors not installed"
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {lovely}")
    methods = METHODS if not lovely.endswith("not installed") else METHODS[:-1]
    for dtype_name, itemsize in (("float32", 4), ("bfloat16", 2)):
        size = elements * itemsize
        print(f"\n{elements:.0e} elements, {dtype_name}, {size / 2**20:.0f} MiB")
        print(f"{'what':36} {'time':>9} {'x sum()':>8} {'peak extra':>11} {'x tensor':>9}")
        baseline = None
        for method in methods:
            seconds, peak = measure(method, elements, dtype_name)
            baseline = baseline or seconds
            print(f"{method:36} {seconds * 1e3:7.0f} ms {seconds / baseline:8.1f} {peak / 2**20:7.1f} MiB "
                  f"{peak / size:9.3f}", flush=True)


if __name__ == "__main__":
    main()
