"""One adapter per array library: each answers, for its arrays, what a display and ``%np`` ask.

:mod:`.torch` is the engine: it answers for torch tensors. Every other adapter shows its arrays as a torch
tensor over the same memory (:mod:`.dlpack`, :mod:`.jax`) or over the part this process holds
(:mod:`.dtensor`), with facts of its own, and gives ``%np`` the host array with the truth about sharing.
Adding a library is one module here, listed in ``ADAPTERS``, plus its tests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import import_module

from ..tensor_kinds import is_tensor

# in the order they are asked: the first that claims an object answers for it
ADAPTERS = ("dtensor", "jax", "dlpack")


@dataclass(frozen=True)
class ArrayView:
    """How a display sees an array of another library: a torch tensor over its data (or over the part of
    it this process holds), the array's own shape, size and names, and the library's facts as (label,
    value) pairs. Without a tensor (a sharded JAX array), the adapter's ``statistics`` and ``preview``
    read the array where it lies."""

    tensor: object
    type_name: str
    shape: tuple[int, ...]
    nbytes: int
    device: str
    facts: tuple[tuple[str, str], ...] = ()
    grad: str = ""
    note: str = ""  # what the statistics and values describe, where it is not the whole array
    dtype: str = ""  # where ``tensor`` is None (the array is read by its own library): its dtype
    whole: bool = True  # False where ``tensor`` is a part (a DTensor's shard): its indices are not the array's


_modules: list = []


def adapter_for(obj):
    """The adapter module that answers for ``obj``, or None (torch tensors and NumPy arrays have none:
    the torch engine and NumPy answer for them directly)."""
    if type(obj).__name__ in ("Tensor", "Parameter", "ndarray") and type(obj).__module__ in _PLAIN_MODULES:
        return None  # the commonest objects, answered at once
    if not _modules:
        _modules.extend(import_module(f"{__name__}.{name}") for name in ADAPTERS)
    for module in _modules:
        if module.claims(obj):
            return module
    return None


_PLAIN_MODULES = ("torch", "torch.nn.parameter", "numpy")


def displayable(obj) -> bool:
    """Whether a display shows ``obj`` as an array: a torch tensor, or an array an adapter claims."""
    return is_tensor(obj) or adapter_for(obj) is not None


def _torch():
    return sys.modules["torch"]
