"""ipython_tensorview: PyTorch tensors as NumPy arrays, in IPython and in plain Python.

In IPython or Jupyter::

    %load_ext ipython_tensorview
    %np t                      # t as an ndarray, with whether it shares memory with t
    %config TensorView.copy = "auto"

In Python::

    from ipython_tensorview import convert, to_numpy
    result = convert(t)        # result.array, result.shares_memory, result.steps
    print(result)              # ndarray float32 (3, 4): shares memory with the tensor: ...

Loading the extension does not import torch.
"""

from .config import TensorView, current_settings
from .convert import Conversion, TensorConversionError, convert, to_numpy, verdict

__all__ = [
    "Conversion",
    "TensorConversionError",
    "TensorView",
    "convert",
    "current_settings",
    "to_numpy",
    "verdict",
    "load_ipython_extension",
    "unload_ipython_extension",
]
__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext ipython_tensorview``: tensor display, the ``%np`` magic, the ``TensorView`` settings."""
    from .extension import load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext ipython_tensorview``: remove everything that loading added."""
    from .extension import unload

    unload(ipython)
