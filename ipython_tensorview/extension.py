"""Loading and unloading the extension: each thing ``load`` adds, ``unload`` takes away.

Activate it for every session in ``ipython_config.py``::

    c.InteractiveShellApp.extensions = ["ipython_tensorview"]
    c.TensorView.copy = "auto"
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass

from traitlets import TraitError
from traitlets.config import Config

from . import config
from .config import TensorView
from .formatters import TensorFormatters
from .magics import NpMagics


@dataclass
class _Loaded:
    settings: TensorView
    previous_settings: TensorView | None
    magics: NpMagics
    previous_np_magic: object
    formatters: TensorFormatters


_loaded: dict[int, _Loaded] = {}


def load(shell) -> None:
    """Register the ``%np`` magic, the tensor display formatters and the ``TensorView`` configurable."""
    if id(shell) in _loaded:
        return
    settings = _settings(shell)
    shell.configurables.append(settings)
    previous_settings = config.activate(settings)
    previous_np_magic = shell.magics_manager.magics["line"].get("np")
    magics = NpMagics(shell, settings)
    shell.register_magics(magics)
    formatters = TensorFormatters(settings)
    display_formatter = shell.display_formatter
    formatters.register(display_formatter.formatters["text/plain"], display_formatter.formatters["text/html"],
                        display_formatter)
    _loaded[id(shell)] = _Loaded(settings, previous_settings, magics, previous_np_magic, formatters)


def _settings(shell) -> TensorView:
    """The shell's ``TensorView`` settings. A value its trait rejects (``%config`` keeps one in the shell's
    config even as it refuses it, and a config file may hold one) stays at its default, with one line
    saying so, rather than failing the load."""
    try:
        return TensorView(parent=shell)
    except TraitError:
        pass
    kept = copy.deepcopy(shell.config)
    for name, value in list(kept.TensorView.items()):
        try:
            TensorView(config=Config({"TensorView": {name: value}}))
        except TraitError as e:
            del kept.TensorView[name]
            reason = str(e).splitlines()[0]
            print(f"ipython_tensorview: TensorView.{name} = {value!r} ignored: {reason}", file=sys.stderr)
    return TensorView(parent=shell, config=kept)


def unload(shell) -> None:
    """Undo :func:`load`: the magic, the configurable and the active settings go back as they were."""
    loaded = _loaded.pop(id(shell), None)
    if loaded is None:
        return
    loaded.formatters.unregister()
    manager = shell.magics_manager
    if loaded.previous_np_magic is None:
        manager.magics["line"].pop("np", None)
    else:
        manager.magics["line"]["np"] = loaded.previous_np_magic
    if manager.registry.get(type(loaded.magics).__name__) is loaded.magics:
        del manager.registry[type(loaded.magics).__name__]
    shell.configurables.remove(loaded.settings)
    if loaded.magics in shell.configurables:  # Magics.__init__ appended it
        shell.configurables.remove(loaded.magics)
    config.activate(loaded.previous_settings)
