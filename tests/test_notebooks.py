"""The example notebooks, run top to bottom by a real Jupyter kernel (ipykernel, started by nbclient)."""

import os
from pathlib import Path

import nbformat
import pytest
from conftest import html_facts
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def execute(path: Path, **kernel_options) -> nbformat.NotebookNode:
    """The notebook at ``path`` after a real kernel ran it; a cell that raises without the
    ``raises-exception`` tag fails the run."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(**kernel_options)
    return notebook


@pytest.fixture(scope="module")
def quickstart():
    return execute(EXAMPLES / "quickstart.ipynb")


@pytest.fixture(scope="module")
def memory():
    return execute(EXAMPLES / "memory.ipynb")


@pytest.fixture(scope="module")
def other_arrays():
    return execute(EXAMPLES / "other_arrays.ipynb")


def outputs(notebook, source_start):
    """The outputs of the one code cell whose source is, or else starts with, ``source_start``."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    (cell,) = [c for c in code if c.source == source_start] or [c for c in code if c.source.startswith(source_start)]
    return cell.outputs


def stream_text(cell_outputs, name="stdout"):
    return "".join(o.text for o in cell_outputs if o.output_type == "stream" and o.name == name)


def test_every_code_cell_ran(quickstart, memory, other_arrays):
    for notebook in (quickstart, memory, other_arrays):
        counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
        assert all(counts) and counts == sorted(counts)


def test_tensor_outputs_carry_text_and_html(quickstart):
    (result,) = outputs(quickstart, "import torch")
    bundle = result.data
    # the kernel's 79 columns: the header breaks between facts
    assert bundle["text/plain"].startswith("Tensor (64, 48) float32 cpu · 12.0 KiB\nmin ")
    html = bundle["text/html"]
    assert html.startswith('<div class="tensorview"')
    for fact in ("(64,\u00a048)", "float32", "cpu", "12.0\u00a0KiB", 'class="tensorview-histogram"',
                 'class="tensorview-thumbnail"', 'class="tensorview-values"'):
        assert fact in html
    (image,) = [o for o in outputs(quickstart, "image = ") if o.output_type == "execute_result"]
    assert image.data["text/plain"].startswith("Tensor (3, 32, 48) float32 cpu")
    assert 'alt="thumbnail, 32x48 samples"' in image.data["text/html"]


def test_np_annotations(quickstart):
    shared = outputs(quickstart, "a = %np w")
    assert stream_text(shared) == (
        "w -> ndarray float32 (64, 48): shares memory with the tensor: in-place writes to either show in both\n"
    )
    (value,) = [o for o in shared if o.output_type == "execute_result"]
    assert value.data["text/plain"] == "np.float32(100.0)"  # the write to the tensor reached the array
    assert stream_text(outputs(quickstart, "p = torch.randn")).endswith("(steps: detach)\n")
    assert stream_text(outputs(quickstart, "%np torch.ones")).endswith("copied: bfloat16 -> float32\n")
    policy = outputs(quickstart, "%config TensorView.copy")
    assert stream_text(policy) == "w -> ndarray float32 (64, 48): copied: copy (policy 'always')\n"
    listing = stream_text(outputs(quickstart, "%np"))
    assert listing.splitlines()[0].split() == ["name", "shape", "dtype", "device", "grad", "size", "%np"]


def test_usage_errors_arrive_as_one_line(quickstart):
    cell_outputs = outputs(quickstart, '%np torch.empty(2, 2, device="meta")')
    assert not [o for o in cell_outputs if o.output_type == "error"]
    message = stream_text(cell_outputs, "stderr")
    assert message == (
        'UsageError: %np torch.empty(2, 2, device="meta"): Tensor of shape (2, 2) and dtype float32 is on the '
        "meta device and has no data: create it on a real device (e.g. torch.empty(..., device='cpu'), or "
        "module.to_empty(device='cpu') for a module)\n"
    )


