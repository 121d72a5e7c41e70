"""A display costs what it shows, for any strides: expanded tensors and one wide dense tensor.

Run: python benchmarks/strides.py
Each case is measured in a fresh child process that builds the tensor, warms the code up on a small
one, resets its resident-set high-water mark (Linux: /proc/self/clear_refs) and then runs the action
once: the time is that first run, the peak is how far resident memory rose above where it stood.
torch's own repr of the same tensor, measured the same way, is the baseline of each case.
"""

import multiprocessing
import time

CASES = {
    "zeros(1000, 1).expand(1000, 10**9)": "torch.zeros(1000, 1).expand(1000, 10**9)",
    "zeros(1).expand(10**12)": "torch.zeros(1).expand(10**12)",
    "randn(100, 5_000_000) (dense, 1.9 GiB)": "torch.randn(100, 5_000_000)",
}
ACTIONS = ["repr(t) (torch, the baseline)", "display: text + html", "values text alone"]


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))


def _child(case: str, action: str, results) -> None:
    import numpy as np
    import torch
    from IPython.core.formatters import HTMLFormatter, PlainTextFormatter

    from ipython_tensorview.adapters.torch import values_text
    from ipython_tensorview.config import TensorView
    from ipython_tensorview.formatters import TensorFormatters

    plain, html = PlainTextFormatter(), HTMLFormatter()
    TensorFormatters(TensorView()).register(plain, html)
    torch.manual_seed(0)
    t = eval(CASES[case], {"torch": torch})
    run = {
        ACTIONS[0]: lambda: repr(t),
        ACTIONS[1]: lambda: (plain(t), html(t)),
        ACTIONS[2]: lambda: values_text(t),
    }[action]
    small = torch.randn(50, 50)
    plain(small), html(small), values_text(small), repr(small), np.array2string(small.numpy())
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = _status("VmRSS:")
    started = time.perf_counter()
    run()
    results.put((time.perf_counter() - started, _status("VmHWM:") - start))


def measure(case: str, action: str) -> tuple[float, int]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_child, args=(case, action, results))
    child.start()
    result = results.get()
    child.join()
    return result


def main():
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for case in CASES:
        print(f"\n{case}")
        print(f"{'what':32} {'time':>10} {'x repr':>7} {'peak extra':>11}")
        baseline = None
        for action in ACTIONS:
            seconds, peak = measure(case, action)
            baseline = baseline or seconds
            print(f"{action:32} {seconds * 1e3:7.1f} ms {seconds / baseline:7.1f} {peak / 2**20:7.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
