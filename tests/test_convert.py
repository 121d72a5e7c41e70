import ctypes
import re
import subprocess
import sys
import weakref
from unittest.mock import MagicMock

import ml_dtypes
import numpy as np
import pytest
import torch
from conftest import CUDA, GraphWatch, requiring_grad
from kinds import KINDS, ExportedArray, reference

from ipython_tensorview import Conversion, TensorConversionError, convert, to_numpy
from ipython_tensorview.convert import format_bytes, verdict

CONVERTIBLE = [k for k in KINDS if not k.error]
FAILING = [k for k in KINDS if k.error]


def _snapshot(kind, t):
    """What a conversion must leave untouched: grad state, autograd history, values."""
    return t.requires_grad, t.grad_fn, t.is_leaf, reference(kind, t).copy()


@pytest.mark.parametrize("kind", CONVERTIBLE, ids=lambda k: k.name)
def test_every_kind_converts_with_reference_values(kind):
    tensor = kind.make()
    before = _snapshot(kind, tensor)
    result = convert(tensor, settings=None)
    assert isinstance(result.array, np.ndarray)
    assert result.array.dtype == np.dtype(kind.dtype)
    assert result.steps == kind.steps
    assert result.shares_memory is kind.shares
    np.testing.assert_array_equal(result.array, reference(kind, tensor))
    after = _snapshot(kind, tensor)
    assert after[:3] == before[:3]
    np.testing.assert_array_equal(after[3], before[3])


@pytest.mark.parametrize("kind", FAILING, ids=lambda k: k.name)
def test_kinds_without_data_raise_a_clear_error(kind):
    with pytest.raises(TensorConversionError, match="^" + re.escape(kind.error)):
        convert(kind.make())


@pytest.mark.parametrize("kind", [k for k in CONVERTIBLE if k.shares], ids=lambda k: k.name)
def test_shared_results_really_share(kind):
    tensor = kind.make()
    result = convert(tensor)
    plain = tensor.detach().as_subclass(torch.Tensor)
    if any("raw bytes" in step for step in result.steps):
        plain = plain.view(torch.uint16 if plain.dtype.itemsize == 2 else torch.uint8)
    assert np.shares_memory(result.array, plain.numpy())


def what_convert_does(tensor, policy, settings) -> str:
    """convert()'s outcome in the listing's words, from the conversion itself."""
    try:
        result = convert(tensor, policy, settings=settings)
    except TensorConversionError as e:
        return f"refused: {e.short}"
    if result.shares_memory:
        return "share"
    return "copy" if result.array.size else "empty"


EXTRA_KINDS = {  # beyond the catalogue: empty tensors that still take a step
    "empty, requires grad": lambda: torch.empty(0, requires_grad=True),
    "empty bfloat16": lambda: torch.empty(0, 2, dtype=torch.bfloat16),
    "expanded": lambda: torch.zeros(1).expand(4),
}


@pytest.mark.parametrize("make", [k.make for k in KINDS] + list(EXTRA_KINDS.values()),
                         ids=[k.name for k in KINDS] + list(EXTRA_KINDS))
def test_verdict_is_what_convert_does(make, settings):
    for policy in ("never", "always", "auto"):
        tensor = make()
        assert verdict(tensor, policy, settings=settings) == what_convert_does(tensor, policy, settings)


@pytest.mark.parametrize("kind", [k for k in KINDS if requiring_grad(k.make) is not None], ids=lambda k: k.name)
def test_a_conversion_records_no_autograd_graph(kind):
    tensor = requiring_grad(kind.make)
    version, grad_fn = tensor._version, tensor.grad_fn
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t), GraphWatch() as watch:
        for policy in ("never", "always", "auto"):
            try:
                convert(tensor, policy)
            except TensorConversionError:  # the kinds without data: refused, and still nothing recorded
                pass
            verdict(tensor, policy)
    assert watch.recorded == [] and saved == []
    assert (tensor._version, tensor.grad_fn) == (version, grad_fn)


def test_in_place_write_to_tensor_shows_in_shared_array():
    t = torch.zeros(3)
    result = convert(t)
    t[1] = 5
    assert result.array[1] == 5
    assert str(result) == (
        "ndarray float32 (3,): shares memory with the tensor: in-place writes to either show in both"
    )


