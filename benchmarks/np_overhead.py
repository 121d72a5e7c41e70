"""What ``%np x`` costs on a small tensor, against the bare idiom ``x.detach().cpu().numpy()``.

Run: python benchmarks/np_overhead.py
All timings are taken in this one process; the ratios are what to compare across machines.
"""

import contextlib
import io
import timeit

import torch
from IPython.testing import globalipapp

from ipython_tensorview import convert


def best_of(statement, number, repeat=7):
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number


def main():
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "ipython_tensorview")
    x = torch.randn(3, 4, requires_grad=True)
    shell.user_ns["x"] = x
    number = 20_000

    baseline = best_of(lambda: x.detach().cpu().numpy(), number)
    rows = [("x.detach().cpu().numpy()", baseline)]
    rows.append(("convert(x)", best_of(lambda: convert(x), number)))
    rows.append(("%np -q x", best_of(lambda: shell.run_line_magic("np", "-q x"), number // 4)))
    with contextlib.redirect_stdout(io.StringIO()):
        rows.append(("%np x (prints the annotation)", best_of(lambda: shell.run_line_magic("np", "x"), number // 4)))

    print(f"small tensor {tuple(x.shape)} float32, requires_grad; torch {torch.__version__}")
    print(f"{'what':34} {'time':>10} {'vs idiom':>9}")
    for name, seconds in rows:
        print(f"{name:34} {seconds * 1e6:8.1f} us {seconds / baseline:8.1f}x")


if __name__ == "__main__":
    main()
