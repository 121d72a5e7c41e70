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
const opacity = (el) => {
  let product = 1;
  for (; el; el = el.parentElement) product *= parseFloat(getComputedStyle(el).opacity);
  return product;
};
return [...document.querySelectorAll('.tensorview-label, .tensorview-fact, .tensorview pre')]
  .map((el) => [getComputedStyle(el).color, opaque(el), opacity(el)]);
"""
# For each thumbnail: the share of its pixels, drawn at its displayed size, that differ from the first pixel
# of their sample's block (0 where every sample is a crisp block of one colour, as no smoothing leaves it).
BLURRED_JS = """
return [...document.querySelectorAll('img.tensorview-thumbnail')].map((img) => {
  const [rows, columns] = img.alt.match(/(\\d+)x(\\d+)/).slice(1).map(Number);
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0, img.width, img.height);
  const pixels = context.getImageData(0, 0, img.width, img.height).data;
  const down = img.height / rows, across = img.width / columns;
  let differing = 0;
  for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) {
    const first = (Math.floor(y / down) * down * img.width + Math.floor(x / across) * across) * 4;
    const here = (y * img.width + x) * 4;
    if ([0, 1, 2, 3].some((c) => Math.abs(pixels[here + c] - pixels[first + c]) > 2)) differing++;
  }
  return differing / (img.width * img.height);
});
"""
# Each fact's height in lines: 1 where it did not wrap.
FACT_LINES_JS = """
return [...document.querySelectorAll('.tensorview-fact')].map((el) => el.getClientRects().length
  * Math.round(el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)));
"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def _luminance(rgb) -> float:
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: str, background: str, opacity: float = 1.0) -> float:
    """WCAG 2 contrast ratio of two CSS rgb()/rgba() colours, the foreground drawn at ``opacity``."""
    fore, back = _rgb(foreground), _rgb(background)
    seen = tuple(opacity * f + (1 - opacity) * b for f, b in zip(fore, back))
    light, dark = sorted((_luminance(seen), _luminance(back)), reverse=True)
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


def start_chromium(profile, seconds: float = 60):
    """Headless Chromium driven by selenium, with a profile folder of its own and nothing fetched in the
    background; pages and scripts time out after ``seconds``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1600",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(seconds)
    driver.set_script_timeout(seconds)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
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
    for kind in ("histogram", "thumbnail"):  # images, decoded: no inline SVG for a sanitizer to strip
        images = browser.find_elements(By.CSS_SELECTOR, f"img.tensorview-{kind}")
        assert len(images) == 2
        for img in images:
            assert img.size["width"] > 0 and img.size["height"] > 0
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
    assert browser.execute_script(BLURRED_JS) == [0, 0]  # each sample a crisp block: drawn without smoothing
    colours = browser.execute_script(COLOURS_JS)
    assert colours
    ratios = [contrast(color, background, opacity) for color, background, opacity in colours]
    assert min(ratios) >= 4.5, f"{theme}: lowest text contrast {min(ratios):.2f}"
    if theme == "dark":  # the block follows the page: light text on the dark background
        assert _luminance(_rgb(colours[0][0])) > _luminance(_rgb(colours[0][1]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView()", blocks[0])
    assert browser.save_screenshot(str(SCREENSHOTS / f"quickstart-{theme}.png"))


def test_in_a_500_px_pane_the_facts_wrap_between_facts_never_inside_one(rendered, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(500, 1600)
    try:
        browser.get(rendered["light"].as_uri())
        block = browser.find_elements(By.CSS_SELECTOR, "div.tensorview")[0]
        facts = block.find_elements(By.CSS_SELECTOR, ".tensorview-fact")
        assert len({fact.location["y"] for fact in facts}) > 1  # the facts took several lines
        assert set(browser.execute_script(FACT_LINES_JS)) == {1}  # and no fact broke across two
        width = browser.execute_script("return document.querySelector('.jp-OutputArea-output').clientWidth")
        assert all(fact.location["x"] + fact.size["width"] <= block.location["x"] + width + 1 for fact in facts)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.execute_script("arguments[0].scrollIntoView()", block)
        assert browser.save_screenshot(str(SCREENSHOTS / "quickstart-500px.png"))
    finally:
        browser.set_window_size(1280, 1600)