def test_always_gives_an_independent_copy():
    t = torch.arange(6.0).reshape(2, 3).T
    result = convert(t, copy="always")
    assert not result.shares_memory
    assert not np.shares_memory(result.array, t.numpy())
    assert result.steps == ("copy (policy 'always')",)
    t[0, 0] = 99
    assert result.array[0, 0] == 0
    assert str(result) == "ndarray float32 (3, 2): copied: copy (policy 'always')"


def test_bool_copy_is_always_and_never():
    t = torch.ones(2)
    assert not convert(t, copy=True).shares_memory
    assert convert(t, copy=False).shares_memory


def test_a_conversion_that_copies_is_not_copied_again():
    t = torch.ones(4, dtype=torch.bfloat16, requires_grad=True)
    result = convert(t, copy="always")
    assert result.steps == ("detach", "bfloat16 -> float32")
    assert not result.shares_memory


def test_auto_copies_up_to_the_threshold(settings):
    settings.copy = "auto"
    settings.auto_copy_max_bytes = 400
    small, large = torch.zeros(100), torch.zeros(101)
    assert not convert(small, settings=settings).shares_memory
    result = convert(large, settings=settings)
    assert result.shares_memory and np.shares_memory(result.array, large.numpy())
    assert str(result) == (
        "ndarray float32 (101,): shares memory with the tensor: in-place writes to either show in both "
        "(404 B is over auto_copy_max_bytes = 400 B)"
    )


def test_readonly_shared_protects_the_tensor_not_the_array(settings):
    settings.readonly_shared = True
    t = torch.zeros(3)
    result = convert(t, settings=settings)
    assert result.shares_memory and not result.array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        result.array[0] = 1
    t[0] = 7  # the tensor stays writable, and the array sees the write
    assert result.array[0] == 7
    assert str(result) == (
        "ndarray float32 (3,): shares memory with the tensor, read-only: "
        "in-place writes to the tensor show in the array"
    )
    assert convert(t, "always", settings=settings).array.flags.writeable


def test_expanded_result_is_read_only():
    base = torch.arange(3.0)
    result = convert(base.expand(2, 3))
    assert 0 in result.array.strides and not result.array.flags.writeable
    with pytest.raises(ValueError):
        result.array[0, 0] = 1
    copied = convert(base.expand(2, 3), "always").array
    assert copied.flags.writeable and 0 not in copied.strides


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2",
                                  "float8_e5m2fnuz", "float8_e8m0fnu"])
def test_ml_dtypes_option_gives_exact_zero_copy_arrays(name, settings):
    settings.ml_dtypes = True
    t = torch.tensor([0.5, 1.0, 2.0, 4.0]).to(getattr(torch, name))
    result = convert(t, settings=settings)
    assert result.array.dtype == np.dtype(getattr(ml_dtypes, name))
    assert result.shares_memory and result.steps == ()
    assert np.shares_memory(result.array, t.view(torch.uint8).numpy())
    np.testing.assert_array_equal(result.array.astype(np.float64), t.double().numpy())


def test_numpy_array_passes_through_unchanged():
    array = np.arange(3)
    result = convert(array)
    assert result.array is array and result.shares_memory and result.steps == ()
    assert str(result).startswith("ndarray int64 (3,): shares memory with the ndarray")
    assert not np.shares_memory(convert(array, "always").array, array)


def test_readonly_shared_leaves_the_users_array_writable(settings):
    settings.readonly_shared = True
    array = np.arange(3)
    assert not convert(array, settings=settings).array.flags.writeable
    assert array.flags.writeable


class _Buffer:
    def __init__(self, data, fresh):
        self.data, self.fresh = data, fresh

    def __array__(self, dtype=None, copy=None):
        return self.data.copy() if self.fresh else self.data


def test_array_likes_convert_through_numpy():
    data = np.arange(4.0)
    shared = convert(_Buffer(data, fresh=False))
    assert shared.shares_memory and np.shares_memory(shared.array, data) and shared.source == "_Buffer"
    fresh = convert(_Buffer(data, fresh=True))
    assert not fresh.shares_memory and not np.shares_memory(fresh.array, data)
    via_dlpack = convert(ExportedArray(data))
    assert via_dlpack.shares_memory and np.shares_memory(via_dlpack.array, data)


class _LegacyExport(ExportedArray):
    def __dlpack__(self, stream=None, **kwargs):  # a capsule of DLPack before 1.0: no flag says it may be written
        return self.data.__dlpack__()


