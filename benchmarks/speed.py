"""Every speed figure of a display, as a ratio to a baseline measured in the same process, same run.

Run: python benchmarks/speed.py [--elements 1e8]
Each display is a first look: the tensor's version is bumped (an in-place no-op) before every run, and
the text and HTML come from one output of an IPython DisplayFormatter, as a frontend asks for them.
Times are the best of a few runs. "Busy neighbour" repeats the float32 figures while another process
spins on a CPU core.
"""

import argparse
import contextlib
import io
import subprocess
import sys
import time
import timeit
import warnings

import torch
from IPython.core.formatters import DisplayFormatter
from IPython.testing import globalipapp

from ipython_tensorview import convert
from ipython_tensorview.config import TensorView
from ipython_tensorview.formatters import TensorFormatters


def best(action, repeat=3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def first_display(display: DisplayFormatter, t, repeat=3) -> float:
    """The best of a few first looks: before each, an in-place no-op writes to the tensor (not timed)."""
    times = []
    for _ in range(repeat):
        t.add_(0)
        started = time.perf_counter()
        display.format(t)
        times.append(time.perf_counter() - started)
    return min(times)


def large(display, elements: int) -> list[tuple[str, float, float]]:
    torch.manual_seed(0)
    base = torch.randn(elements)
    rows = []
    for name, t in [
        ("float32", base),
        ("bfloat16", base.to(torch.bfloat16)),
        ("float16", base.to(torch.float16)),
        ("int64", (base * 1000).to(torch.int64)),
        ("float32 transposed", base.view(-1, 1000).T),
    ]:
        rows.append((f"{elements:.0e} {name}", first_display(display, t), best(lambda t=t: t.sum())))
    nan = base.clone()
    nan[::1000] = float("nan")
    rows.append(("a NaN every 1000 (baseline: same without NaN)", first_display(display, nan),
                 first_display(display, base)))
    return rows


def busy_neighbour(display, elements: int) -> list[tuple[str, float, float]]:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        torch.manual_seed(0)
        t = torch.randn(elements)
        return [(f"{elements:.0e} float32, busy neighbour", first_display(display, t), best(t.sum))]
    finally:
        spinner.kill()
        spinner.wait()


def small(display) -> list[tuple[str, float, float]]:
    x = torch.randn(3, 4)
    many = [torch.randn(3) for _ in range(1000)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nn.Transformer's note about nested tensors
        model = torch.nn.Transformer(d_model=256, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                                     dim_feedforward=1024)
    state = model.state_dict()

    def timed(obj, repeat=5):
        return min(timeit.repeat(lambda: display.format(obj), number=1, repeat=repeat))

    return [
        ("(3, 4) tensor (baseline: torch's repr)", first_display(display, x, 50),
         min(timeit.repeat(lambda: repr(x), number=1, repeat=50))),
        ("list of 1000 (3,) tensors (baseline: repr)", timed(many), best(lambda: repr(many))),
        ("Transformer state_dict (baseline: repr)", timed(state, 2), best(lambda: repr(state), 2)),
    ]


def np_magic() -> list[tuple[str, float, float]]:
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "ipython_tensorview")
    x = shell.user_ns["x"] = torch.randn(3, 4, requires_grad=True)
    number = 5000
    idiom = min(timeit.repeat(lambda: x.detach().cpu().numpy(), number=number, repeat=5)) / number
    with contextlib.redirect_stdout(io.StringIO()):
        magic = min(timeit.repeat(lambda: shell.run_line_magic("np", "-q x"), number=number, repeat=5)) / number
    api = min(timeit.repeat(lambda: convert(x), number=number, repeat=5)) / number
    return [("%np -q x (baseline: the idiom)", magic, idiom), ("convert(x) (baseline: the idiom)", api, idiom)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=float, default=1e8)
    args = parser.parse_args()
    elements = int(args.elements)
    display = DisplayFormatter()
    TensorFormatters(TensorView()).register(display.formatters["text/plain"], display.formatters["text/html"],
                                            display)
    display.format(torch.randn(1000))  # warm-up
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'what':48} {'time':>10} {'baseline':>10} {'ratio':>7}")
    for group in (large(display, elements), busy_neighbour(display, elements), small(display), np_magic()):
        for name, seconds, baseline in group:
            print(f"{name:48} {seconds * 1e3:8.2f} ms {baseline * 1e3:8.2f} ms {seconds / baseline:6.2f}x", flush=True)


if __name__ == "__main__":
    main()
