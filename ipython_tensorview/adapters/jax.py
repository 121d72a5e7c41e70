"""JAX arrays. One on a single device is a DLPack array (see :mod:`.dlpack`), immutable: ``%np`` gives a
read-only view of its host memory. One sharded over several devices is read shard by shard."""

from __future__ import annotations

from . import ArrayView, dlpack

TYPE_NAME = "jax.Array"


def claims(obj) -> bool:
    module = type(obj).__module__
    return (module.startswith("jaxlib") or module.startswith("jax.")) and hasattr(type(obj), "sharding")


def type_name(obj) -> str:
    return TYPE_NAME


def _devices(obj) -> list:
    return sorted(obj.sharding.device_set, key=lambda d: d.id)


def device_name(device) -> str:
    return f"{device.platform}:{device.id}"


def view(obj) -> ArrayView:
    devices = _devices(obj)
    if len(devices) == 1:
        t = dlpack.as_tensor(obj)
        return ArrayView(t, TYPE_NAME, tuple(obj.shape), int(obj.nbytes), device_name(devices[0]),
                         (("memory", "immutable"),))
    raise NotImplementedError("sharded JAX arrays")


def to_array(obj, *, ml_dtypes: bool = False):
    if len(_devices(obj)) == 1:
        return dlpack.to_array(obj, ml_dtypes=ml_dtypes)
    raise NotImplementedError("sharded JAX arrays")