def test_a_dlpack_export_that_cannot_say_its_memory_is_writable_is_read_only_for_that_reason():
    data = torch.arange(4.0)
    legacy = convert(_LegacyExport(data))
    assert legacy.shares_memory and not legacy.array.flags.writeable and data.numpy().flags.writeable
    assert legacy.reason == "NumPy imports it read-only: its __dlpack__ does not say the memory may be written"
    assert convert(ExportedArray(data)).array.flags.writeable  # DLPack 1.0: the exporter says it may be


_KEPT = np.zeros(3)


class _InDict:
    def __init__(self):
        self.store = {"a": np.zeros(3)}

    def memory(self):
        return self.store["a"]

    def __array__(self, dtype=None, copy=None):
        return self.store["a"]


class _InSlots:
    __slots__ = ("a",)

    def __init__(self):
        self.a = np.zeros(3)

    def memory(self):
        return self.a

    def __array__(self, dtype=None, copy=None):
        return self.a


class _Global:
    def memory(self):
        return _KEPT

    def __array__(self, dtype=None, copy=None):
        return _KEPT


class _ViewOfKept:
    def __init__(self):
        self.a = np.arange(6.0)

    def memory(self):
        return self.a

    def __array__(self, dtype=None, copy=None):
        return self.a[::2]


class _Ctypes:
    def __init__(self):
        self.buffer = (ctypes.c_double * 3)()

    def memory(self):
        return np.ctypeslib.as_array(self.buffer)

    def __array__(self, dtype=None, copy=None):
        return np.ctypeslib.as_array(self.buffer)


class _ByteArray:
    def __init__(self):
        self.bytes = bytearray(24)

    def memory(self):
        return np.frombuffer(self.bytes)

    def __array__(self, dtype=None, copy=None):
        return np.frombuffer(self.bytes)


class _FreshView:
    def __array__(self, dtype=None, copy=None):
        return np.arange(4.0)[1:]


class _Converted:
    def __init__(self):
        self.a = np.arange(3, dtype=np.int32)

    def memory(self):
        return self.a

    def __array__(self, dtype=None, copy=None):
        return self.a.astype(np.float64)


class _WeaklyCached:
    cache = weakref.WeakValueDictionary()

    def memory(self):
        return self.cache[id(self)]

    def __array__(self, dtype=None, copy=None):
        array = self.cache.get(id(self))
        if array is None:
            array = self.cache[id(self)] = np.zeros(4)
        return array


class _WeakRef:
    def __init__(self):
        self.ref = None

    def memory(self):
        return self.ref()

    def __array__(self, dtype=None, copy=None):
        array = self.ref() if self.ref is not None else None
        if array is None:
            array = np.zeros(4)
            self.ref = weakref.ref(array)
        return array


@pytest.mark.parametrize("kind", [_InDict, _InSlots, _Global, _ViewOfKept, _Ctypes, _ByteArray, _WeaklyCached,
                                  _WeakRef])
def test_an_array_like_whose_memory_is_kept_elsewhere_shares_it_and_is_copied_when_asked(kind):
    obj = kind()
    shared = convert(obj, copy="never")
    assert shared.shares_memory and np.shares_memory(shared.array, obj.memory())
    copied = convert(obj, copy="always")
    assert not copied.shares_memory and not np.shares_memory(copied.array, obj.memory())
    assert str(copied).endswith("copied: copy (policy 'always')")
    np.testing.assert_array_equal(copied.array, shared.array)


@pytest.mark.parametrize("kind", [_FreshView, _Converted])
def test_an_array_like_that_hands_out_fresh_memory_shares_nothing(kind):
    obj = kind()
    result = convert(obj, copy="always")
    assert not result.shares_memory and result.steps == ()  # nothing else holds it: no second copy
    if hasattr(obj, "memory"):
        assert not np.shares_memory(result.array, obj.memory())


@pytest.mark.parametrize("make", [lambda: np.arange(3.0), lambda: np.zeros((0, 2)), _InDict, _FreshView, _Ctypes,
                                  lambda: [1, 2], lambda: None, lambda: MagicMock(spec=np.ndarray)],
                         ids=["ndarray", "empty ndarray", "kept in a dict", "fresh view", "ctypes", "list", "None",
                              "mock of an ndarray"])
