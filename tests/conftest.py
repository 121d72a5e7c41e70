import html
import os
import re
import socket

import pytest
import torch

# JAX arrays in the tests live on the CPU, as they do on a machine without an accelerator; the tests of
# arrays on a GPU ask for it (test_adapters.py)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
from hypothesis import settings as hypothesis_settings
from IPython.core.formatters import HTMLFormatter, PlainTextFormatter
from IPython.testing import globalipapp

from ipython_tensorview.config import TensorView
from ipython_tensorview.formatters import TensorFormatters

# CI runs every property test on the same examples: a failure there is a defect, never bad luck
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
_FACT = re.compile(r'<span class="tensorview-label"[^>]*>(.*?)</span>\u00a0(.*?)</span>')


def html_facts(markup: str) -> dict[str, str]:
    """The facts of a tensor's HTML display, label to value, with their unbreakable spaces made plain."""
    return {html.unescape(label).replace("\u00a0", " "): html.unescape(value).replace("\u00a0", " ")
            for label, value in _FACT.findall(markup)}


@pytest.fixture
def settings():
    """Fresh settings, so a test's policy never leaks into another."""
    return TensorView()


@pytest.fixture
def shell():
    """IPython's global test shell: a real InteractiveShell, started once per process."""
    globalipapp.start_ipython()
    return globalipapp.get_ipython()


@pytest.fixture
def ip(shell):
    """The shell with the extension loaded; names a test adds are removed after it."""
    names_before = set(shell.user_ns)
    shell.run_line_magic("load_ext", "ipython_tensorview")
    yield shell
    shell.run_line_magic("unload_ext", "ipython_tensorview")
    shell.config.pop("TensorView", None)  # %config a test ran stays in the shell's config otherwise
    for name in set(shell.user_ns) - names_before:
        del shell.user_ns[name]


@pytest.fixture
def pretend_cuda(monkeypatch):
    """Make chosen CPU tensors report device cuda:0, to drive the device path without a GPU.

    ``torch.Tensor.device`` (and ``is_cpu``) is shadowed by a property that answers cuda:0 for tensors whose
    data pointer was registered; every other tensor (and every real copy) reports its real device.
    """
    real_device = torch._C.TensorBase.device.__get__
    on_gpu: set[int] = set()

    def device(self):
        if self.layout == torch.strided and self.numel() and self.data_ptr() in on_gpu:
            return torch.device("cuda:0")
        return real_device(self)

    monkeypatch.setattr(torch.Tensor, "device", property(device))
    monkeypatch.setattr(torch.Tensor, "is_cpu", property(lambda self: device(self).type == "cpu"))

    def mark(tensor):
        on_gpu.add(tensor.data_ptr())
        return tensor

    return mark


@pytest.fixture
def display(settings):
    """Fresh formatter objects with the tensor printers registered on them."""
    plain, html = PlainTextFormatter(), HTMLFormatter()
    plain.max_width = 1000  # the header on one line; the tests of fitting a width set their own
    printers = TensorFormatters(settings)
    printers.register(plain, html)
    yield plain, html
    printers.unregister()


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GraphWatch(torch.overrides.TorchFunctionMode):
    """Records every torch call that returns a tensor with a grad_fn: a node of an autograd graph."""

    def __init__(self):
        super().__init__()
        self.recorded = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        results = result if isinstance(result, (tuple, list)) else [result]
        self.recorded += [func] if any(isinstance(r, torch.Tensor) and r.grad_fn is not None for r in results) else []
        return result


def requiring_grad(make):
    """``make()``'s tensor as a leaf that requires grad (a non-leaf as it is); None for kinds that cannot."""
    tensor = make()
    if tensor.is_floating_point() or tensor.is_complex():
        try:
            return tensor.detach().requires_grad_() if tensor.grad_fn is None else tensor
        except RuntimeError:  # kinds that cannot require grad (quantized, sparse compressed...)
            return None
    return None
