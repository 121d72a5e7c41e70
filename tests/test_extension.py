import numpy as np
import torch

from ipython_tensorview import config
from ipython_tensorview.config import TensorView


def _state(shell):
    return (
        shell.magics_manager.magics["line"].get("np"),
        [c for c in shell.configurables if isinstance(c, TensorView)],
        config._active,
    )


def test_load_use_unload_restores_everything(shell):
    before = _state(shell)
    assert before[0] is None and before[1] == []
    shell.run_line_magic("load_ext", "ipython_tensorview")
    magic, configurables, active = _state(shell)
    assert magic is not None and len(configurables) == 1 and active is configurables[0]
    shell.user_ns["t"] = torch.ones(2)
    assert isinstance(shell.run_line_magic("np", "-q t"), np.ndarray)
    shell.run_line_magic("unload_ext", "ipython_tensorview")
    del shell.user_ns["t"]
    assert _state(shell) == before
    assert "NpMagics" not in shell.magics_manager.registry


def test_reload_leaves_exactly_one_of_each(shell):
    shell.run_line_magic("load_ext", "ipython_tensorview")
    shell.run_line_magic("config", "TensorView.copy = 'always'")
    shell.run_line_magic("reload_ext", "ipython_tensorview")
    try:
        magic, configurables, active = _state(shell)
        assert len(configurables) == 1 and active is configurables[0]
        assert magic.__self__ is shell.magics_manager.registry["NpMagics"]
        assert magic.__self__.settings is active
        # %config values live in the shell's config, so a reloaded configurable picks them up again
        assert active.copy == "always"
    finally:
        shell.run_line_magic("unload_ext", "ipython_tensorview")
        shell.config.TensorView.pop("copy", None)


def test_a_users_own_np_magic_comes_back_after_unload(shell):

    def users_np(line):
        return "mine"

    shell.register_magic_function(users_np, "line", "np")
    try:
        shell.run_line_magic("load_ext", "ipython_tensorview")
        assert shell.find_line_magic("np") is not users_np
        shell.run_line_magic("unload_ext", "ipython_tensorview")
        assert shell.run_line_magic("np", "") == "mine"
    finally:
        shell.magics_manager.magics["line"].pop("np", None)


def test_config_file_settings_apply_at_load(shell):
    shell.config.TensorView.auto_copy_max_bytes = 1234
    try:
        shell.run_line_magic("load_ext", "ipython_tensorview")
        assert config.current_settings().auto_copy_max_bytes == 1234
    finally:
        shell.run_line_magic("unload_ext", "ipython_tensorview")
        shell.config.TensorView.pop("auto_copy_max_bytes")


def test_a_value_config_refused_leaves_its_default_at_the_next_load(shell, capsys):
    shell.run_line_magic("load_ext", "ipython_tensorview")
    try:
        shell.run_line_magic("config", "TensorView.histogram_bins = 0")  # refused, but kept in the shell's config
        shell.run_line_magic("config", "TensorView.stats = False")
        shell.run_line_magic("reload_ext", "ipython_tensorview")
        settings = config.current_settings()
        assert (settings.histogram_bins, settings.stats) == (24, False)
        assert shell.find_line_magic("np") is not None
        err = capsys.readouterr().err
        assert err.count("ipython_tensorview:") == 1
        assert "ipython_tensorview: TensorView.histogram_bins = 0 ignored: The value of the 'histogram_bins' " in err
    finally:
        shell.run_line_magic("unload_ext", "ipython_tensorview")
        shell.config.pop("TensorView", None)


def _everything(shell):
    """Every place loading may touch: magics, configurables, each formatter's printers, the format method."""
    display = shell.display_formatter
    formatters = [display.mimebundle_formatter, display.ipython_display_formatter, *display.formatters.values()]
    return (
        {kind: dict(magics) for kind, magics in shell.magics_manager.magics.items()},
        dict(shell.magics_manager.registry),
        list(shell.configurables),
        [(dict(f.type_printers), dict(f.deferred_printers)) for f in formatters],
        dict(vars(display)),
        config._active,
    )


def test_a_hundred_load_unload_cycles_leave_the_shell_as_it_was(shell):
    # IPython binds its lazily registered magics (load_ext, unload_ext) when first used: a cycle first, so
    # that the snapshot does not depend on whether an earlier test in this process used them
    shell.run_line_magic("load_ext", "ipython_tensorview")
    shell.run_line_magic("unload_ext", "ipython_tensorview")
    before = _everything(shell)
    for _ in range(100):
        shell.run_line_magic("load_ext", "ipython_tensorview")
        shell.display_formatter.format(torch.ones(2))
        shell.run_line_magic("unload_ext", "ipython_tensorview")
    assert _everything(shell) == before