def test_the_verdict_on_any_other_object_is_what_convert_does(make, settings):
    for policy in ("never", "always", "auto"):
        obj = make()
        assert verdict(obj, policy, settings=settings) == what_convert_does(obj, policy, settings)


def test_an_ndarray_passes_through_and_shares_what_it_holds():
    array = np.arange(3.0)
    assert convert(array).array is array and convert(array).shares_memory
    empty = np.zeros((0, 2))
    assert not convert(empty).shares_memory and str(convert(empty)) == "ndarray float64 (0, 2): empty, no memory to share"
    with pytest.raises(TensorConversionError, match=r"^MagicMock is not a tensor or an array"):
        convert(MagicMock(spec=np.ndarray))  # claims ndarray's class, is none
    empty_tensor = convert(torch.zeros(0, requires_grad=True).to(torch.bfloat16), copy="always")
    assert str(empty_tensor) == "ndarray float32 (0,): empty, no memory to share (steps: detach, bfloat16 -> float32)"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz])
def test_a_negated_view_keeps_its_values_in_ml_dtypes(dtype, settings):
    settings.ml_dtypes = True
    base = torch.tensor([1.0, -2.0, 0.5, float("nan")]).to(dtype)
    result = convert(base._neg_view(), settings=settings)  # the negative bit, as conj().imag sets it
    assert result.array.dtype.name == str(dtype).removeprefix("torch.") and result.steps == ("resolve neg",)
    np.testing.assert_array_equal(result.array.astype(np.float32), -base.float().numpy())
    assert verdict(base._neg_view(), settings=settings) == "copy" and not result.shares_memory


@pytest.mark.parametrize("make", [torch.nn.UninitializedParameter, torch.nn.UninitializedBuffer])
def test_a_lazy_module_s_uninitialized_tensor_is_refused(make):
    with pytest.raises(TensorConversionError, match=rf"^this {make.__name__} has no data yet: a lazy module makes it "
                                                    r"on its first forward pass; run one, then convert it$"):
        convert(make())
    assert verdict(make()) == "refused: uninitialized, no data"


@pytest.mark.parametrize("make, copy", [
    (lambda: torch.tensor([1.5, -2.5], dtype=torch.bfloat16).view(2, 1).expand(2, 10**12), "never"),
    (lambda: torch.tensor([1.5, -2.5]).view(2, 1).expand(2, 10**12), "always"),
    (lambda: torch.tensor([1.5, -2.5]).view(2, 1).expand(2, 10**12), "auto"),
], ids=["bfloat16 to float32", "a copy asked for", "auto policy"])
def test_a_large_expanded_tensor_s_copy_holds_its_stored_elements_once(make, copy):
    tensor = make()
    result = convert(tensor, copy)
    assert result.array.shape == (2, 10**12) and result.array.strides == (4, 0) and not result.array.flags.writeable
    assert result.array[0, 10**12 - 1] == 1.5 and result.array[1, 12345] == -2.5
    shared = copy == "auto"  # 7.3 TiB, over auto_copy_max_bytes: left shared
    assert result.shares_memory is shared
    assert ("stored elements only (stride 0, read-only)" in result.steps) is not shared
    assert verdict(tensor, copy) == ("share" if shared else "copy")


def test_a_small_expanded_tensor_s_copy_is_an_ordinary_array():
    tensor = torch.tensor([[1.0], [2.0]], dtype=torch.bfloat16).expand(2, 3)
    for result in (convert(tensor), convert(torch.tensor([[1.0], [2.0]]).expand(2, 3), copy="always")):
        assert result.array.strides == (12, 4) and result.array.flags.writeable and not result.shares_memory
        np.testing.assert_array_equal(result.array, [[1.0] * 3, [2.0] * 3])
        assert "stored elements only (stride 0, read-only)" not in result.steps


def _freed_views():
    offset = torch.arange(1024.0)
    view = offset[512:]
    offset.untyped_storage().resize_(0)  # a view with a storage offset keeps a pointer into nothing
    shrunk = torch.arange(1024.0)
    shrunk.untyped_storage().resize_(8)  # two elements of 1024 left
    base = torch.arange(1024.0)
    expanded = base[3:4].expand(100)
    base.untyped_storage().resize_(0)
    parameter = torch.nn.Parameter(torch.ones(4))
    parameter.untyped_storage().resize_(0)  # as FSDP frees a resharded parameter
    return {"view with an offset": view, "shrunk": shrunk, "expanded": expanded, "Parameter": parameter}


