"""Every speed and memory figure of a display, each a ratio to a baseline measured in the same run.

Run: python benchmarks/display.py [--elements 1e8] [--no-memory]
Times come first, measured in this process: each display is a first look (the tensor's version is bumped
by an in-place no-op before every run), its text and HTML computed by one output of an IPython
DisplayFormatter as a frontend asks for them, the best of a few runs. A NaN every 1000 elements is timed
against the same tensor without NaN, flat and square (whose NaN are counted per row and column too). "Busy
neighbour" repeats the float32 figure, and the square one with NaN, while another process spins on a CPU
core. Small tensors are compared with torch's repr and with the same display without the extension
(IPython's formatters calling torch's repr).

Then the containers against torch's repr, IPython's display without the extension and lovely-tensors
(in a child: its monkey_patch changes torch's repr for the whole process).

Peak memory comes last: each display runs in a fresh child process that builds the same tensor (fixed
seed), warms the code up on a small tensor, resets its resident-set high-water mark (Linux:
/proc/self/clear_refs) and displays once; the peak is how far resident memory rose. The best of three.
The float32, bfloat16 and int64 tensors hold random data; a square float32 one a NaN every 1000, whose
positions the statistics keep to count them per row and column.
"""

import argparse
import contextlib
import io
import math
import multiprocessing
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


def best(action, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def first_display(display: DisplayFormatter, t, repeat=5) -> float:
    """The best of a few first looks: before each, an in-place no-op writes to the tensor (not timed)."""
    times = []
    for _ in range(repeat):
        t.add_(0)
        started = time.perf_counter()
        display.format(t)
        times.append(time.perf_counter() - started)
    return min(times)


def against(display: DisplayFormatter, t, baseline, rounds=7) -> tuple[float, float]:
    """The best first display of ``t`` and the best run of ``baseline``, taken in alternation, so that a
    slow spell of a shared machine weighs on both alike."""
    shown, base = [], []
    for _ in range(rounds):
        shown.append(first_display(display, t, 1))
        base.append(best(baseline, 1))
    return min(shown), min(base)


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
        rows.append((f"{elements:.0e} {name}", *against(display, t, t.sum)))
    nan = base.clone()
    nan[::1000] = float("nan")
    rows.append(("a NaN every 1000 (baseline: same without NaN)",
                 *against(display, nan, lambda: first_display(display, base, 1))))
    side = math.isqrt(elements)  # NaN counted per row and per column too
    square, nan_square = base[: side * side].view(side, side), nan[: side * side].view(side, side)
    rows.append((f"the same as ({side}, {side})", *against(display, nan_square,
                                                           lambda: first_display(display, square, 1))))
    return rows


def busy_neighbour(display, elements: int) -> list[tuple[str, float, float]]:
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        torch.manual_seed(0)
        t = torch.randn(elements)
        side = math.isqrt(elements)
        square = t[: side * side].view(side, side).clone()
        square.view(-1)[::1000] = float("nan")
        return [(f"{elements:.0e} float32, busy neighbour", *against(display, t, t.sum)),
                (f"({side}, {side}) with a NaN every 1000, busy neighbour", *against(display, square, square.sum))]
    finally:
        spinner.kill()
        spinner.wait()


def small(display) -> list[tuple[str, float, float]]:
    x = torch.randn(3, 4)
    square, matrix = torch.randn(64, 64), torch.randn(1000, 1000)  # summarised: edges printed, a heatmap
    many = [torch.randn(3) for _ in range(1000)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nn.Transformer's note about nested tensors
        model = torch.nn.Transformer(d_model=256, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                                     dim_feedforward=1024)
    state = model.state_dict()

    def timed(obj, repeat=5):
        return min(timeit.repeat(lambda: display.format(obj), number=1, repeat=repeat))

    bare = DisplayFormatter()  # IPython's own: text from torch's repr, no HTML
    return [
        ("(3, 4) tensor (baseline: torch's repr)", *against(display, x, lambda: repr(x), 200)),
        ("(3, 4) tensor (baseline: IPython without it)", *against(display, x, lambda: bare.format(x), 200)),
        ("(64, 64) tensor (baseline: torch's repr)", *against(display, square, lambda: repr(square), 50)),
        ("(1000, 1000) tensor (baseline: torch's repr)", *against(display, matrix, lambda: repr(matrix), 15)),
        ("list of 1000 (3,) tensors (baseline: repr)", timed(many), best(lambda: repr(many))),
        ("Transformer state_dict (baseline: repr)", timed(state, 2), best(lambda: repr(state), 2)),
    ]


def np_magic() -> list[tuple[str, float, float]]:
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.run_line_magic("load_ext", "ipython_tensorview")
    x = shell.user_ns["x"] = torch.randn(3, 4, requires_grad=True)
    number, idiom, magic, api = 2000, [], [], []
    for _ in range(9):  # in alternation, so that a slow spell of a shared machine weighs on all three alike
        idiom.append(timeit.timeit(lambda: x.detach().cpu().numpy(), number=number) / number)
        # as a cell runs it: inside IPython's builtin trap, which run_cell holds for the whole cell (entering
        # it afresh, as a call from outside any cell does, puts get_ipython and exit in builtins: 3.5 µs)
        with contextlib.redirect_stdout(io.StringIO()), shell.builtin_trap:
            magic.append(timeit.timeit(lambda: shell.run_line_magic("np", "-q x"), number=number) / number)
        api.append(timeit.timeit(lambda: convert(x), number=number) / number)
    return [("%np -q x (baseline: the idiom)", min(magic), min(idiom)),
            ("convert(x) (baseline: the idiom)", min(api), min(idiom))]


METHODS = ["t.sum() (one pass, the baseline)", "this extension: text/plain", "this extension: text + html",
           "repr(t) (torch)", "lovely-tensors: str(lovely(t))"]


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))


