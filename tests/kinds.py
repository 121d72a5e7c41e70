"""Every kind of tensor the conversion engine knows, with what converting it must give.

``python tests/kinds.py`` prints the kinds table (kind -> result or error message).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

warnings.filterwarnings("ignore", category=UserWarning)


@dataclass(frozen=True)
class Kind:
    name: str
    make: callable
    dtype: str | None = None  # the array's dtype; None when conversion must fail
    steps: tuple[str, ...] = ()
    shares: bool = False
    error: str = ""  # the start of the TensorConversionError message
    reference: callable = field(default=None)  # expected values; default: exact or float64 reference
    memory: callable = field(default=None)  # another library's array: a NumPy view of its memory, for sharing
    type_name: str = ""  # another library's array: the name its display and annotation give


class MarkedTensor(torch.Tensor):
    """A plain subclass, as libraries define to tag tensors."""


class StoragelessWrapper(torch.Tensor):
    """A wrapper subclass, the kind DTensor and torchao build: metadata only, no storage of its own."""

    @staticmethod
    def __new__(cls, inner):
        return torch.Tensor._make_wrapper_subclass(cls, inner.shape, dtype=inner.dtype, device=inner.device)

    def __init__(self, inner):
        self.inner = inner

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise NotImplementedError(f"{func} is not supported")


def _values(shape=(2, 3)):
    return torch.arange(np.prod(shape), dtype=torch.float32).reshape(shape) - 2.5


def _fake():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        return torch.empty(3)


def _inference():
    with torch.inference_mode():
        return torch.ones(3)


def _freed():
    t = _values()
    t.untyped_storage().resize_(0)  # as FSDP frees a resharded parameter's memory
    return t


def _from_readonly_numpy():
    array = np.arange(4.0)
    array.flags.writeable = False
    return torch.from_numpy(array)


def _sub_byte(dtype):
    return lambda: torch.tensor([1, 2, 3], dtype=torch.uint8).view(dtype)


def _cast(dtype):
    return lambda: _values().to(dtype)


_F8 = ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz"]
_NATIVE_INTS = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]

KINDS = [
    *[Kind(d, _cast(getattr(torch, d)), d, shares=True) for d in ("float16", "float32", "float64")],
    Kind("bfloat16", _cast(torch.bfloat16), "float32", ("bfloat16 -> float32",)),
    *[Kind(d, _cast(getattr(torch, d)), "float32", (f"{d} -> float32",)) for d in _F8],
    Kind("float8_e8m0fnu", lambda: _values().abs().add(1).to(torch.float8_e8m0fnu), "float32",
         ("float8_e8m0fnu -> float32",)),
    Kind("complex32", lambda: torch.tensor([1 + 2j, -3j]).to(torch.complex32), "complex64",
         ("complex32 -> complex64",)),
    *[Kind(d, _cast(getattr(torch, d)), d, shares=True) for d in ("complex64", "complex128")],
    *[Kind(d, lambda d=d: torch.tensor([0, 1, 7, 100]).to(getattr(torch, d)), d, shares=True)
      for d in _NATIVE_INTS],
    Kind("0-dim", lambda: torch.tensor(3.5), "float32", shares=True),
    Kind("zero-size", lambda: torch.empty(0, 3), "float32", shares=False),
    Kind("transposed", lambda: _values().T, "float32", shares=True),
    Kind("stepped slice", lambda: _values((6, 3))[::2], "float32", shares=True),
    Kind("storage offset", lambda: _values((3, 3))[1:], "float32", shares=True),
    Kind("expand (stride 0)", lambda: _values((1, 3)).expand(4, 3), "float32", shares=True),
    Kind("requires_grad leaf", lambda: _values().requires_grad_(), "float32", ("detach",), True),
    Kind("nn.Parameter", lambda: torch.nn.Parameter(_values()), "float32", ("detach",), True),
    Kind("non-leaf (grad_fn)", lambda: _values().requires_grad_() * 2, "float32", ("detach",), True),
    Kind("inference mode", _inference, "float32", shares=True),
    Kind("conj view", lambda: torch.tensor([1 + 2j, 3 - 1j]).conj(), "complex64", ("resolve conj",)),
    Kind("neg view", lambda: torch.tensor([1 + 2j, 3 - 1j]).conj().imag, "float32", ("resolve neg",)),
    Kind("sparse COO", lambda: _values().to_sparse(), "float32", ("sparse_coo -> dense",)),
    Kind("sparse CSR", lambda: _values().to_sparse_csr(), "float32", ("sparse_csr -> dense",)),
    Kind("sparse CSC", lambda: _values().to_sparse_csc(), "float32", ("sparse_csc -> dense",)),
    Kind("sparse BSR", lambda: _values((4, 4)).to_sparse_bsr((2, 2)), "float32", ("sparse_bsr -> dense",)),
    Kind("sparse BSC", lambda: _values((4, 4)).to_sparse_bsc((2, 2)), "float32", ("sparse_bsc -> dense",)),
    Kind("quantized qint8", lambda: torch.quantize_per_tensor(_values(), 0.5, 0, torch.qint8), "float32",
         ("qint8 -> dequantized float32",)),
    Kind("quantized quint8 per channel",
         lambda: torch.quantize_per_channel(_values() + 3, torch.tensor([0.5, 1.0]), torch.tensor([0, 1]), 0,
                                            torch.quint8),
         "float32", ("quint8 -> dequantized float32",)),
    Kind("nested (regular)", lambda: torch.nested.nested_tensor([_values(), _values() + 1]), "float32",
         ("nested -> stacked (2, 2, 3)",), reference=lambda t: np.stack([x.numpy() for x in t.unbind()])),
    Kind("nested jagged (regular)",
         lambda: torch.nested.nested_tensor([_values(), _values() + 1], layout=torch.jagged), "float32",
         ("nested -> stacked (2, 2, 3)",), reference=lambda t: np.stack([x.numpy() for x in t.unbind()])),
    Kind("nested (ragged)", lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
         error="nested tensor with ragged component shapes [(2,), (3,)] has no single array shape: "
               "use torch.nested.to_padded_tensor(t, padding) or convert each of t.unbind()"),
    Kind("meta", lambda: torch.empty(2, 3, device="meta"),
         error="Tensor of shape (2, 3) and dtype float32 is on the meta device and has no data"),
    Kind("tensor subclass", lambda: _values().as_subclass(MarkedTensor), "float32", ("MarkedTensor -> Tensor",),
         True),
    Kind("from_numpy", lambda: torch.from_numpy(np.arange(4.0)), "float64", shares=True),
    Kind("from read-only numpy", _from_readonly_numpy, "float64", shares=True),
    Kind("ZeroTensor", lambda: torch._efficientzerotensor(2, 3), "float32", ("ZeroTensor -> zeros",),
         reference=lambda t: np.zeros((2, 3), np.float32)),
    Kind("FakeTensor", _fake, error="FakeTensor of shape (3,) and dtype float32 holds no data: it only records shape and dtype"),
    Kind("storage freed", _freed,
         error="Tensor of shape (2, 3) and dtype float32 has had its storage freed or shrunk (as FSDP does to a "
               "resharded parameter, or untyped_storage().resize_()): its elements are not in memory; gather or "
               "reload it, then convert it"),
    Kind("wrapper subclass without storage", lambda: StoragelessWrapper(torch.ones(3)),
         error="StoragelessWrapper of shape (3,) and dtype float32 has no storage (a wrapper subclass)"),
    *[Kind(d, _sub_byte(getattr(torch, d)), "uint8", (f"{d} -> raw bytes (uint8)",), True,
           reference=lambda t: np.array([1, 2, 3], np.uint8))
      for d in ["uint1", "uint2", "uint3", "uint4", "uint5", "uint6", "uint7", "int1", "int2", "int3", "int4",
                "int5", "int6", "int7", "bits8", "bits1x8", "bits2x4", "bits4x2", "float4_e2m1fn_x2"]],
    Kind("bits16", lambda: torch.tensor([1, 2], dtype=torch.int16).view(torch.bits16), "uint16",
         ("bits16 -> raw bytes (uint16)",), True, reference=lambda t: np.array([1, 2], np.uint16)),
]



class ExportedArray:
    """An array of a library that speaks DLPack alone (as CuPy does), over a tensor's memory."""

    def __init__(self, data):
        self.data = data

    def __dlpack__(self, **kwargs):
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()