@pytest.mark.parametrize("name", list(_freed_views()))
def test_a_tensor_whose_storage_was_freed_or_shrunk_is_refused(name):
    tensor = _freed_views()[name]
    for policy in ("never", "always", "auto"):
        with pytest.raises(TensorConversionError, match=r"has had its storage freed or shrunk \(as FSDP does"):
            convert(tensor, policy)
        assert verdict(tensor, policy) == "refused: storage freed"


def test_other_objects_raise_naming_their_type():
    with pytest.raises(TensorConversionError, match=r"^dict is not a tensor or an array") as info:
        convert({"a": 1})
    assert isinstance(info.value, TypeError)


def test_bad_copy_argument():
    with pytest.raises(ValueError, match=r"copy must be None, True, False, 'never', 'always' or 'auto', not 'sometimes'"):
        convert(torch.ones(1), copy="sometimes")
    with pytest.raises(TypeError, match=r"^copy must be None, a bool, 'never', 'always' or 'auto', not Tensor$"):
        convert(torch.ones(1), torch.ones(100))  # a second tensor by mistake: its type, not its repr
    with pytest.raises(TypeError, match=r"^settings must be a TensorView, not str$"):
        convert(torch.ones(1), settings="always")


def test_numpys_bools_choose_the_copy():
    t = torch.ones(3)
    assert not np.shares_memory(convert(t, copy=np.True_).array, t.numpy())
    assert np.shares_memory(convert(t, copy=np.False_).array, t.numpy())


def test_to_numpy_is_the_array_of_convert():
    t = torch.arange(3)
    assert np.shares_memory(to_numpy(t), convert(t).array)
    assert isinstance(convert(t), Conversion)


def test_no_autograd_graph_is_recorded():
    w = torch.ones(3, requires_grad=True)
    y = w * 2
    convert(y, "always")
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2, 2, 2])


def test_inside_torch_func_grad_the_values_are_converted():
    seen = {}

    def f(x):
        seen["result"] = convert(x)
        return (x**2).sum()

    x = torch.tensor([1.0, 2.0])
    grad = torch.func.grad(f)(x)
    np.testing.assert_array_equal(grad.numpy(), [2.0, 4.0])
    assert seen["result"].steps == ("unwrap torch.func.grad",)
    np.testing.assert_array_equal(seen["result"].array, [1.0, 2.0])
    assert seen["result"].shares_memory


def test_inside_vmap_a_batched_tensor_is_refused():
    def f(x):
        with pytest.raises(TensorConversionError, match="^this tensor is batched by torch.func.vmap"):
            convert(x)
        return x

    torch.func.vmap(f)(torch.ones(2, 3))


def test_device_path_moves_to_cpu_in_one_copy(pretend_cuda):
    t = pretend_cuda(torch.arange(6.0).reshape(2, 3))
    assert str(t.device) == "cuda:0"
    result = convert(t, "always")
    assert result.steps == ("cuda:0 -> cpu",)
    assert not result.shares_memory and not np.shares_memory(result.array, t.numpy())
    np.testing.assert_array_equal(result.array, t.numpy())
    assert str(result) == "ndarray float32 (2, 3): copied: cuda:0 -> cpu"
    assert verdict(t, "never") == "copy"


def test_device_path_with_grad_and_upcast(pretend_cuda):
    t = pretend_cuda(torch.tensor([1.5, -2.0], dtype=torch.bfloat16)).requires_grad_()
    result = convert(t)
    assert result.steps == ("detach", "cuda:0 -> cpu", "bfloat16 -> float32")
    np.testing.assert_array_equal(result.array, [1.5, -2.0])


def test_loading_the_package_does_not_import_torch():
    code = (
        "import sys, ipython_tensorview\n"
        "from IPython.testing.globalipapp import get_ipython\n"
        "get_ipython().run_line_magic('load_ext', 'ipython_tensorview')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1024, 64 * 2**20, 3 * 2**30)] == [
        "0 B", "1023 B", "1.0 KiB", "64.0 MiB", "3.0 GiB"]


@CUDA
@pytest.mark.parametrize("kind", CONVERTIBLE, ids=lambda k: k.name)
def test_real_cuda_tensors_convert(kind):
    try:
        tensor = kind.make().to("cuda")
    except (RuntimeError, NotImplementedError) as e:
        pytest.skip(f"torch cannot put {kind.name} on CUDA: {e}")
    result = convert(tensor)
    device = str(tensor.device)
    assert any(device in step for step in result.steps)
    assert not result.shares_memory
    np.testing.assert_array_equal(result.array, reference(kind, tensor.cpu()))


