"""Arrays of any library that speaks DLPack (``__dlpack__``): CuPy, TensorFlow, an unsharded JAX array...

A display reads them through ``torch.from_dlpack``: a torch tensor over the same memory on the same
device, so the statistics run where the array lives and only the edge elements cross to the host.
``%np`` imports host memory with ``np.from_dlpack`` (no copy; read-only where the exporter says so) and
copies device memory once, through torch. Whether the array shares memory is checked against the
exporter's own buffer address.
"""

from __future__ import annotations

import numpy as np

from . import ArrayView

# DLPack device types whose memory the host reads directly: CPU, CUDA host (pinned), CUDA managed
_HOST_DEVICES = {1, 3, 13}
# why a shared array is read-only: the exporter's say, or its silence (a capsule older than DLPack 1.0)
READ_ONLY_REASON = "NumPy imports it read-only: its __dlpack__ does not say the memory may be written"


def claims(obj) -> bool:
    from ..tensor_kinds import is_tensor

    # looked up on the type: an instance's __getattr__ is user code
    return hasattr(type(obj), "__dlpack__") and not isinstance(obj, np.ndarray) and not is_tensor(obj)


def type_name(obj) -> str:
    """The library's name for the type: "cupy.ndarray", "tensorflow.EagerTensor"..."""
    cls = type(obj)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def as_tensor(obj):
    """A torch tensor over ``obj``'s memory, on its device: no copy."""
    import torch

    return torch.from_dlpack(obj)


def view(obj) -> ArrayView:
    t = as_tensor(obj)
    return ArrayView(t, type_name(obj), tuple(t.shape), t.numel() * t.element_size(), str(t.device))


def buffer_address(obj) -> int | None:
    """Where the exporter says its data starts, by the interfaces libraries give: None where none says."""
    try:
        if hasattr(obj, "unsafe_buffer_pointer"):  # JAX
            return int(obj.unsafe_buffer_pointer())
        for interface in ("__array_interface__", "__cuda_array_interface__"):  # NumPy-likes, CuPy, Numba
            if hasattr(type(obj), interface):
                return int(getattr(obj, interface)["data"][0])
    except Exception:  # a sharded or deleted array, an interface that raises: no address to compare
        return None
    return None


def on_host(obj) -> bool:
    device_type, _ = obj.__dlpack_device__()
    return int(device_type) in _HOST_DEVICES


def to_array(obj, *, ml_dtypes: bool = False) -> tuple[np.ndarray, list[str], bool]:
    """The host array, the steps taken, and whether it shares ``obj``'s memory (checked, not assumed)."""
    from ..tensor_kinds import tensor_to_array

    address = buffer_address(obj)
    if on_host(obj):
        try:
            array = np.from_dlpack(obj)
        except (BufferError, TypeError, ValueError, RuntimeError):
            array = None  # a dtype NumPy lacks (bfloat16...): through torch, which knows them
        if array is not None:
            return array, [], array.size > 0 and (address is None or _address(array) == address)
    array, steps, _ = tensor_to_array(as_tensor(obj), ml_dtypes=ml_dtypes)
    return array, steps, array.size > 0 and address is not None and _address(array) == address


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]
