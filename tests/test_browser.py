"""An executed example notebook, rendered by nbconvert and opened in headless Chromium (selenium).

Screenshots are written to build/screenshots/ (not committed). The test set-up command installs
Debian's chromium and chromium-driver where they are missing; without them these tests skip.
"""

import shutil
from pathlib import Path

import pytest
from nbconvert import HTMLExporter
from test_notebooks import EXAMPLES, execute

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="headless browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)

# Each element's text colour, and the first opaque background colour found walking up from it.
COLOURS_JS = """
const opaque = (el) => {
  for (; el; el = el.parentElement) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && bg !== 'transparent' && !bg.endsWith(', 0)')) return bg;
  }
  return 'rgb(255, 255, 255)';
};
return [...document.querySelectorAll('.tensorview th, .tensorview td, .tensorview pre')]
  .map((el) => [getComputedStyle(el).color, opaque(el), parseFloat(getComputedStyle(el).opacity)]);
"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two CSS rgb()/rgba() colours."""
    light, dark = sorted((_luminance(_rgb(foreground)), _luminance(_rgb(background))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The executed quickstart as HTML pages, light and dark theme."""
    notebook = execute(EXAMPLES / "quickstart.ipynb")
    folder = tmp_path_factory.mktemp("html")
    pages = {}
    for theme in ("light", "dark"):
        body, _ = HTMLExporter(template_name="lab", theme=theme).from_notebook_node(notebook)
        pages[theme] = folder / f"quickstart-{theme}.html"
        pages[theme].write_text(body, encoding="utf-8")
    return pages


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_tensor_blocks_render_legibly(rendered, browser, theme):
    from selenium.webdriver.common.by import By

    browser.get(rendered[theme].as_uri())
    blocks = browser.find_elements(By.CSS_SELECTOR, "div.tensorview")
    assert len(blocks) == 2  # the 64x48 tensor and the image
    for block in blocks:
        assert block.is_displayed() and block.size["width"] > 0 and block.size["height"] > 0
    histograms = browser.find_elements(By.CSS_SELECTOR, "svg.tensorview-histogram")
    assert len(histograms) == 2
    for svg in histograms:
        assert svg.size["width"] > 0 and svg.size["height"] > 0
        assert svg.find_elements(By.TAG_NAME, "rect")
    thumbnails = browser.find_elements(By.CSS_SELECTOR, "img.tensorview-thumbnail")
    assert len(thumbnails) == 2
    for img in thumbnails:
        assert img.size["width"] > 0 and img.size["height"] > 0
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
    colours = browser.execute_script(COLOURS_JS)
    assert colours
    ratios = [contrast(color, background) for color, background, _ in colours]
    assert min(ratios) >= 4.5, f"{theme}: lowest text contrast {min(ratios):.2f}"
    if theme == "dark":  # the block follows the page: light text on the dark background
        assert _luminance(_rgb(colours[0][0])) > _luminance(_rgb(colours[0][1]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", blocks[0])
    assert browser.save_screenshot(str(SCREENSHOTS / f"quickstart-{theme}.png"))
