"""The settings of ipython_tensorview: one traitlets ``Configurable`` named ``TensorView``.

In IPython they are set with ``%config TensorView.copy = "always"`` or, for every session, in
``ipython_config.py``::

    c.TensorView.copy = "auto"
    c.TensorView.auto_copy_max_bytes = 256 * 2**20

Outside IPython, :func:`current_settings` returns a default instance that the Python API reads; assign
to its traits to change the defaults of :func:`ipython_tensorview.convert`.
"""

from __future__ import annotations

from traitlets import Bool, CaselessStrEnum, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

COPY_POLICIES = ("never", "always", "auto")


class TensorView(Configurable):
    """How tensors become NumPy arrays, and how they are displayed. Read at each use."""

    copy = CaselessStrEnum(
        COPY_POLICIES,
        default_value="never",
        help="""When a converted array may share memory with its tensor.
        "never": copy only when the conversion needs it (another device, another dtype, a sparse
        or quantized layout...), so CPU tensors convert without a copy and share memory, as
        ``t.detach().cpu().numpy()`` does. "always": the array never shares memory with the tensor.
        "auto": copy shared results up to ``auto_copy_max_bytes``; larger ones stay shared.""",
    ).tag(config=True)

    auto_copy_max_bytes = Int(
        64 * 2**20,
        min=0,
        help="""With copy = "auto": the largest array, in bytes, that is copied to keep it
        independent of the tensor. Larger results stay shared, and the annotation says so.""",
    ).tag(config=True)

    readonly_shared = Bool(
        False,
        help="""Return arrays that share memory with the tensor as read-only (writeable=False), so
        that writing to the array cannot silently change the tensor. The tensor itself is untouched.""",
    ).tag(config=True)

    ml_dtypes = Bool(
        False,
        help="""Return bfloat16 and float8 tensors with ml_dtypes' exact NumPy dtypes (zero-copy on
        the CPU) instead of upcasting them to float32.""",
    ).tag(config=True)

    formatters = Bool(
        True,
        help="""Display tensors as NumPy arrays with a header of facts and statistics. When off,
        tensors display with torch's own repr.""",
    ).tag(config=True)

    html = Bool(
        True,
        help="""Give tensors an HTML display (header table, histogram, thumbnail, values) in Jupyter,
        beside the text one.""",
    ).tag(config=True)

    stats = Bool(
        True,
        help="""Show min, max, mean, std, the NaN/Inf counts and a histogram in a tensor's display.
        They cost about one pass over the tensor's memory on its device.""",
    ).tag(config=True)

    stats_max_elements = Int(
        100_000_000,
        min=0,
        help="""Above this many elements, the statistics describe a deterministic strided sample of
        about this many elements, and are marked approximate. 0: always use every element.""",
    ).tag(config=True)

    histogram_bins = Int(
        24,
        min=1,
        max=256,
        help="""Number of bins of the histogram of finite values (text sparkline and HTML chart).""",
    ).tag(config=True)

    thumbnail = Bool(
        True,
        help="""In the HTML display, show a 2-D tensor as a heatmap and an image-shaped 3-D tensor
        (C,H,W or H,W,C with 1, 3 or 4 channels) as a picture, downsampled on the device.""",
    ).tag(config=True)

    thumbnail_size = Int(
        64,
        min=2,
        max=1024,
        help="""Largest side, in tensor elements, of the thumbnail; larger tensors are strided down.""",
    ).tag(config=True)

    array_types = List(
        Unicode(),
        help="""More array classes to display, beside torch's, JAX's and CuPy's: any whose arrays speak
        DLPack (``__dlpack__``), each named by its module and class as Python sees them, e.g.
        ``["mlx.core.array"]`` (``type(x).__module__`` and ``type(x).__name__``). Loading imports none
        of them; ``%np`` converts such arrays whether they are listed or not.""",
    ).tag(config=True)

    @validate("array_types")
    def _qualified_names(self, proposal):
        for name in proposal.value:
            module, _, cls = name.rpartition(".")
            if not (module and all(part.isidentifier() for part in (*module.split("."), cls))):
                raise TraitError(f"TensorView.array_types: {name!r} is not a module and a class name, "
                                 "like 'mlx.core.array'")
            if module == "builtins":  # list, dict, object...: containers and bases, not arrays
                raise TraitError(f"TensorView.array_types: {name!r} is a built-in class, not an array class")
        return proposal.value


def trait_value(owner, name: str):
    """A trait's value as traitlets keeps it, read from its store: through the descriptor a read costs about
    half a microsecond, and one small tensor's output asks some fifty, one ``convert`` a few (traitlets has
    no public route that is cheaper). The descriptor where nothing is stored yet: it makes the default."""
    try:
        return owner._trait_values[name]
    except (AttributeError, KeyError):
        return getattr(owner, name)


_default: TensorView | None = None
_active: TensorView | None = None


def current_settings() -> TensorView:
    """The settings in force: the loaded extension's ``TensorView``, else a process-wide default."""
    global _default
    if _active is not None:
        return _active
    if _default is None:
        _default = TensorView()
    return _default


def activate(settings: TensorView | None) -> TensorView | None:
    """Make ``settings`` the ones in force (None: back to the default); return the previous ones."""
    global _active
    previous, _active = _active, settings
    return previous
