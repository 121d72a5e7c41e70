"""The quickstart in a live JupyterLab, in headless Chromium: run by the server's own kernel and shown by
its own output area, then an executed copy it did not sign (untrusted: its HTML goes through JupyterLab's
sanitizer), in the light and the dark theme.

The server runs on localhost with a random port and token, in a folder and Jupyter directories of its
own, and is stopped by its process group's id whatever happens. Screenshots go to build/screenshots/.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest
from conftest import free_port
from test_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    COLOURS_JS,
    SCREENSHOTS,
    _luminance,
    _rgb,
    contrast,
    start_chromium,
)
from test_notebooks import EXAMPLES, execute

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and shutil.which("jupyter-lab")),
    reason="needs JupyterLab (the test extra) and Debian's chromium and chromium-driver",
)

STARTUP_SECONDS = 90
# what each tensor block shows, read from the page as JupyterLab rendered it
BLOCKS_JS = """
const blocks = [...document.querySelectorAll('.jp-OutputArea-output .tensorview')];
const decoded = (img) => img !== null && img.complete && img.naturalWidth > 0;
return blocks.map((block) => ({
  facts: block.querySelectorAll('.tensorview-fact').length,
  histogram: decoded(block.querySelector('img.tensorview-histogram')),
  thumbnail: decoded(block.querySelector('img.tensorview-thumbnail')),
  text: block.innerText,
  inlineSvg: block.querySelectorAll('svg').length,
}));
"""
CURRENT = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
KERNEL_IDLE_JS = f"""
const panel = {CURRENT};
const kernel = panel && panel.sessionContext && panel.sessionContext.session
  && panel.sessionContext.session.kernel;
return !!(kernel && kernel.status === 'idle' && panel.content && panel.content.widgets.length);
"""


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise TimeoutError(f"waited {seconds:.0f} s for {what}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on localhost: (base URL, token, root folder)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copy(EXAMPLES / "quickstart.ipynb", root / "quickstart.ipynb")
    nbformat.write(execute(EXAMPLES / "quickstart.ipynb"), root / "untrusted.ipynb")  # signed by no one here
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, **{name: str(root / f".{name.lower()}") for name in
                            ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}}
    env["JUPYTERLAB_SETTINGS_DIR"] = str(root / ".settings")
    notification = root / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false"}')  # no question about news over the outputs
    log = open(root / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                return response.status == 200
        except OSError:
            return server.poll() is not None and pytest.fail((root / "server.log").read_text()[-2000:])

    try:
        _wait(up, STARTUP_SECONDS, "the JupyterLab server")
        yield url, token, root
    finally:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if server.poll() is None:
                os.killpg(server.pid, sig)
                try:
                    server.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), STARTUP_SECONDS)
    yield driver
    driver.quit()


def _open(browser, lab, name: str) -> None:
    url, token, _ = lab
    browser.get(f"{url}/lab/tree/{name}?token={token}")
    _wait(lambda: browser.execute_script(KERNEL_IDLE_JS), STARTUP_SECONDS, f"{name} and its kernel")


def _theme(browser, name: str) -> None:
    browser.execute_async_script(
        "window.jupyterapp.commands.execute('apputils:change-theme', {theme: arguments[0]}).then(arguments[1]);",
        name)
    light = "true" if "Light" in name else "false"
    _wait(lambda: browser.execute_script("return document.body.dataset.jpThemeLight") == light, 30, name)
    time.sleep(1)  # the theme's stylesheet, applied


def _check_blocks(browser, where: str) -> None:
    blocks = browser.execute_script(BLOCKS_JS)
    assert len(blocks) == 2, f"{where}: {blocks}"  # the 64x48 tensor and the image
    for block in blocks:
        assert block["facts"] >= 9 and block["histogram"] and block["thumbnail"], f"{where}: {block}"
        assert block["inlineSvg"] == 0 and "histogram of" not in block["text"], f"{where}: stray caption"
        assert "shape (64, 48)" in blocks[0]["text"].replace("\u00a0", " ")
    for theme in ("JupyterLab Light", "JupyterLab Dark"):
        _theme(browser, theme)
        colours = browser.execute_script(COLOURS_JS)
        lowest = min(contrast(colour, background, opacity) for colour, background, opacity in colours)
        assert lowest >= 4.5, f"{where}, {theme}: lowest text contrast {lowest:.2f}"
        if theme.endswith("Dark"):  # the text follows the page
            assert _luminance(_rgb(colours[0][0])) > _luminance(_rgb(colours[0][1]))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.execute_script(
            "document.querySelector('.jp-OutputArea-output .tensorview').scrollIntoView()")
        assert browser.save_screenshot(str(SCREENSHOTS / f"jupyterlab-{where}-{theme.split()[-1].lower()}.png"))
    _theme(browser, "JupyterLab Light")


def test_the_quickstart_run_in_jupyterlab_shows_every_part_of_its_tensors(lab, browser):
    _open(browser, lab, "quickstart.ipynb")
    browser.execute_async_script(
        "window.jupyterapp.commands.execute('notebook:run-all-cells').then(() => arguments[0]());")
    _wait(lambda: len(browser.execute_script(BLOCKS_JS)) == 2 and browser.execute_script(KERNEL_IDLE_JS),
          STARTUP_SECONDS, "the cells' outputs")
    _check_blocks(browser, "trusted")


def test_an_untrusted_notebook_shows_the_same_through_the_sanitizer(lab, browser):
    _open(browser, lab, "untrusted.ipynb")
    trusted = browser.execute_script(
        f"const panel = {CURRENT}; return panel.content.model.cells.get(3).trusted;")
    assert trusted is False  # its HTML goes through JupyterLab's sanitizer
    _wait(lambda: len(browser.execute_script(BLOCKS_JS)) == 2, 30, "the outputs")
    _check_blocks(browser, "untrusted")
