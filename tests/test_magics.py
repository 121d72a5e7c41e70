import numpy as np
import pytest
import torch
from IPython.core.error import UsageError


def test_np_converts_prints_and_returns(ip, capsys):
    ip.user_ns["w"] = torch.arange(12.0).reshape(3, 4)
    array = ip.run_line_magic("np", "w")
    assert np.shares_memory(array, ip.user_ns["w"].numpy())
    assert capsys.readouterr().out == (
        "w -> ndarray float32 (3, 4): shares memory with the tensor: in-place writes to either show in both\n"
    )


def test_np_assignment_in_a_cell(ip):
    ip.run_cell("import torch\nt = torch.ones(2, 3, requires_grad=True)\nb = %np -q t")
    assert isinstance(ip.user_ns["b"], np.ndarray)
    assert np.shares_memory(ip.user_ns["b"], ip.user_ns["t"].detach().numpy())


def test_np_evaluates_attributes_and_indexing(ip, capsys):
    ip.user_ns["model"] = torch.nn.Linear(4, 3)
    array = ip.run_line_magic("np", "model.weight[0]")
    np.testing.assert_array_equal(array, ip.user_ns["model"].weight[0].detach().numpy())
    assert capsys.readouterr().out.startswith(
        "model.weight[0] -> ndarray float32 (4,): shares memory with the tensor"
    )


def test_np_spaces_in_expressions(ip):
    ip.user_ns["x"] = torch.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(ip.run_line_magic("np", "-q x[:, 1] * 2"), [2.0, 8.0])


def test_copy_and_share_flags_override_the_policy(ip, capsys):
    t = ip.user_ns["t"] = torch.zeros(3)
    ip.run_line_magic("config", "TensorView.copy = 'always'")
    copied = ip.run_line_magic("np", "t")
    shared = ip.run_line_magic("np", "-s t")
    ip.run_line_magic("config", "TensorView.copy = 'never'")
    forced = ip.run_line_magic("np", "--copy t")
    assert not np.shares_memory(copied, t.numpy())
    assert np.shares_memory(shared, t.numpy())
    assert not np.shares_memory(forced, t.numpy())
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "t -> ndarray float32 (3,): copied: copy (policy 'always')"


def test_quiet_and_output_name(ip, capsys):
    ip.user_ns["t"] = torch.arange(3)
    returned = ip.run_line_magic("np", "-q -o arr t")
    assert ip.user_ns["arr"] is returned
    assert capsys.readouterr().out == ""


def test_copied_annotation_names_the_steps(ip, capsys):
    ip.user_ns["h"] = torch.ones(2, dtype=torch.bfloat16, requires_grad=True)
    ip.run_line_magic("np", "h")
    assert capsys.readouterr().out == "h -> ndarray float32 (2,): copied: detach, bfloat16 -> float32\n"



@pytest.mark.parametrize("policy", ["never", "always"])
def test_a_tensor_the_expression_made_shares_with_nothing(ip, capsys, policy):
    """-x, x * 2, x.flip(0) make tensors that nothing else holds: the array is their memory's only holder (not
    copied, whatever the policy); a view, detach(), x itself, a graph's saved result and NumPy's memory share."""
    x = ip.user_ns["x"] = torch.arange(4.0)
    w = ip.user_ns["w"] = torch.ones(3, requires_grad=True)
    base = ip.user_ns["base"] = np.arange(3.0)
    ip.user_ns["torch"] = torch
    ip.run_line_magic("config", f"TensorView.copy = '{policy}'")
    ip.run_line_magic("config", "TensorView.readonly_shared = True")
    alone = "shares memory with nothing: a new tensor's, which only the array holds"
    for line, values in (("-x", -x), ("x.flip(0)", x.flip(0)), ("w * 2", w.detach() * 2)):
        array = ip.run_line_magic("np", line)
        np.testing.assert_array_equal(array, values.detach().numpy())
        assert array.flags.writeable and not np.shares_memory(array, x.numpy())
        assert capsys.readouterr().out.startswith(f"{line} -> ndarray float32 ({len(values)},): {alone}")
    ip.run_line_magic("config", "TensorView.copy = 'never'")
    storage = ip.user_ns["storage"] = torch.UntypedStorage(16)  # torch hands out this same Python object again
    shared = {"x": x.numpy(), "x[1:]": x.numpy(), "x.detach()": x.numpy(), "torch.from_numpy(base)": base,
              "torch.empty(0).set_(storage)": torch.empty(0).set_(storage).numpy()}
    for line, memory in shared.items():
        assert np.shares_memory(ip.run_line_magic("np", line), memory)
        assert ": shares memory with the tensor, read-only" in capsys.readouterr().out
    repeated = ip.run_line_magic("np", "torch.empty_strided((4,), (0,)).fill_(1)")  # a read-only view, saying why
    assert not repeated.flags.writeable and "(stride 0 from expand(): one element stands for many)" in (
        capsys.readouterr().out)
    saved = ip.run_line_magic("np", "torch.sigmoid(w)")  # the graph's saved result: backward reads this memory
    assert ": shares memory with the tensor, read-only" in capsys.readouterr().out and not saved.flags.writeable
    ip.user_ns["h"] = torch.ones(2, dtype=torch.bfloat16)
    ip.run_line_magic("np", "h * 2")
    assert capsys.readouterr().out == "h * 2 -> ndarray float32 (2,): copied: bfloat16 -> float32\n"

