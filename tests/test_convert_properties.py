"""Property-based tests: dtype x shape x strides x flags, against torch's own values and NumPy's sharing."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ipython_tensorview import convert

NATIVE = [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint16,
          torch.uint32, torch.uint64, torch.float16, torch.float32, torch.float64, torch.complex64,
          torch.complex128]
UPCAST = [torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz,
          torch.float8_e5m2fnuz, torch.complex32]
GRADABLE = {torch.float16, torch.float32, torch.float64, torch.bfloat16, torch.complex64, torch.complex128}


@st.composite
def tensors(draw):
    """A tensor with a drawn dtype and shape, reached through a drawn chain of views, plus its flags."""
    dtype = draw(st.sampled_from(NATIVE + UPCAST))
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    base_shape = [2 * n + 1 for n in shape]  # room for a stepped slice with an offset
    values = torch.randint(-6, 7, base_shape, generator=generator, dtype=torch.int64)
    if dtype == torch.bool:
        t = values % 2 == 0
    elif dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64):
        t = values.abs().to(dtype)
    elif dtype.is_complex:
        t = torch.complex(values.double() / 2, values.flip(0).double()).to(dtype)
    else:
        t = (values.double() / 2).to(dtype)
    if draw(st.booleans()) and dtype in GRADABLE:
        t.requires_grad_()
    # the view chain: offset and step, then maybe a transpose or an expand
    slices = tuple(slice(1, None, 2) if draw(st.booleans()) else slice(0, n) for n in shape)
    t = t[slices]
    view = draw(st.sampled_from(["none", "transpose", "expand"]))
    if view == "transpose" and t.dim() >= 2:
        t = t.transpose(0, 1)
    elif view == "expand":
        t = t.unsqueeze(0).expand(3, *t.shape)
    if dtype.is_complex and dtype != torch.complex32 and draw(st.booleans()):
        t = t.conj()
    return t


def _reference(t):
    plain = t.detach()
    if plain.dtype == torch.complex32:
        return plain.to(torch.complex128).numpy()
    if plain.dtype in UPCAST:
        return plain.to(torch.float64).numpy()
    return plain.resolve_conj().numpy()


def _numpy_view_if_torch_allows(t):
    """``t.detach().numpy()`` where torch allows it (CPU, NumPy's dtypes, no conj bit), else None."""
    plain = t.detach()
    if plain.dtype in UPCAST or plain.is_conj():
        return None
    return plain.numpy()


@settings(max_examples=300, deadline=None)
@given(tensors(), st.sampled_from(["never", "always", "auto"]))
def test_values_and_sharing_match_ground_truth(t, policy):
    grad_state = (t.requires_grad, t.grad_fn)
    result = convert(t, policy)
    assert (t.requires_grad, t.grad_fn) == grad_state
    assert result.array.shape == tuple(t.shape)
    np.testing.assert_array_equal(result.array, _reference(t))
    native = _numpy_view_if_torch_allows(t)
    truth = native is not None and np.shares_memory(result.array, native)
    assert result.shares_memory == truth
    if native is not None and t.numel() and policy == "never":
        assert result.shares_memory  # zero-copy wherever torch allows it
    if policy != "never":  # default threshold is 64 MiB: every drawn tensor is below it
        assert not result.shares_memory
    if result.shares_memory and 0 in result.array.strides and result.array.size > 1:
        assert not result.array.flags.writeable