def mesh_of_one():
    """A device mesh of this process alone (gloo on localhost); the process group is made once."""
    import torch.distributed as dist
    from conftest import free_port
    from torch.distributed.device_mesh import init_device_mesh

    if not dist.is_initialized():
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    return init_device_mesh("cpu", (1,))


def _dtensor(placement: str):
    def make():
        from torch.distributed.tensor import Replicate, Shard, distribute_tensor

        return distribute_tensor(_values(), mesh_of_one(), [Shard(0) if placement == "Shard(0)" else Replicate()])
    return make


def _jax(dtype: str):
    def make():
        import jax.numpy as jnp

        return jnp.asarray(_values().numpy()).astype(dtype)
    return make


def _jax_memory(x):
    return np.asarray(x)  # JAX's CPU arrays: a view of the buffer itself


# other libraries' arrays, read through their adapters (the sharded JAX array needs several devices,
# which JAX fixes when it starts: tests/test_adapters.py covers it in a process of its own)
OTHER_ARRAYS = [
    *[Kind(f"DTensor {p}, mesh of one", _dtensor(p), "float32", shares=True, type_name="DTensor",
           reference=lambda w: _values().numpy(), memory=lambda w: w.to_local().numpy())
      for p in ("Shard(0)", "Replicate()")],
    Kind("JAX array float32 (CPU)", _jax("float32"), "float32", shares=True, type_name="jax.Array",
         reference=lambda x: _values().numpy(), memory=_jax_memory),
    Kind("JAX array int32 (CPU)", _jax("int32"), "int32", shares=True, type_name="jax.Array",
         reference=lambda x: _values().numpy().astype(np.int32), memory=_jax_memory),
    Kind("JAX array bfloat16 (CPU)", _jax("bfloat16"), "float32", ("bfloat16 -> float32",), type_name="jax.Array",
         reference=lambda x: _values().numpy(), memory=_jax_memory),
    Kind("DLPack array (host memory)", lambda: ExportedArray(_values()), "float32", shares=True,
         type_name="kinds.ExportedArray", reference=lambda a: _values().numpy(), memory=lambda a: a.data.numpy()),
]


def reference(kind: Kind, tensor: torch.Tensor) -> np.ndarray:
    """The values the array must hold: exact for NumPy's dtypes, float64/complex128 for upcasts."""
    if kind.reference is not None:
        return kind.reference(tensor)
    t = tensor.detach()
    if type(t) is not torch.Tensor:
        t = t.as_subclass(torch.Tensor)
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.is_quantized:
        t = t.dequantize()
    t = t.resolve_conj().resolve_neg()
    if t.dtype == torch.complex32:
        return t.to(torch.complex128).numpy()
    if t.dtype == torch.bfloat16 or "float8" in str(t.dtype):
        return t.to(torch.float64).numpy()
    return t.numpy()


def table() -> str:
    from ipython_tensorview import TensorConversionError, convert

    lines = ["| kind | result |", "| --- | --- |"]
    for kind in KINDS + OTHER_ARRAYS:
        try:
            result = str(convert(kind.make()))
        except TensorConversionError as e:
            result = f"TensorConversionError: {e}"
        lines.append(f"| {kind.name} | {result} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
