import base64
import collections
import dataclasses
import gc
import math
import reprlib
import subprocess
import sys
import textwrap
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from conftest import CUDA, GraphWatch, html_facts, requiring_grad
from IPython.core.formatters import HTMLFormatter, PlainTextFormatter
from kinds import KINDS

from ipython_tensorview import formatters as formatters_module
from ipython_tensorview import summary as summary_module
from ipython_tensorview.formatters import TensorFormatters


class Tree(HTMLParser):
    """Tags with their attributes, and the text under each class of element."""

    def __init__(self, markup):
        super().__init__()
        self.tags, self.text, self._open = [], {}, []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in ("rect", "img"):
            self._open.append(attrs.get("class", tag))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag not in ("rect", "img"):
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)

    def find(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or a.get("class") == cls)]


def test_text_shows_header_then_numpy_values(display):
    plain, _ = display
    t = torch.arange(6.0).reshape(2, 3)
    assert plain(t) == (
        "Tensor (2, 3) float32 cpu · 24 B · min 0 max 5 mean 2.5 std 1.708 · █   █    █    █    █   █\n"
        "[[0. 1. 2.]\n [3. 4. 5.]]"
    )


def test_header_counts_non_finite_values(display):
    plain, _ = display
    t = torch.tensor([1.0, float("nan"), float("inf"), float("-inf"), float("nan"), 3.0])
    header = plain(t).splitlines()[0]
    assert header.startswith("Tensor (6,) float32 cpu · 24 B · min 1 max 3 mean 2 std 1 · "
                             "nan 2 +inf 1 -inf 1 (first at [1]) · █")


def test_values_are_what_numpy_prints_under_its_print_options(display):
    plain, _ = display
    t = torch.randn(300, 200)
    with np.printoptions(precision=3, edgeitems=2, linewidth=100):
        values = plain(t).split("\n", 1)[1]
        assert values == np.array2string(t.numpy())
    assert "..." in values
    with np.printoptions(threshold=5, edgeitems=0):  # NumPy still prints each dimension's last entry
        for t in (torch.arange(10), torch.arange(100).reshape(10, 10), torch.arange(24.0).reshape(2, 3, 4)):
            assert plain(t).split("\n", 1)[1] == np.array2string(t.numpy())


def test_grad_state_and_parameters(display):
    plain, _ = display
    leaf = torch.ones(2, requires_grad=True)
    assert plain(leaf).startswith("Tensor (2,) float32 cpu · requires_grad · 8 B")
    assert plain(leaf * 2).startswith("Tensor (2,) float32 cpu · grad_fn=MulBackward0 · 8 B")
    parameter = torch.nn.Parameter(torch.zeros(3))
    assert plain(parameter).startswith("Parameter (3,) float32 cpu · requires_grad · 12 B · min 0 max 0")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_kind_displays(display, kind):
    plain, html = display
    tensor = kind.make()
    text = plain(tensor)
    assert "could not display" not in text
    first = text.splitlines()[0]
    assert first.startswith(f"{type(tensor).__name__} ")
    assert str(tensor.dtype).removeprefix("torch.") in first
    markup = html(tensor)
    tree = Tree(markup)
    assert tree.find("div", "tensorview") and tree.find("div", "tensorview-facts") and html_facts(markup)
    if kind.error and not tensor.is_nested:  # a ragged nested tensor has no array, but shows its parts
        assert not tree.find("pre", "tensorview-values")
        assert html_facts(markup)["note"]


GRAD_TENSORS = {
    **{kind.name: kind.make for kind in KINDS if requiring_grad(kind.make) is not None},
    "non-leaf 300x300 (a strided thumbnail)": lambda: torch.randn(300, 300, requires_grad=True) * 2,
    "nested (ragged)": lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)], requires_grad=True),
    "expanded": lambda: torch.randn(1, 5, requires_grad=True).expand(4, 5),
    "expanded, past the small path": lambda: torch.randn(1, 5000, requires_grad=True).expand(4, 5000),
    "with NaN": lambda: torch.tensor([[1.0, float("nan")], [2.0, 3.0]], requires_grad=True),
}


@pytest.mark.parametrize("make", GRAD_TENSORS.values(), ids=list(GRAD_TENSORS))
def test_a_display_records_no_autograd_graph(display, make):
    plain, html = display
    tensor = make()
    if tensor.grad_fn is None and not tensor.requires_grad:
        tensor = requiring_grad(lambda: tensor)
    assert tensor.requires_grad
    version, grad_fn, saved = tensor._version, tensor.grad_fn, []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t), GraphWatch() as watch:
        text, markup = plain(tensor), html(tensor)
    assert "could not display" not in text and markup
    assert watch.recorded == [] and saved == []
    assert (tensor._version, tensor.grad_fn) == (version, grad_fn)


def test_a_tensor_inside_torch_func_grad_displays_its_values(display):
    plain, html = display
    x = torch.tensor([[1.5, -2.0], [0.25, 4.0]])
    shown = []

    def f(inner):
        shown.append((plain(inner), html(inner)))
        return (inner * 2).sum()

    torch.func.grad(f)(x)
    text, markup = shown[0]
    assert "could not display" not in text
    assert text.splitlines()[1:] == np.array2string(x.numpy()).splitlines()
    assert "min -2 max 4 mean 0.9375" in text.splitlines()[0]
    assert Tree(markup).find("img", "tensorview-thumbnail")


def test_a_sampled_histogram_is_marked_in_the_text_and_the_html(display, monkeypatch):
    from ipython_tensorview import histogram as histogram_module
    from ipython_tensorview.stats import tensor_stats

    plain, html = display
    t = torch.randn(100_000, generator=torch.Generator().manual_seed(0))
    exact_text, exact_facts = plain(t).splitlines()[0], html_facts(html(t))
    monkeypatch.setattr(histogram_module, "HISTOGRAM_EXACT_ELEMENTS", 1000)
    monkeypatch.setattr(histogram_module, "HISTOGRAM_SAMPLE_ELEMENTS", 1000)
    step = tensor_stats(t).histogram_step
    assert step > 1
    sampled_text, sampled_facts = plain(t).splitlines()[0], html_facts(html(t))
    assert "≈" not in exact_text and "histogram" not in exact_facts
    assert sampled_text.split(" · ")[-1].startswith("≈▁") and " ·  · " not in sampled_text
    suffix = "th" if step % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(step % 10, "th")
    assert sampled_facts["histogram"] == f"≈ every {step:,}{suffix} element"
    alt = Tree(html(t)).find("img", "tensorview-histogram")[0]["alt"]
    assert alt.startswith(f"histogram of finite values (a sample of ≈ every {step:,}{suffix} element), 24 bins")