def test_config_reaches_the_api_while_loaded(ip):
    from ipython_tensorview import convert

    ip.run_line_magic("config", "TensorView.readonly_shared = True")
    assert not convert(torch.ones(2)).array.flags.writeable


@pytest.mark.parametrize(
    "line, message",
    [
        ("nope", "%np nope: NameError: name 'nope' is not defined"),
        ("t[", "%np: invalid syntax in 't[': '[' was never closed"),
        ("t[10]", "%np t[10]: IndexError: index 10 is out of bounds for dimension 0 with size 3"),
        ("[1, 2]", "%np [1, 2]: list is not a tensor or an array: it has neither __array__ nor __dlpack__"),
        ("m", "%np m: Tensor of shape (2,) and dtype float32 is on the meta device and has no data: create it"
              " on a real device (e.g. torch.empty(..., device='cpu'), or module.to_empty(device='cpu') for a "
              "module)"),
        ("r", "%np r: nested tensor with ragged component shapes [(2,), (3,)] has no single array shape: use "
              "torch.nested.to_padded_tensor(t, padding) or convert each of t.unbind()"),
        ("-c -s t", "%np: -c/--copy and -s/--share contradict each other; give one"),
        ("-o 1x t", "%np: -o needs a Python name, not '1x'"),
    ],
)
def test_bad_input_is_one_usage_error(ip, line, message):
    ip.user_ns.update(
        t=torch.ones(3),
        m=torch.empty(2, device="meta"),
        r=torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
    )
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("np", line)
    assert type(info.value) is UsageError
    assert str(info.value) == message


def test_bad_input_in_a_cell_shows_no_traceback(ip, capsys):
    result = ip.run_cell("%np undefined_name")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert "UsageError: %np undefined_name: NameError: name 'undefined_name' is not defined" in shown
    assert "Traceback" not in shown


def test_unknown_option_is_python_and_its_syntax_error_names_the_options(ip):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("np", "--bogus t")
    assert str(info.value) == (
        "%np: invalid syntax in '--bogus t': invalid syntax (options come first and are -c, -s, -q, -g, -o NAME "
        "and their long forms; -- ends them; %np --help says more)"
    )


def test_listing_the_namespace(ip, capsys):
    ip.user_ns.update(
        small=torch.zeros(2, 3),
        grad=torch.ones(4, requires_grad=True),
        half=torch.ones(8, dtype=torch.bfloat16),
        meta=torch.empty(5, device="meta"),
        _hidden=torch.ones(1),
        not_a_tensor=np.ones(3),
    )
    assert ip.run_line_magic("np", "") is None
    assert capsys.readouterr().out.splitlines() == [
        "name   shape   dtype     device  grad           size  %np",
        "small  (2, 3)  float32   cpu                    24 B  share",
        "grad   (4,)    float32   cpu     requires_grad  16 B  share",
        "half   (8,)    bfloat16  cpu                    16 B  copy",
        "meta   (5,)    float32   meta                   20 B  refused: meta, no data",
    ]


