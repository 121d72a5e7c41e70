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


def test_unknown_option_is_a_usage_error(ip):
    with pytest.raises(UsageError, match="unrecognized arguments: --bogus"):
        ip.run_line_magic("np", "--bogus t")


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
        "meta   (5,)    float32   meta                   20 B  no data",
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