def test_inside_a_container_a_tensor_without_data_says_why_in_a_few_words(ip):
    from kinds import KINDS

    for kind in (k for k in KINDS if k.error and k.name in ("storage freed", "meta", "FakeTensor")):
        text = ip.display_formatter.format([kind.make()])[0]["text/plain"]
        short = {"storage freed": "storage freed", "meta": "meta: no data", "FakeTensor": "fake, no data"}[kind.name]
        assert text.startswith("[") and text.endswith(f" · {short}]") and "\n" not in text, text


def test_kinds_without_statistics_say_what_applies(display):
    plain, _ = display
    assert "bool: 2 of 3 true (66.7%)" in plain(torch.tensor([True, False, True]))
    assert "meta: no data" in plain(torch.empty(2, device="meta"))
    assert "|z| min 5 max 5" in plain(torch.tensor([3 + 4j]))
    assert "uint4: packed bits, shown as raw bytes; no statistics" in plain(
        torch.zeros(2, dtype=torch.uint8).view(torch.uint4))


def test_a_sparse_tensor_counts_its_stored_values(display):
    plain, _ = display
    hybrid = torch.sparse_coo_tensor(torch.tensor([[1, 3]]), torch.tensor([[1.0, 2.0], [4.0, 8.0]]), (4, 2),
                                     check_invariants=True)
    assert "sparse_coo: 4 stored values (50.0% of 8); stats over stored values ·" in plain(hybrid.coalesce())
    assert "min 1 max 8" in plain(hybrid.coalesce())
    repeated = torch.sparse_coo_tensor(torch.tensor([[0, 0], [1, 1]]), torch.tensor([1.0, 2.0]), (3, 3),
                                       check_invariants=True)
    assert ("sparse_coo: 2 stored values (22.2% of 9); stats over stored values, uncoalesced: values stored at "
            "one index counted apart") in plain(repeated)
    assert "sparse_csr: 3 stored values (25.0% of 12)" in plain(torch.eye(3, 4).to_sparse_csr())