def test_memory_notebook(memory):
    assert stream_text(outputs(memory, "t = torch.zeros(4)")).endswith("shares memory with the tensor: "
                                                                     "in-place writes to either show in both\n")
    (shares,) = [o for o in outputs(memory, "np.shares_memory") if o.output_type == "execute_result"]
    assert shares.data["text/plain"] == "True"
    # each display reads the tensor as it is, whatever wrote to it since the last one
    (before,) = outputs(memory, "t")
    (after,) = outputs(memory, "a[:] = 7")
    assert before.data["text/plain"].startswith("Tensor (4,) float32 cpu · 16 B · min 1 max 1 mean 1 std 0")
    assert after.data["text/plain"].startswith("Tensor (4,) float32 cpu · 16 B · min 7 max 7 mean 7 std 0")
    assert html_facts(after.data["text/html"])["min"] == "7"
    (replaced,) = outputs(memory, "p = torch.nn.Parameter")
    assert replaced.data["text/plain"].startswith("Parameter (2,) float32 cpu · requires_grad · 8 B · min 9 max 9")
    (flags,) = [o for o in outputs(memory, "e = %np") if o.output_type == "execute_result"]
    assert flags.data["text/plain"] == "((0, 4), False)"
    (error,) = outputs(memory, "r[0] = 5.0")
    assert (error.output_type, error.ename, error.evalue) == ("error", "ValueError",
                                                              "assignment destination is read-only")
    auto = stream_text(outputs(memory, "%config TensorView.readonly_shared = False")).splitlines()
    assert auto == [
        "bias -> ndarray float32 (16,): copied: copy (policy 'auto')",
        "weights -> ndarray float32 (1024,): shares memory with the tensor: in-place writes to either "
        "show in both (4.0 KiB is over auto_copy_max_bytes = 1.0 KiB)",
        "-weights -> ndarray float32 (1024,): shares memory with nothing: a new tensor's, which only the array holds",
    ]


def test_extension_enabled_by_configuration(tmp_path):
    """The way users enable it for every session: an ipython_config.py in their profile."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["ipython_tensorview"]\nc.TensorView.copy = "always"\n'
    )
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys\n'torch' in sys.modules"),
        nbformat.v4.new_code_cell("import torch\nt = torch.ones(3)\narray = %np t"),
        nbformat.v4.new_code_cell("t"),
    ])
    path = tmp_path / "configured.ipynb"
    nbformat.write(notebook, path)
    ran = execute(path, env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")})
    first, second, third = (cell.outputs for cell in ran.cells)
    assert first[0].data["text/plain"] == "False"  # loaded at start, torch not imported
    assert stream_text(second) == "t -> ndarray float32 (3,): copied: copy (policy 'always')\n"
    assert third[0].data["text/plain"].startswith("Tensor (3,) float32 cpu · 12 B · min 1 max 1")


def test_other_arrays_notebook(other_arrays):
    (jax_array,) = outputs(other_arrays, "import jax.numpy")
    assert jax_array.data["text/plain"].startswith("jax.Array (3, 4) float32 cpu:0 · memory immutable · 48 B")
    assert html_facts(jax_array.data["text/html"])["type"] == "jax.Array"
    assert stream_text(outputs(other_arrays, "a = %np x")).startswith(
        "x -> ndarray float32 (3, 4): shares memory with the jax.Array, read-only")
    (readonly,) = [o for o in outputs(other_arrays, "a = %np x") if o.output_type == "execute_result"]
    assert readonly.data["text/plain"] == "False"
    (dtensor,) = [o for o in outputs(other_arrays, "import socket") if o.output_type == "execute_result"]
    assert dtensor.data["text/plain"].startswith("DTensor (3, 4) float32 cpu · placements (Shard(dim=0))")
    assert "(steps: gather: full_tensor())" in stream_text(outputs(other_arrays, "%np -g w"))
    (both,) = outputs(other_arrays, '{"x": x, "w": w}')
    lines = both.data["text/plain"].split("\n")
    assert len(lines) == 2 and lines[0].startswith("{'x': jax.Array (3, 4)") and lines[1].startswith(" 'w': DTensor")