def test_listing_follows_the_policy(ip, capsys):
    ip.user_ns["small"] = torch.zeros(2)
    ip.run_line_magic("config", "TensorView.copy = 'auto'")
    ip.run_line_magic("np", "")
    assert capsys.readouterr().out.splitlines()[1].endswith("copy")


def test_listing_with_no_tensors(ip, capsys):
    ip.run_line_magic("np", "")
    assert capsys.readouterr().out == "No tensors in the namespace.\n"


def test_help_comes_from_magic_arguments(ip):
    doc = ip.find_line_magic("np").__doc__
    assert "-c, --copy" in doc and "-o NAME, --output NAME" in doc and "Convert a tensor" in doc


# ---- the expression exactly as typed ----

@pytest.mark.parametrize(
    "line, expected",
    [
        ("x[:, -1]", lambda x, ns: x[:, -1]),
        ("x.view(3, -1)", lambda x, ns: x.view(3, -1)),
        ("torch.clamp(x, -1, 1)", lambda x, ns: torch.clamp(x, -1, 1)),
        ("-x", lambda x, ns: -x),
        ("x * -x", lambda x, ns: x * -x),
        ("x[:, -c]", lambda x, ns: x[:, -1]),
        ("-- -c", lambda x, ns: -ns["c"]),
        ("d['a  b']", lambda x, ns: x[0]),
        ('d["\\""]', lambda x, ns: x[1]),
        ("torch.tensor(sorted({3, 1}))", lambda x, ns: torch.tensor([1, 3])),
        ("x[{'k': 1}['k']]", lambda x, ns: x[1]),
        ("  x[0]  ", lambda x, ns: x[0]),
        ("d['{k}']", lambda x, ns: x[1]),  # IPython's {var} expansion would make it d['a  b']
    ],
)
def test_the_expression_is_python_exactly_as_typed(ip, capsys, line, expected):
    x = torch.arange(6.0).reshape(2, 3) - 2
    ip.user_ns.update(x=x, torch=torch, c=torch.tensor(1), k="a  b", d={"a  b": x[0], '"': x[1], "{k}": x[1]})
    array = ip.run_line_magic("np", line)
    np.testing.assert_array_equal(array, expected(x, ip.user_ns).numpy())
    typed = line.strip().removeprefix("-- ")
    assert capsys.readouterr().out.startswith(f"{typed} -> ndarray ")


def test_options_only_at_the_start(ip, capsys):
    x = ip.user_ns["x"] = torch.arange(4.0)
    array = ip.run_line_magic("np", "-q -o kept -x")
    np.testing.assert_array_equal(array, -x.numpy())
    assert ip.user_ns["kept"] is array and capsys.readouterr().out == ""
    copied = ip.run_line_magic("np", "--output=other --copy x[-c:]" .replace("-c:", "1:"))
    assert ip.user_ns["other"] is copied and not np.shares_memory(copied, x.numpy())
    assert capsys.readouterr().out == "x[1:] -> ndarray float32 (3,): copied: copy (policy 'always')\n"


def test_a_cell_assignment_passes_the_line_verbatim(ip):
    ip.run_cell("import torch\nx = torch.arange(6.0).reshape(2, 3)\nlast = %np -q x[:, -1]")
    np.testing.assert_array_equal(ip.user_ns["last"], [2.0, 5.0])


@pytest.mark.parametrize(
    "line, message",
    [
        ("-o", "%np: -o needs a value"),
        ("--quiet=1 x", "%np: --quiet takes no value"),
        ("-o for x", "%np: -o needs a Python name, not 'for'"),
        ("-c", "%np: options need an expression after them, e.g. %np -c t"),
        ("-o y -o z x", "%np: -o given twice"),
        ("-h", "%np -h: NameError: name 'h' is not defined (options come first and are -c, -s, -q, -g, -o NAME "
               "and their long forms; -- ends them; %np --help says more)"),
        ("-print", "%np -print: TypeError: bad operand type for unary -: 'builtin_function_or_method' (options come "
                   "first and are -c, -s, -q, -g, -o NAME and their long forms; -- ends them; %np --help says more)"),
        ("-q -- -h", "%np -h: NameError: name 'h' is not defined"),  # "--" ended the options: no word of them
        ('"\\"', "%np: invalid syntax in '\"\\\\\"': unterminated string literal (detected at line 1)"),
    ],
)
def test_malformed_options_and_strings_are_one_line(ip, line, message):
    ip.user_ns["x"] = torch.ones(2)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("np", line)
    assert type(info.value) is UsageError and str(info.value) == message