def test_a_tensor_captured_inside_torch_func_grad_gives_the_conversion_error():
    captured = torch.nn.Parameter(torch.arange(4.0))
    errors = []

    def f(x):
        try:
            convert(captured, "never")
        except TensorConversionError as e:
            errors.append(str(e))
        return (x * x).sum()

    torch.func.grad(f)(torch.arange(3.0))
    assert errors == ["Parameter could not be read: NotImplementedError: Cannot access storage of TensorWrapper"]


def test_a_dispatch_mode_that_objects_to_the_tensor_gives_a_conversion_error():
    from torch._subclasses.fake_tensor import FakeTensorMode

    t = torch.arange(3.0)
    with FakeTensorMode(), pytest.raises(TensorConversionError, match="^Tensor could not be read: AssertionError"):
        convert(t)


@pytest.mark.parametrize("make, nbytes", [
    (lambda: torch.sparse_coo_tensor(torch.zeros(1, 1, dtype=torch.long), torch.ones(1), (2**25,), check_invariants=True),
     2**27),
    (lambda: torch._efficientzerotensor(2**25), 2**27),
    (lambda: torch.ones(2**25, dtype=torch.float64).numpy(), 2**28),  # an array-like's copy
], ids=["sparse", "ZeroTensor", "ndarray"])
def test_a_copy_larger_than_the_memory_left_is_refused_before_it_begins(monkeypatch, make, nbytes):
    # where the system overcommits, the allocation would succeed and the copy be killed: nothing is allocated
    from ipython_tensorview import tensor_kinds

    monkeypatch.setattr(tensor_kinds, "available_memory", lambda: nbytes - 1)
    x = make()
    message = f"the copy needs {format_bytes(nbytes)} ({nbytes:,} bytes), more memory than can be allocated"
    with pytest.raises(MemoryError, match=f"^{re.escape(message)}"):
        convert(x, "always")
    monkeypatch.setattr(tensor_kinds, "available_memory", lambda: nbytes)
    assert convert(x, "always").array.nbytes == nbytes


def test_the_memory_left_is_read_from_the_system():
    from ipython_tensorview.tensor_kinds import available_memory

    if sys.platform.startswith("linux"):
        fields = dict(line.split(":", 1) for line in open("/proc/meminfo"))
        expected = sum(int(fields[name].split()[0]) * 1024 for name in ("MemAvailable", "SwapFree"))
        assert abs(available_memory() - expected) < 2**30  # read a moment apart
    assert 0 < available_memory()


def test_the_verdict_refuses_what_the_conversion_would(monkeypatch):
    from ipython_tensorview import tensor_kinds

    z = torch._efficientzerotensor(2**25)  # a copy of 128 MiB, whatever the policy
    monkeypatch.setattr(tensor_kinds, "available_memory", lambda: 2**27 - 1)
    assert verdict(z) == "refused: copy of 128.0 MiB, over memory"
    with pytest.raises(MemoryError):
        convert(z)
    monkeypatch.setattr(tensor_kinds, "available_memory", lambda: 2**27)
    assert verdict(z) == "copy" and convert(z).array.nbytes == 2**27


@pytest.mark.parametrize("version", [1, 2])
def test_a_control_groups_limit_caps_the_memory_left(monkeypatch, tmp_path, version):
    from ipython_tensorview import tensor_kinds

    limit, usage = tmp_path / "limit", tmp_path / "usage"
    missing = (str(tmp_path / "none"), str(tmp_path / "none"))
    files = [missing, (str(limit), str(usage))] if version == 1 else [(str(limit), str(usage)), missing]
    monkeypatch.setattr(tensor_kinds, "_CONTROL_GROUP_FILES", files)
    limit.write_text("max\n" if version == 2 else f"{2**63 - 4096}\n")
    usage.write_text(f"{2**30}\n")
    assert tensor_kinds._control_group_room() == float("inf")
    limit.write_text(f"{3 * 2**30}\n")
    assert tensor_kinds._control_group_room() == 2 * 2**30
    if sys.platform.startswith("linux"):
        assert tensor_kinds.available_memory() <= 2 * 2**30
