"""A tour of ipython_tensorview in a real IPython shell: run ``python examples/demo.py``.

Each cell is echoed as IPython would show it, then run by the shell, so the output below each
``In [n]:`` is exactly what a user sees in a terminal IPython session.
"""

import warnings

from IPython.core.interactiveshell import InteractiveShell

warnings.filterwarnings("ignore", category=UserWarning)  # torch's "beta layout" notes

CELLS = [
    "%load_ext ipython_tensorview",
    "import torch\nw = torch.arange(12.0).reshape(3, 4)\nw",
    "x = torch.randn(1000, 1000)\nx[0, :3] = float('nan')\nx.requires_grad_()",
    "a = %np w",
    "w[0, 0] = 100.0   # an in-place write to the tensor...\na[0, 0]            # ...shows in the array",
    "%np -c w",
    "h = torch.randn(2, 3, requires_grad=True).to(torch.bfloat16)\n%np -q -o h_np h\nh_np.dtype",
    "torch.nn.Linear(4, 2).weight",
    "%np torch.tensor([1 + 2j, 3 - 1j]).conj()",
    "%np torch.eye(3).to_sparse()",
    "%config TensorView.copy = 'auto'\n%np w",
    "%np",
    "%np torch.empty(2, 2, device='meta')",
]


def main():
    shell = InteractiveShell.instance(colors="NoColor")
    for number, cell in enumerate(CELLS, start=1):
        lines = cell.splitlines()
        print(f"In [{number}]: {lines[0]}")
        for line in lines[1:]:
            print(f"{'...:':>{len(str(number)) + 7}} {line}")
        shell.run_cell(cell, store_history=True)
        print()


if __name__ == "__main__":
    main()