# ---- hostile objects: one UsageError line, never a traceback ----

class RaisingArray:
    def __array__(self, dtype=None, copy=None):
        raise KeyError("boom")


class NoneArray:
    def __array__(self, dtype=None, copy=None):
        return None


class ListArray:
    def __array__(self, dtype=None, copy=None):
        return [1, 2]


class RaisingGetattr:
    def __getattr__(self, name):
        raise RuntimeError(f"no {name} here")


class RaisingTorchFunction(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError("torch function says no")


class CountingArray:
    calls = 0

    def __init__(self):
        self.data = np.arange(3.0)

    def __array__(self, dtype=None, copy=None):
        CountingArray.calls += 1
        return self.data


HOSTILE = {
    "RaisingArray()": "%np RaisingArray(): RaisingArray.__array__ failed: KeyError: 'boom'",
    "NoneArray()": "%np NoneArray(): NoneArray.__array__ failed: ValueError: object __array__ method not "
                   "producing an array",
    "ListArray()": "%np ListArray(): ListArray.__array__ failed: ValueError: object __array__ method not "
                   "producing an array",
    "RaisingGetattr()": "%np RaisingGetattr(): RaisingGetattr is not a tensor or an array: it has neither "
                        "__array__ nor __dlpack__",
    "RaisingGetattr().weight": "%np RaisingGetattr().weight: RuntimeError: no weight here",
    "1 / 0": "%np 1 / 0: ZeroDivisionError: division by zero",
    "-c torch.sparse_coo_tensor(torch.zeros(1, 1, dtype=torch.long), torch.ones(1), (10**12,))":
        "%np torch.sparse_coo_tensor(torch.zeros(1, 1, dtype=torch.long), torch.ones(1), (10**12,)): the copy needs "
        "3.6 TiB (4,000,000,000,000 bytes), more memory than can be allocated: convert a slice of it",
    **{f"torch.sparse_coo_tensor(torch.zeros(2, 1, dtype=torch.long), torch.ones(1), (10**6, 10**6)){layout}":
       "%np torch.sparse_coo_tensor(torch.zeros(2, 1, dtype=torch.long), torch.ones(1), (10**6, 10**6))"
       f"{layout}: the copy needs 3.6 TiB (4,000,000,000,000 bytes), more memory than can be allocated: convert a "
       "slice of it" for layout in ("", ".to_sparse_csr()")},
    "torch._efficientzerotensor(10**12)": "%np torch._efficientzerotensor(10**12): the copy needs 3.6 TiB "
        "(4,000,000,000,000 bytes), more memory than can be allocated: convert a slice of it",
}


@pytest.mark.filterwarnings("ignore:Sparse:UserWarning")  # torch's own, on the sparse tensors made here
@pytest.mark.parametrize("line", HOSTILE, ids=list(HOSTILE))
def test_hostile_objects_give_one_usage_error_line(ip, line):
    ip.user_ns.update(torch=torch, RaisingArray=RaisingArray, NoneArray=NoneArray, ListArray=ListArray,
                      RaisingGetattr=RaisingGetattr)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("np", line)
    assert type(info.value) is UsageError and str(info.value) == HOSTILE[line]


def test_a_subclass_whose_torch_function_raises_converts(ip, capsys):
    t = ip.user_ns["t"] = torch.arange(3.0).as_subclass(RaisingTorchFunction)
    array = ip.run_line_magic("np", "t")
    np.testing.assert_array_equal(array, [0.0, 1.0, 2.0])
    with torch._C.DisableTorchFunctionSubclass():
        assert np.shares_memory(array, t.as_subclass(torch.Tensor).numpy())
    assert capsys.readouterr().out.startswith("t -> ndarray float32 (3,): shares memory")


def test_array_is_called_once_and_its_sharing_is_seen(ip, capsys):
    CountingArray.calls = 0
    source = ip.user_ns["source"] = CountingArray()
    array = ip.run_line_magic("np", "source")
    assert CountingArray.calls == 1
    assert np.shares_memory(array, source.data)
    assert "shares memory with the CountingArray" in capsys.readouterr().out


@pytest.mark.filterwarnings("ignore:Sparse:UserWarning")  # torch's own, on the sparse tensor made here
def test_hostile_cells_show_no_traceback(ip, capsys):
    ip.user_ns.update(RaisingArray=RaisingArray, RaisingGetattr=RaisingGetattr)
    for cell in ("%np RaisingArray()", "%np RaisingGetattr().x",
                 "%np -c torch.sparse_coo_tensor(torch.zeros(1, 1, dtype=torch.long), torch.ones(1), (10**12,))"):
        result = ip.run_cell("import torch\n" + cell)
        assert type(result.error_in_exec) is UsageError
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err


# ---- the listing tells the truth ----

def test_listing_never_fails_and_says_why(ip, capsys):
    ip.user_ns.update(
        raising=torch.arange(2.0).as_subclass(RaisingTorchFunction),
        getattr_raises=RaisingGetattr(),
        wrapper=__import__("kinds").StoragelessWrapper(torch.ones(3)),
    )
    ip.run_line_magic("np", "")
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert set(rows) == {"raising", "wrapper"}
    assert rows["raising"].split()[-3:] == ["8", "B", "share"]
    assert rows["wrapper"].endswith("refused: no storage")


def test_listing_verdicts_match_what_np_does_for_every_kind(ip, capsys):
    from kinds import KINDS
    from test_convert import what_convert_does

    from ipython_tensorview import current_settings

    names = {f"kind{i}": kind for i, kind in enumerate(KINDS)}
    tensors = {name: kind.make() for name, kind in names.items()}
    ip.user_ns.update(tensors)
    ip.run_line_magic("np", "")
    lines = capsys.readouterr().out.splitlines()
    header = lines[0]
    verdicts = {line.split()[0]: line[header.index("%np"):] for line in lines[1:]}
    for name, tensor in tensors.items():
        assert verdicts[name] == what_convert_does(tensor, None, current_settings()), names[name].name


def test_listing_shows_stored_bytes_beside_the_logical_size(ip, capsys):
    ip.user_ns.update(expanded=torch.zeros(1, 3).expand(4, 3), huge=torch.zeros(1).expand(10**12))
    ip.run_line_magic("np", "")
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "48 B (12 B stored)" in rows["expanded"] and rows["expanded"].endswith("share")
    assert "3.6 TiB (4 B stored)" in rows["huge"]


def test_the_listing_says_why_a_lazy_module_s_parameter_cannot_convert(ip, capsys):
    ip.user_ns["lazy"] = torch.nn.UninitializedParameter()
    ip.run_line_magic("np", "")
    row = capsys.readouterr().out.splitlines()[1]
    assert row.split()[0] == "lazy" and row.endswith("refused: uninitialized, no data")
    ip.user_ns.pop("lazy")


def test_np_inside_a_function_sees_its_locals(ip, capsys):
    ip.run_cell("import torch\ndef f():\n    local = torch.arange(3.0)\n    array = %np -q local\n    return array\n"
                "result = f()")
    np.testing.assert_array_equal(ip.user_ns["result"], [0.0, 1.0, 2.0])


def test_np_alone_inside_a_function_lists_its_locals_too(ip, capsys):
    ip.run_cell("import torch\nshadowed = torch.ones(2)\ndef f():\n    local = torch.arange(3.0)\n"
                "    shadowed = torch.zeros(4, dtype=torch.int64)\n    %np\nf()")
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["local"][:2] == ["(3,)", "float32"] and rows["shadowed"][:2] == ["(4,)", "int64"]
    for name in ("shadowed", "f"):
        ip.user_ns.pop(name, None)


def test_help_option_prints_the_help(ip, capsys):
    assert ip.run_line_magic("np", "--help") is None
    out = capsys.readouterr().out
    assert out.startswith("%np [-c] [-s] [-q] [-o NAME] [-g] [expression ...]\n\nConvert a tensor")
    assert "-o NAME, --output NAME" in out
    ip.user_ns["h"] = torch.ones(2)  # -h is an expression, as -x is: h negated
    np.testing.assert_array_equal(ip.run_line_magic("np", "-q -h"), [-1.0, -1.0])
    np.testing.assert_array_equal(ip.run_line_magic("np", "-h"), [-1.0, -1.0])
    ip.user_ns.pop("h")


def test_output_into_a_name_of_python_s_is_refused(ip):
    ip.user_ns["x"] = torch.ones(2)
    with pytest.raises(UsageError, match=r"^%np: -o needs a name of your own, not '__builtins__': names like "
                                         r"__builtins__ are Python's$"):
        ip.run_line_magic("np", "-o __builtins__ x")
    assert "__builtins__" not in ip.user_ns or not isinstance(ip.user_ns["__builtins__"], np.ndarray)


def test_a_trailing_semicolon_is_ipythons_not_the_expressions(ip, capsys):
    result = ip.run_cell("import torch\nx = torch.ones(2)\nr = %np x;")
    assert result.success and np.shares_memory(ip.user_ns["r"], ip.user_ns["x"].numpy())
    assert capsys.readouterr().out.startswith("x -> ndarray float32 (2,): shares memory")


def test_a_mock_that_claims_to_be_a_tensor_is_no_tensor(ip, capsys):
    from unittest import mock

    ip.user_ns["m"] = mock.MagicMock(spec=torch.Tensor)
    with pytest.raises(UsageError, match="^%np m: MagicMock is not a tensor or an array"):
        ip.run_line_magic("np", "m")
    ip.run_line_magic("np", "")
    assert capsys.readouterr().out == "No tensors in the namespace.\n"
    data, _ = ip.display_formatter.format(ip.user_ns["m"])
    assert data["text/plain"].startswith("<MagicMock spec='Tensor'")


@pytest.mark.filterwarnings("ignore:Sparse:UserWarning")  # torch's own, on the sparse tensor made here
def test_a_copy_larger_than_memory_is_refused_in_the_listing_as_by_np(ip, capsys):
    ip.user_ns["huge"] = torch.sparse_coo_tensor(torch.zeros(2, 1, dtype=torch.long), torch.ones(1), (10**6, 10**6))
    ip.run_line_magic("np", "")
    row = capsys.readouterr().out.splitlines()[1]
    assert row.startswith("huge ") and row.endswith("refused: copy of 3.6 TiB, over memory")
    with pytest.raises(UsageError, match=r"^%np huge: the copy needs 3.6 TiB \(4,000,000,000,000 bytes\)"):
        ip.run_line_magic("np", "huge")


def test_a_large_expanded_tensor_converts_its_stored_elements_in_the_listing_as_by_np(ip, capsys):
    ip.user_ns["huge"] = torch.zeros(1, dtype=torch.bfloat16).expand(10**12)
    ip.run_line_magic("np", "")
    assert capsys.readouterr().out.splitlines()[1].endswith("1.8 TiB (2 B stored)  copy")
    array = ip.run_line_magic("np", "huge")
    assert capsys.readouterr().out == ("huge -> ndarray float32 (1000000000000,): copied: bfloat16 -> float32, "
                                       "stored elements only (stride 0, read-only)\n")
    assert array.strides == (0,) and array[10**12 - 1] == 0.0


def test_np_in_a_function_resolves_names_in_comprehensions_to_its_locals(ip):
    ip.run_cell("import torch\nx = torch.arange(5.0)\ndef k():\n    x = torch.tensor([-1.0])\n"
                "    r = %np -q torch.stack([x for _ in range(2)])\n    return r\nresult = k()")
    np.testing.assert_array_equal(ip.user_ns["result"], [[-1.0], [-1.0]])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_np_copies_a_cuda_tensor_and_says_so(ip, capsys):
    ip.run_cell("import torch\nt = torch.arange(12.0, device='cuda').reshape(3, 4).requires_grad_()")
    array = ip.run_line_magic("np", "t[:, -1]")
    np.testing.assert_array_equal(array, [3.0, 7.0, 11.0])
    assert capsys.readouterr().out == "t[:, -1] -> ndarray float32 (3,): copied: detach, cuda:0 -> cpu\n"
    ip.user_ns["t"].data.add_(1)  # the copy is the user's own: a write to the tensor does not reach it
    np.testing.assert_array_equal(array, [3.0, 7.0, 11.0])
    ip.run_line_magic("np", "")
    assert capsys.readouterr().out.splitlines()[1].split() == ["t", "(3,", "4)", "float32", "cuda:0", "requires_grad", "48",
                                                               "B", "copy"]