# the memory figures' one tensor that is not random data of a dtype: NaN located per row and column by the pass
NAN_SQUARE = "float32 square, a NaN every 1000"


def _built(elements: int, case: str):
    """The tensor of a memory figure, from a fixed seed: ``elements`` random values of the dtype ``case``
    names, or for ``NAN_SQUARE`` as many as a square holds, float32, a NaN every 1000."""
    import torch

    torch.manual_seed(0)
    if case != NAN_SQUARE:
        return torch.randn(elements).to(getattr(torch, case))
    side = math.isqrt(elements)
    t = torch.randn(side * side)
    t[::1000] = float("nan")
    return t.view(side, side)


def _child(method: str, elements: int, dtype_name: str, results) -> None:
    import torch
    from IPython.core.formatters import DisplayFormatter

    from ipython_tensorview.config import TensorView
    from ipython_tensorview.formatters import TensorFormatters

    display = DisplayFormatter()  # as in Jupyter: one output computes text and HTML from one summary
    plain, html = display.formatters["text/plain"], display.formatters["text/html"]
    TensorFormatters(TensorView()).register(plain, html, display)
    t = _built(elements, dtype_name)
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


def memory(elements: int) -> None:
    try:
        import lovely_tensors

        lovely = f"lovely-tensors {lovely_tensors.__version__}"
    except ImportError:
        lovely = "lovely-tensors not installed"
    methods = METHODS if not lovely.endswith("not installed") else METHODS[:-1]
    print(f"\nPeak extra memory, each display in a fresh process; {lovely}")
    print(f"{'what':58} {'time':>10} {'x sum()':>8} {'peak extra':>11} {'x tensor':>9}")
    for dtype_name, itemsize in (("float32", 4), ("bfloat16", 2), ("int64", 8), (NAN_SQUARE, 4)):
        size = elements * itemsize
        baseline = None
        for method in methods if dtype_name == "float32" else methods[:3]:
            seconds, peak = measure(method, elements, dtype_name)
            baseline = baseline or seconds
            print(f"{f'{dtype_name}: {method}':58} {seconds * 1e3:8.0f} ms {seconds / baseline:8.1f} "
                  f"{peak / 2**20:7.1f} MiB {peak / size:9.3f}", flush=True)


def _containers_with_lovely(results) -> None:
    """In a child: lovely-tensors patches torch's repr for the whole process."""
    import lovely_tensors

    many, state = _containers()
    lovely_tensors.monkey_patch()
    results.put([min(timeit.repeat(lambda obj=obj: repr(obj), number=1, repeat=3)) for obj in (many, state)])


def _containers():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nn.Transformer's note about nested tensors
        model = torch.nn.Transformer(d_model=256, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                                     dim_feedforward=1024)
    return [torch.randn(3) for _ in range(1000)], model.state_dict()


def containers(display) -> None:
    """The containers against torch's repr, IPython's display without the extension and lovely-tensors."""
    many, state = _containers()
    bare = DisplayFormatter()
    rows = [[best(lambda obj=obj: repr(obj)), best(lambda obj=obj: bare.format(obj)),
             best(lambda obj=obj: display.format(obj))] for obj in (many, state)]
    try:
        import lovely_tensors  # noqa: F401

        results = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(target=_containers_with_lovely, args=(results,))
        child.start()
        for row, seconds in zip(rows, results.get()):
            row.append(seconds)
        child.join()
    except ImportError:
        pass
    print(f"\n{'container':28} {'torch repr':>11} {'IPython':>11} {'this':>11} {'lovely':>11}  (x repr)")
    for name, row in zip(("list of 1000 (3,) tensors", "Transformer state_dict"), rows):
        times = " ".join(f"{seconds * 1e3:8.1f} ms" for seconds in row)
        ratios = ", ".join(f"{seconds / row[0]:.2f}" for seconds in row[1:])
        print(f"{name:28} {times}  ({ratios})", flush=True)


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:8.2f} µs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=float, default=1e8)
    parser.add_argument("--no-memory", action="store_true", help="skip the child processes' peak memory")
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
            print(f"{name:48} {_time(seconds)} {_time(baseline)} {seconds / baseline:6.2f}x", flush=True)
    containers(display)
    if not args.no_memory:
        memory(elements)


if __name__ == "__main__":
    main()