def test_html_structure(display):
    _, html = display
    t = torch.arange(12.0).reshape(3, 4)
    markup = html(t)
    tree = Tree(markup)
    assert html_facts(markup) == {"type": "Tensor", "shape": "(3, 4)", "dtype": "float32", "device": "cpu",
                                  "size": "48 B", "min": "0", "max": "11", "mean": "5.5", "std": "3.452"}
    assert "\u00a0" in markup and "<svg" not in markup and "var(" not in markup  # what a sanitizer keeps
    (histogram,) = tree.find("img", "tensorview-histogram")
    assert histogram["alt"] == histogram["title"] == "histogram of finite values, 24 bins from 0 to 11"
    svg = base64.b64decode(histogram["src"].removeprefix("data:image/svg+xml;base64,")).decode()
    assert svg.count("<rect") == 12 and 'fill="#4c78a8"' in svg  # twelve evenly spread values, 12 bins of 24
    (img,) = tree.find("img", "tensorview-thumbnail")
    picture = Tree(base64.b64decode(img["src"].removeprefix("data:image/svg+xml;base64,")).decode())
    (svg,), (image,) = picture.find("svg"), picture.find("image")
    # 3x4 samples, one pixel each, drawn 32 px a side without smoothing: 128 px wide, 96 high
    assert (img["width"], img["height"]) == (svg["width"], svg["height"]) == ("128", "96")
    assert (svg["viewbox"], image["width"], image["height"], image["image-rendering"]) == ("0 0 4 3", "4", "3",
                                                                                            "pixelated")
    png = base64.b64decode(image["href"].removeprefix("data:image/png;base64,"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[16:24] == (4).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert "".join(tree.text["tensorview-values"]) == np.array2string(t.numpy())


def test_an_elongated_thumbnail_keeps_a_visible_short_side(display):
    _, html = display
    (img,) = Tree(html(torch.randn(2, 1000))).find("img", "tensorview-thumbnail")
    assert int(img["height"]) >= 16 and int(img["width"]) >= 64


def test_html_values_use_the_wider_line_of_a_notebook(display):
    plain, html = display
    t = torch.randn(64, 48, generator=torch.Generator().manual_seed(0))
    values = "".join(Tree(html(t)).text["tensorview-values"])
    with np.printoptions(threshold=0, linewidth=120):
        assert values == np.array2string(t.numpy())
    assert values.count("\n") < plain(t).count("\n")


def test_html_escapes_text(display, monkeypatch):
    _, html = display
    from ipython_tensorview.adapters import torch as torch_adapter

    monkeypatch.setattr(torch_adapter, "note", lambda t: "<script>alert(1)</script>")
    markup = html(torch.ones(2))
    assert "<script>" not in markup and "&lt;script&gt;" in markup


def test_settings_are_read_at_display_time(display, settings):
    plain, html = display
    t = torch.arange(8.0)
    settings.histogram_bins = 4
    assert plain(t).splitlines()[0].endswith("· ████")
    settings.stats = False
    assert plain(t).splitlines()[0] == "Tensor (8,) float32 cpu · 32 B"
    settings.thumbnail = False
    assert not Tree(html(torch.ones(4, 4))).find("img")
    settings.html = False
    assert html(t) is None
    settings.formatters = False
    assert plain(t) == repr(t)


def test_thumbnail_size_setting(display, settings):
    _, html = display
    settings.thumbnail_size = 8
    (img,) = Tree(html(torch.randn(100, 30))).find("img", "tensorview-thumbnail")
    assert img["alt"] == "thumbnail, 8x3 samples"  # every 13th row and column


def test_a_failing_display_falls_back_to_torch_repr(display, monkeypatch):
    plain, html = display

    def broken(summary, *args):
        raise RuntimeError("boom")

    monkeypatch.setattr(formatters_module, "render_text", broken)
    monkeypatch.setattr(formatters_module, "render_html", lambda *a: broken(a))
    t = torch.ones(2)
    assert plain(t) == repr(t) + "\n(ipython_tensorview could not display this tensor: RuntimeError: boom)"
    assert html(t) is None


def test_an_output_keeps_no_tensor_alive(settings):
    import weakref

    from IPython.core.formatters import DisplayFormatter

    display_formatter = DisplayFormatter()
    printers = TensorFormatters(settings)
    printers.register(display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"],
                      display_formatter)
    t = torch.ones(1000)
    data, _ = display_formatter.format(t)
    assert data["text/plain"].startswith("Tensor (1000,)") and data["text/html"].startswith("<div")
    reference = weakref.ref(t)
    del t
    gc.collect()
    assert reference() is None
    printers.unregister()
    assert "format" not in vars(display_formatter)


def test_text_and_html_of_one_output_share_one_summary(settings, monkeypatch):
    from IPython.core.formatters import DisplayFormatter

    display_formatter = DisplayFormatter()
    printers = TensorFormatters(settings)
    printers.register(display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"],
                      display_formatter)
    calls = []
    real = formatters_module.summarize
    monkeypatch.setattr(formatters_module, "summarize",
                        lambda t, s, view=None: calls.append(t) or real(t, s, view=view))
    t = torch.arange(4.0)
    display_formatter.format(t)
    assert len(calls) == 1
    display_formatter.format(t)  # another output: computed afresh
    assert len(calls) == 2
    display_formatter.formatters["text/plain"](t)  # outside any output: computed afresh
    assert len(calls) == 3
    printers.unregister()


@pytest.mark.parametrize("direct", [True, False], ids=["direct output", "through IPython's dispatch"])
def test_no_warning_of_a_display_reaches_the_cell(settings, monkeypatch, direct):
    from IPython.core.formatters import DisplayFormatter

    display_formatter = DisplayFormatter()
    printers = TensorFormatters(settings)
    printers.register(display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"],
                      display_formatter)
    if not direct:  # another printer for another type: the output goes through IPython's dispatch
        display_formatter.formatters["image/png"].for_type(torch.Tensor, lambda t: None)
    real_summarize, real_thumbnail = formatters_module.summarize, formatters_module.thumbnail

    def summarize(*args, **kwargs):
        warnings.warn("from the summary", RuntimeWarning)
        return real_summarize(*args, **kwargs)

    def thumbnail(*args, **kwargs):
        warnings.warn("from the thumbnail", UserWarning)
        return real_thumbnail(*args, **kwargs)

    monkeypatch.setattr(formatters_module, "summarize", summarize)
    monkeypatch.setattr(formatters_module, "thumbnail", thumbnail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, _ = display_formatter.format(torch.ones(2, 3))
    assert caught == []
    assert data["text/plain"].startswith("Tensor (2, 3) float32") and "tensorview-thumbnail" in data["text/html"]
    printers.unregister()


def test_an_output_only_our_printers_claim_is_what_ipythons_dispatch_composes(settings):
    """The output of a tensor no other printer claims skips IPython's per-formatter dispatch; one that
    another printer claims, or asked for some formats only, or with pretty printing off, goes through it."""
    from IPython.core.formatters import BaseFormatter, DisplayFormatter

    def observers(display_formatter):
        """Each formatter's trait observers, where traitlets keeps them."""
        formatters = [display_formatter, *display_formatter.formatters.values(),
                      display_formatter.mimebundle_formatter, display_formatter.ipython_display_formatter]
        return [{name: handlers["change"][:] for name, handlers in f._trait_notifiers.items() if handlers.get("change")}
                for f in formatters]

    display_formatter = DisplayFormatter()
    observed_before = observers(display_formatter)
    plain, html = display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"]
    printers = TensorFormatters(settings)
    printers.register(plain, html, display_formatter)
    t = torch.arange(12.0).reshape(3, 4)
    ipythons = {"text/plain": plain(t), "text/html": html(t)}
    calls = []
    real_html = printers.html
    html.type_printers[torch.Tensor] = lambda obj: calls.append(obj) or real_html(obj)
    assert display_formatter.format(t) == (ipythons, {})  # the direct path declines a printer not ours
    assert len(calls) == 1
    html.type_printers[torch.Tensor] = printers.html
    bypassed = []
    original = type(html).__call__
    type(html).__call__ = lambda self, obj: bypassed.append(obj) or original(self, obj)
    try:
        assert display_formatter.format(t) == (ipythons, {})
        assert bypassed == []  # composed without IPython's dispatch
        png = display_formatter.formatters["image/png"]
        png.for_type(torch.Tensor, lambda obj: b"picture")
        assert display_formatter.format(t) == ({**ipythons, "image/png": b"picture"}, {})
        png.pop(torch.Tensor)
        assert display_formatter.format(t, include={"text/plain"}) == ({"text/plain": ipythons["text/plain"]}, {})
        plain.pprint = False
        assert display_formatter.format(t)[0]["text/plain"] == repr(t)
        plain.pprint = True
        html.singleton_printers[id(t)] = lambda obj: "<b>this one</b>"
        assert display_formatter.format(t)[0]["text/html"] == "<b>this one</b>"  # a printer for this very tensor
        html.singleton_printers.clear()
        svg = display_formatter.formatters["image/svg+xml"]
        svg.type_printers = {**svg.type_printers, torch.Tensor: lambda obj: "<svg/>"}  # a table set anew
        assert display_formatter.format(t)[0]["image/svg+xml"] == "<svg/>"
        svg.type_printers = {}
        svg.type_printers = {}  # a table equal to the one there: traitlets says nothing of it
        svg.for_type(torch.Tensor, lambda obj: "<svg/>")
        assert display_formatter.format(t)[0]["image/svg+xml"] == "<svg/>"
        svg.enabled = False
        assert display_formatter.format(t) == (ipythons, {})
        svg.enabled = True
        svg.type_printers = {}
        custom = BaseFormatter()  # a formatter added since the last output
        custom.format_type = "application/x-custom"
        custom.for_type(torch.Tensor, lambda obj: "custom")
        display_formatter.formatters["application/x-custom"] = custom
        assert display_formatter.format(t) == ({**ipythons, "application/x-custom": "custom"}, {})
        del display_formatter.formatters["application/x-custom"]
        plain.max_width = 30  # the header wraps at the new width
        assert max(map(len, display_formatter.format(t)[0]["text/plain"].splitlines())) <= 30
        plain.max_width = 79
        html.enabled = False
        assert display_formatter.format(t) == ({"text/plain": ipythons["text/plain"]}, {})
    finally:
        type(html).__call__ = original
        html.enabled = True
        printers.unregister()
    assert observers(display_formatter) == observed_before  # the direct path observes nothing of IPython's


def test_an_array_whose_attribute_lookup_raises_still_displays(settings):
    """IPython asks each formatter's special method of the object and takes any exception for "none"; so does
    the output composed without its dispatch."""
    from IPython.core.formatters import DisplayFormatter
    from kinds import ExportedArray

    class Lazy(ExportedArray):
        def __getattr__(self, name):
            raise RuntimeError(f"{name} is computed on first use, and that failed")

    display_formatter = DisplayFormatter()
    display_formatter.formatters["text/plain"].max_width = 1000
    printers = TensorFormatters(settings)
    plain, html = display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"]
    printers.register(plain, html, display_formatter)
    plain.for_type(Lazy, printers.text)  # as array_types registers a class it lists (a local one has no name)
    html.for_type(Lazy, printers.html)
    try:
        data, _ = display_formatter.format(Lazy(torch.arange(3.0)))
        assert data["text/plain"].startswith("test_formatters.Lazy (3,) float32 cpu · 12 B · min 0 max 2 mean 1 ")
        assert "tensorview-facts" in data["text/html"]
    finally:
        printers.unregister()


# Each way of writing to a tensor, or of replacing its data, that leaves its version counter alone
WRITES = {
    "through the %np array": ("t = torch.zeros(3)", "a = %np -q t\na[:] = 7", "Tensor (3,)"),
    "through t.numpy()": ("t = torch.zeros(3)", "t.numpy()[:] = 7", "Tensor (3,)"),
    "through torch.from_numpy": ("source = np.zeros(3, np.float32)\nt = torch.from_numpy(source)",
                                 "source[:] = 7", "Tensor (3,)"),
    "t.data.add_()": ("t = torch.zeros(3)", "t.data.add_(7)", "Tensor (3,)"),
    "p.data = another shape": ("t = torch.nn.Parameter(torch.zeros(3))", "t.data = torch.full((2,), 7.0)",
                               "Parameter (2,)"),
    "weight.data.mul_ under no_grad": (
        "lin = torch.nn.Linear(3, 2)\nt = lin.weight",
        "with torch.no_grad():\n    lin.weight.data.mul_(0).add_(7)",
        "Parameter (2, 3)",
    ),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_no_write_leaves_a_stale_display(ip, capsys, monkeypatch, write):
    setup, change, head = WRITES[write]
    monkeypatch.setattr(ip.display_formatter.formatters["text/html"], "enabled", True)  # as in Jupyter
    ip.run_cell("import numpy as np\nimport torch\n" + setup)
    before, _ = ip.display_formatter.format(ip.user_ns["t"])
    ip.run_cell("t", store_history=True)
    assert "max 7" not in capsys.readouterr().out
    assert ip.run_cell(change).success
    ip.run_cell("t", store_history=True)  # the displayhook's output, as a terminal shows it
    shown = capsys.readouterr().out
    data, _ = ip.display_formatter.format(ip.user_ns["t"])  # text and HTML, as Jupyter gets them
    for text in (shown, data["text/plain"]):
        assert f"{head} float32 cpu" in text and "min 7 max 7 mean 7 std 0" in text
        assert "[7. 7." in text
    assert html_facts(data["text/html"])["min"] == "7"
    assert data["text/plain"] != before["text/plain"]




def test_unregister_restores_previous_printers(settings):
    plain, html = PlainTextFormatter(), HTMLFormatter()

    def previous_by_type(obj, p, cycle):
        p.text("previous")

    def previous_html_by_name(obj):
        return "<b>previous</b>"

    plain.for_type(torch.Tensor, previous_by_type)
    html.for_type_by_name("torch", "Tensor", previous_html_by_name)
    before = (dict(plain.type_printers), dict(plain.deferred_printers), dict(html.type_printers),
              dict(html.deferred_printers))
    printers = TensorFormatters(settings)
    printers.register(plain, html)
    assert plain(torch.ones(1)).startswith("Tensor (1,)")
    assert html(torch.ones(1)).startswith('<div class="tensorview"')
    printers.unregister()
    after = (dict(plain.type_printers), dict(plain.deferred_printers), dict(html.type_printers),
             dict(html.deferred_printers))
    assert after == before
    assert plain(torch.ones(1)) == "previous"


def test_register_by_name_when_torch_is_not_imported():
    code = textwrap.dedent(
        """
        import sys
        from IPython.core.formatters import PlainTextFormatter, HTMLFormatter
        from ipython_tensorview.config import TensorView
        from ipython_tensorview.formatters import TensorFormatters
        plain, html = PlainTextFormatter(), HTMLFormatter()
        printers = TensorFormatters(TensorView())
        printers.register(plain, html)
        assert "torch" not in sys.modules
        assert ("torch", "Tensor") in plain.deferred_printers
        import torch
        assert plain(torch.ones(1)).startswith("Tensor (1,) float32")
        assert torch.Tensor in plain.type_printers  # IPython moved ours on first use
        printers.unregister()
        assert torch.Tensor not in plain.type_printers
        assert ("torch", "Tensor") not in plain.deferred_printers
        assert plain(torch.ones(1)) == "tensor([1.])"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_an_array_types_name_taken_out_leaves_a_printer_registered_by_name():
    """Loaded before torch: Parameter's printer is one of ours by its module's name; listing it again under
    another name (torch.nn.Parameter) and taking that out must leave it."""
    code = textwrap.dedent(
        """
        from IPython.core.formatters import PlainTextFormatter, HTMLFormatter
        from ipython_tensorview.config import TensorView
        from ipython_tensorview.formatters import TensorFormatters
        plain, html = PlainTextFormatter(), HTMLFormatter()
        settings = TensorView()
        printers = TensorFormatters(settings)
        printers.register(plain, html)
        import torch
        p = torch.nn.Parameter(torch.ones(2))
        assert plain(p).startswith("Parameter (2,) float32")
        settings.array_types = ["torch.nn.Parameter"]
        settings.array_types = []
        assert plain(p).startswith("Parameter (2,) float32")
        printers.unregister()
        assert plain(p).startswith("Parameter containing:")
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_in_a_shell_load_display_unload(shell, capsys):
    plain = shell.display_formatter.formatters["text/plain"]
    html = shell.display_formatter.formatters["text/html"]
    before = (dict(plain.type_printers), dict(plain.deferred_printers), dict(html.type_printers),
              dict(html.deferred_printers))
    shell.run_line_magic("load_ext", "ipython_tensorview")
    shell.run_line_magic("reload_ext", "ipython_tensorview")
    ours = [p for p in plain.type_printers.values() if getattr(p, "__self__", None).__class__ is TensorFormatters]
    # each class of TARGETS already imported (Tensor, Parameter, NestedTensor...) once; the others deferred
    imported = [(m, n) for m, n in formatters_module.TARGETS if getattr(sys.modules.get(m), n, None) is not None]
    assert len(ours) == len(imported) >= 3
    assert {key for key in formatters_module.TARGETS if key not in imported} <= set(plain.deferred_printers)
    shell.user_ns["shown"] = torch.arange(4.0)
    shell.run_cell("shown", store_history=True)
    out = capsys.readouterr().out
    assert "Tensor (4,) float32 cpu · 16 B · min 0 max 3" in out and "[0. 1. 2. 3.]" in out
    shell.run_line_magic("config", "TensorView.stats = False")
    shell.run_cell("shown", store_history=True)
    assert "Tensor (4,) float32 cpu · 16 B\n" in capsys.readouterr().out
    shell.run_line_magic("unload_ext", "ipython_tensorview")
    shell.config.TensorView.pop("stats")
    del shell.user_ns["shown"]
    after = (dict(plain.type_printers), dict(plain.deferred_printers), dict(html.type_printers),
             dict(html.deferred_printers))
    assert after == before


def _peak_rss_growth(action):
    """Peak resident memory added while ``action`` runs, in bytes (Linux: VmHWM reset via clear_refs)."""

    def status(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = status("VmRSS:")
    action()
    return status("VmHWM:") - start


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_displaying_a_large_tensor_makes_no_full_size_copy(display):
    plain, html = display
    t = torch.randn(50_000_000)  # 200 MB
    plain(torch.ones(3))  # warm up the code paths
    growth = _peak_rss_growth(lambda: (plain(t), html(t)))
    assert growth < 24 * 2**20, f"display grew peak memory by {growth / 2**20:.1f} MiB"
    bf16 = t.to(torch.bfloat16)
    growth = _peak_rss_growth(lambda: plain(bf16))
    assert growth < 24 * 2**20, f"bfloat16 display grew peak memory by {growth / 2**20:.1f} MiB"


@CUDA
def test_cuda_display_moves_only_the_part_shown(display):
    plain, html = display
    t = torch.randn(4096, 4096, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    text = plain(t)
    html(t)
    extra = torch.cuda.max_memory_allocated() - before
    assert text.startswith("Tensor (4096, 4096) float32 cuda:0 · 64.0 MiB · min ")
    assert extra < 16 * 2**20, f"stats took {extra / 2**20:.1f} MiB of GPU memory"
    assert text.split("\n", 1)[1] == np.array2string(t.cpu().numpy())


def test_displays_under_concurrent_writes_never_fall_back(display):
    import threading

    plain, html = display
    t = torch.randn(2_000_000)
    stop = threading.Event()

    def writer():
        step = 0
        while not stop.is_set():
            step += 1
            index = (step * 7919) % t.numel()
            t[index] = math.nan if step % 3 else math.inf
            t.mul_(1.0001 if step % 2 else 1 / 1.0001)
            if step % 50 == 0:
                t.copy_(torch.randn(t.numel()))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        outputs = [(plain(t), html(t)) for _ in range(40)]
    finally:
        stop.set()
        thread.join(timeout=10)
    for text, markup in outputs:
        assert "could not display" not in text and text.startswith("Tensor (2000000,) float32 cpu")
        assert markup is not None and markup.startswith('<div class="tensorview"')


HOSTILE_VALUES = {
    "all NaN 2-D": lambda: torch.full((4, 4), math.nan),
    "all NaN image": lambda: torch.full((3, 8, 8), math.nan),
    "NaN and Inf": lambda: torch.tensor([[math.nan, math.inf], [-math.inf, 1.0]]),
    "float64 near overflow": lambda: torch.tensor([1e308, 1.5e308], dtype=torch.float64),
    "float64 full range": lambda: torch.tensor([[-1.7e308, 1.7e308], [0.0, 5e-324]], dtype=torch.float64),
    "constant 1e300": lambda: torch.full((3,), 1e300, dtype=torch.float64),
    "bfloat16 extremes": lambda: torch.tensor([-3.3e38, 3.3e38], dtype=torch.bfloat16),
    "int64 extremes": lambda: torch.tensor([[-(2**63), 2**63 - 1], [0, 1]]),
    "float16 subnormals image": lambda: torch.full((1, 4, 4), 6e-8, dtype=torch.float16),
}


@pytest.mark.parametrize("make", HOSTILE_VALUES.values(), ids=list(HOSTILE_VALUES))
def test_hostile_values_display_without_warnings_or_fallback(display, make):
    import warnings

    plain, html = display
    t = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the formatters silence theirs: check the parts do not raise any
        from ipython_tensorview.summary import summarize
        from ipython_tensorview.thumbnail import thumbnail

        summary = summarize(t, formatters_module.TensorView())
        thumbnail(t, 64)
    assert summary.stats is None or math.isfinite(summary.stats.mean) or summary.stats.count == 0
    text = plain(t)
    assert "could not display" not in text
    assert "mean nan" not in text and "std nan" not in text and "inf std" not in text
    assert html(t).startswith('<div class="tensorview"')


def test_per_channel_quantized_tensors_show_their_edges(display):
    plain, _ = display
    q = torch.quantize_per_channel(torch.randn(4, 1000), torch.full((4,), 0.05), torch.zeros(4, dtype=torch.long),
                                   0, torch.qint8)
    text = plain(q)
    assert text.startswith("Tensor (4, 1000) qint8 cpu")
    assert text.split("\n", 1)[1] == np.array2string(q.dequantize().numpy())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_nan_in_every_chunk_costs_no_memory(display):
    plain, html = display
    t = torch.randn(20_000_000)
    t[:: 1 << 16] = math.nan  # one in every chunk, so that each is revisited
    plain(torch.ones(3))
    growth = _peak_rss_growth(lambda: (plain(t), html(t)))
    assert growth < 24 * 2**20, f"display grew peak memory by {growth / 2**20:.1f} MiB"
    assert f"nan {t.isnan().sum().item()}" in plain(t)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize("make", [lambda: torch.zeros(1000, 1).expand(1000, 10**9),
                                  lambda: torch.arange(3.0).expand(10**11, 3)], ids=["(1000, 1e9)", "(1e11, 3)"])
def test_an_expanded_tensor_costs_what_it_shows(display, make):
    plain, html = display
    t = make()
    plain(torch.ones(3))
    growth = _peak_rss_growth(lambda: (plain(t), html(t)))
    assert growth < 16 * 2**20, f"display grew peak memory by {growth / 2**20:.1f} MiB"
    text = plain(t)
    stored = t.untyped_storage().nbytes()
    assert f"({stored} B stored)" in text or f"({stored / 1024:.1f} KiB stored)" in text
    array = np.broadcast_to(t[tuple(0 if s == 0 else slice(None) for s in t.stride())].numpy()
                            .reshape([1 if s == 0 else n for n, s in zip(t.shape, t.stride())]), t.shape)
    assert text.split("\n", 1)[1] == np.array2string(array)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize("bit", ["conj", "neg"])
def test_a_conj_or_neg_view_costs_what_it_shows(display, bit):
    """Indexing a view with the bit would resolve it whole: 80 MB here, an expand()ed one not at all."""
    plain, html = display
    z = torch.randn(10**7, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    one = torch.tensor([1.5 - 2.5j])
    view, expanded = (z.conj(), one.conj().expand(10**10)) if bit == "conj" else (z.conj().imag, one.conj().imag
                                                                                   .expand(10**10))
    plain(view[:100_000]), html(view[:100_000])  # warm up the code paths
    growth = _peak_rss_growth(lambda: (plain(view), html(view)))
    assert growth < 16 * 2**20, f"display grew peak memory by {growth / 2**20:.1f} MiB"
    assert plain(view).split("\n", 1)[1] == np.array2string(view.resolve_conj().resolve_neg().numpy())
    values = np.broadcast_to(expanded[:1].resolve_conj().resolve_neg().numpy(), expanded.shape)
    assert plain(expanded).split("\n", 1)[1] == np.array2string(values)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
def test_values_of_a_wide_tensor_copy_only_the_edges():
    from ipython_tensorview.adapters.torch import values_text

    t = torch.randn(100, 1_000_000)  # summarising row by row would copy 7 rows: 28 MB
    values_text(torch.ones(3))
    growth = _peak_rss_growth(lambda: values_text(t))
    assert growth < 4 * 2**20, f"values text grew peak memory by {growth / 2**20:.1f} MiB"
    assert values_text(t) == np.array2string(t.numpy())


# ---- fitting the terminal: the header breaks between facts, a tensor in a container takes one line ----

def _header_lines(text: str, values: str) -> list[str]:
    assert text.endswith("\n" + values)
    return text[: -len(values) - 1].split("\n")


@pytest.mark.parametrize("width", [80, 120])
def test_the_header_breaks_between_facts_within_the_printer_width(ip, width):
    from ipython_tensorview.render_text import header
    from ipython_tensorview.summary import summarize

    plain = ip.display_formatter.formatters["text/plain"]
    plain.max_width = width
    try:
        t = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))
        t[0, 17] = math.nan
        summary = summarize(t, summary_module.TensorView())
        lines = _header_lines(plain(t), summary.values)
    finally:
        plain.max_width = 79
    assert all(len(line) <= width and line == line.rstrip() for line in lines)
    assert " · ".join(lines) == header(summary)  # every break is one of the " · " between facts
    assert len(lines) == (3 if width == 80 else 2) and "nan 1 (first at [0, 17])" in lines[-2]


@pytest.mark.parametrize("width", [80, 120])
def test_a_tensor_inside_a_container_is_one_line_indented_by_the_pretty_printer(ip, width):
    plain = ip.display_formatter.formatters["text/plain"]
    plain.max_width = width
    g = torch.Generator().manual_seed(0)
    state = {"encoder.layers.0.self_attn.in_proj_weight": torch.randn(768, 256, generator=g),
             "bias": torch.randn(3, generator=g), "mask": torch.ones(4, dtype=torch.bool)}
    state["bias"][1] = math.nan
    try:
        text = plain(state)
        listed = plain([torch.arange(3.0), (torch.zeros(2, 2), torch.ones(5))])
    finally:
        plain.max_width = 79
    lines = text.split("\n")
    assert len(lines) == 3 and all(len(line) <= width for line in lines)
    assert lines[0].startswith("{'encoder.layers.0.self_attn.in_proj_weight': Tensor (768, 256) float32 cpu")
    assert lines[1].startswith(" 'bias': Tensor (3,) float32 cpu · 12 B · ") and "nan 1" in lines[1]
    assert lines[2] == " 'mask': Tensor (4,) bool cpu · 4 B · bool: 4 of 4 true (100.0%)}"
    assert "\n[" not in text and "[[" not in text  # no values inside a container
    assert listed.startswith("[Tensor (3,) float32 cpu · 12 B · min 0 max 2")
    assert all(len(line) <= width for line in listed.split("\n"))


def test_a_one_line_header_sheds_the_sparkline_then_std_then_mean_rather_than_wrap():
    from ipython_tensorview.render_text import header, one_line
    from ipython_tensorview.summary import summarize

    t = torch.tensor([1.0, 2.0, 4.0, math.nan])
    summary = summarize(t, summary_module.TensorView())
    nan = "nan 1 (first at [3])"
    # inside a container there is no room for a sparkline: the summary for one line has no histogram
    assert summarize(t, summary_module.TensorView(), values=False).stats.histogram == ()
    full = header(summary)
    spark = "█" + " " * 7 + "█" + " " * 14 + "█"  # 1, 2 and 4 in 24 bins from 1 to 4: bins 0, 8 and 23
    assert full == f"Tensor (4,) float32 cpu · 16 B · min 1 max 4 mean 2.333 std 1.247 · {nan} · {spark}"
    assert one_line(summary, len(full)) == full
    without_spark = f"Tensor (4,) float32 cpu · 16 B · min 1 max 4 mean 2.333 std 1.247 · {nan}"
    assert one_line(summary, len(full) - 1) == without_spark
    assert one_line(summary, 79) == f"Tensor (4,) float32 cpu · 16 B · min 1 max 4 mean 2.333 · {nan}"
    assert one_line(summary, 68) == f"Tensor (4,) float32 cpu · 16 B · min 1 max 4 · {nan}"
    assert one_line(summary, 10) == f"Tensor (4,) float32 cpu · {nan}"  # what is left never goes


def test_the_html_says_which_rows_and_columns_hold_the_nans(display):
    plain, html = display
    t = torch.zeros(4, 5)
    t[1, 2] = t[1, 4] = math.nan
    t[3, 0] = math.inf
    shown = html_facts(html(t))
    assert shown["first non-finite"] == "[1, 2]"
    assert shown["non-finite along dim 0"] == "2 of 4: 1 ×2, 3 ×1"
    assert shown["non-finite along dim 1"] == "3 of 5: 0 ×1, 2 ×1, 4 ×1"
    header = plain(t).splitlines()[0]
    assert "nan 2 +inf 1 (first at [1, 2])" in header and "along" not in header


def test_a_sparse_tensor_says_where_its_nan_is_among_its_indices(display):
    plain, html = display
    dense = torch.zeros(4, 6)
    dense[1, 2], dense[3, 5], dense[0, 4] = 1.0, math.nan, 2.0
    coo = dense.to_sparse()
    assert "nan 1 (first at [3, 5])" in plain(coo)
    assert "along dim" not in html(coo)
    csr = dense.to_sparse_csr()
    assert "nan 1 ·" in plain(csr) + " ·" and "first at" not in plain(csr)


@pytest.mark.parametrize("width, make", [(84, lambda t: (t,)), (80, lambda t: [[[[[[t]]]]]]), (40, lambda t: [t, t])])
def test_a_tensor_deep_in_containers_stays_within_the_width(ip, width, make):
    plain = ip.display_formatter.formatters["text/plain"]
    plain.max_width = width
    try:
        text = plain(make(torch.randn(1000, generator=torch.Generator().manual_seed(0))))
    finally:
        plain.max_width = 79
    assert all(len(line) <= width for line in text.split("\n")), text


def test_an_expanded_tensor_with_a_nan_is_located_at_the_cost_of_its_distinct_elements(display):
    import time

    plain, _ = display
    column = torch.zeros(100_000, 1)
    column[-1] = math.nan
    started = time.perf_counter()
    header = plain(column.expand(100_000, 100_000)).splitlines()[0]
    assert time.perf_counter() - started < 5  # the logical tensor is 10**10 elements
    assert "nan 100000 (first at [99999, 0])" in header


def test_the_html_values_are_reprinted_wide_where_a_row_wrapped(display):
    _, html = display
    t = torch.tensor([345.95, 596.40, -1420.61, -697.93, -474.57], dtype=torch.float64)
    values = "".join(Tree(html(t)).text["tensorview-values"])
    assert values == np.array2string(t.numpy(), max_line_width=120) and "\n" not in values


def test_a_one_line_header_sheds_the_sample_note_with_the_statistics(ip):
    plain = ip.display_formatter.formatters["text/plain"]
    ip.run_line_magic("config", "TensorView.stats_max_elements = 1000")
    plain.max_width = 60
    try:
        text = plain([torch.randn(100_000), 1])
    finally:
        plain.max_width = 79
    assert "sample" not in text and text.startswith("[Tensor (100000,) float32 cpu")


@dataclasses.dataclass
class Batch:
    inputs: torch.Tensor
    labels: torch.Tensor
    name: str = "train"


@dataclasses.dataclass
class Plain:
    x: int


def test_a_dataclass_holding_tensors_shows_each_on_one_line_for_that_output_only(ip):
    plain = ip.display_formatter.formatters["text/plain"]
    batch = Batch(torch.zeros(32, 128), torch.arange(4))
    data, _ = ip.display_formatter.format(batch)
    # 79 columns: the first line sheds its std
    assert data["text/plain"] == ("Batch(inputs=Tensor (32, 128) float32 cpu · 16.0 KiB · min 0 max 0 mean 0,\n"
                                  "      labels=Tensor (4,) int64 cpu · 32 B · min 0 max 3 mean 1.5 std 1.118,\n"
                                  "      name='train')")
    listed, _ = ip.display_formatter.format([batch])
    assert listed["text/plain"].startswith("[Batch(inputs=Tensor (32, 128) float32 cpu")
    assert ip.display_formatter.format(Plain(3))[0]["text/plain"] == "Plain(x=3)"  # its own repr
    assert Batch not in plain.type_printers  # lent for the output, and taken back


@dataclasses.dataclass
class Outer:
    batch: Batch
    weights: torch.Tensor


Pair = collections.namedtuple("Pair", "first second")


def test_records_at_any_depth_show_each_tensor_on_one_line(ip):
    plain = ip.display_formatter.formatters["text/plain"]
    t = torch.arange(6.0).view(2, 3)
    line = "Tensor (2, 3) float32 cpu · 24 B · min 0 max 5"
    for obj, starts in [
        (Outer(Batch(t, t), t), f"Outer(batch=Batch(inputs={line}"),
        ({"k": [Batch(t, t)]}, f"{{'k': [Batch(inputs={line}"),
        (Pair(t, 1), f"Pair(first={line}"),
        (torch.sort(torch.tensor([3.0, 1.0, 2.0])), "torch.return_types.sort(values=Tensor (3,) float32 cpu"),
    ]:
        text = ip.display_formatter.format(obj)[0]["text/plain"]
        assert text.startswith(starts) and "tensor(" not in text, text
    assert ip.display_formatter.format(Pair(1, "a"))[0]["text/plain"] == "Pair(first=1, second='a')"
    assert not {Outer, Batch, Pair, torch.return_types.sort} & set(plain.type_printers)  # all taken back


@dataclasses.dataclass
class SelfHolding:
    x: torch.Tensor
    me: object = None


@dataclasses.dataclass
class DecoratedRepr:
    x: torch.Tensor

    @reprlib.recursive_repr()
    def __repr__(self):
        return "DecoratedRepr!"


@dataclasses.dataclass(repr=False)
class BatchWithMore(Batch):
    extra: torch.Tensor = None


class FailingList(list):
    def __getitem__(self, index):
        raise RuntimeError("no items today")


def test_the_record_search_finds_what_shows_and_leaves_the_rest(ip):
    plain = ip.display_formatter.formatters["text/plain"]
    t = torch.arange(6.0).view(2, 3)
    holding = SelfHolding(t)
    holding.me = holding
    assert ip.display_formatter.format(holding)[0]["text/plain"].startswith("SelfHolding(x=Tensor (2, 3) float32")
    text = ip.display_formatter.format({"result": torch.max(t, 1), "losses": list(range(2000))})[0]["text/plain"]
    assert text.startswith("{'result': torch.return_types.max(values=Tensor (2,) float32")  # found first
    assert ip.display_formatter.format(DecoratedRepr(t))[0]["text/plain"] == "DecoratedRepr!"
    inherited = ip.display_formatter.format(BatchWithMore(t, t, extra=t))[0]["text/plain"]
    assert inherited.startswith("BatchWithMore(inputs=Tensor") and "extra" not in inherited  # Batch's repr's fields
    plain.for_type(Pair, lambda obj, p, cycle: p.text("the user's Pair"))
    try:
        assert ip.display_formatter.format(Pair(t, 1))[0]["text/plain"] == "the user's Pair"
    finally:
        plain.type_printers.pop(Pair)


def test_a_record_search_that_fails_leaves_later_outputs_fresh(ip):
    t = torch.zeros(3)
    data, _ = ip.display_formatter.format({"k": FailingList([1]), "t": t})
    assert data["text/plain"].startswith("{'k': [1],")
    t += 5
    assert " min 5 max 5 " in ip.display_formatter.format(t)[0]["text/plain"]  # not the summary from before
    assert ip.display_formatter.format(Pair(torch.ones(2), 1))[0]["text/plain"].startswith("Pair(first=Tensor (2,)")


@dataclasses.dataclass(repr=False)
class OwnRepr:
    x: torch.Tensor

    def __repr__(self):
        return "OwnRepr!"


@dataclasses.dataclass
class OwnPretty:
    x: torch.Tensor

    def _repr_pretty_(self, p, cycle):
        p.text("OwnPretty!")


class SubclassRepr(torch.Tensor):
    def __repr__(self):
        return "SubclassRepr!"


def test_a_dataclass_or_tensor_subclass_with_a_repr_of_its_own_keeps_it(ip, display):
    from kinds import MarkedTensor

    _, html = display  # (MarkedTensor: a subclass without a repr of its own, displayed here)
    for obj, text in ((OwnRepr(torch.ones(2)), "OwnRepr!"), (OwnPretty(torch.ones(2)), "OwnPretty!"),
                      (torch.ones(2).as_subclass(SubclassRepr), "SubclassRepr!")):
        assert ip.display_formatter.format(obj)[0]["text/plain"] == text
    assert html(torch.ones(2).as_subclass(SubclassRepr)) is None  # no HTML of ours beside its own text
    marked = torch.ones(2).as_subclass(MarkedTensor)
    assert ip.display_formatter.format(marked)[0]["text/plain"].startswith("MarkedTensor (2,) float32")
    assert Tree(html(marked)).find("div", "tensorview")


@pytest.mark.parametrize("width", [36, 40, 50])
def test_at_narrow_widths_a_long_field_breaks_between_its_facts(width):
    from ipython_tensorview.render_text import render_text
    from ipython_tensorview.summary import summarize

    t = torch.randn(1000, 1000, generator=torch.Generator().manual_seed(0))
    t[0, 17] = math.nan
    summary = summarize(t, summary_module.TensorView())
    lines = render_text(summary, width).split("\n")[: -summary.values.count("\n") - 1]
    assert all(len(line) <= width for line in lines), lines
    facts = ["min -4.761", "max 4.658", "mean -0.00156", "std 0.9999", "nan 1", "(first at [0, 17])"]
    assert all(any(fact in line for line in lines) for fact in facts)  # none was cut


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.bool,
                                   torch.complex64], ids=str)
def test_cuda_tensors_display_as_their_cpu_copies(display, dtype):
    plain, html = display
    t = torch.randn(300, 200, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 10
    t[3, 4] = math.nan if dtype.is_floating_point or dtype.is_complex else t[3, 4]
    t = (t > 0) if dtype is torch.bool else t.to(dtype)
    on_cuda = t.cuda()[:, ::2]
    text, expected = plain(on_cuda), plain(t[:, ::2])
    assert text.split("\n", 1)[1] == expected.split("\n", 1)[1]  # the values shown
    # the header, but for the device: the mean and std may differ in the last digit shown (other summation order)
    header, expected_header = text.split("\n", 1)[0].split(" · "), expected.split("\n", 1)[0].split(" · ")
    assert header[0] == expected_header[0].replace(" cpu", " cuda:0")
    assert header[2].split()[:4] == expected_header[2].split()[:4]  # min and max
    assert header[3:] == expected_header[3:]
    assert html_facts(html(on_cuda))["device"] == "cuda:0"
