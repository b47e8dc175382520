"""The built site in a real headless Chromium (Debian's chromium + chromedriver), served on 127.0.0.1.

The Spanish Score Image Model page shows its official Spanish title, the language switcher leads
to the same page in French, and a search on /ru/ for the page's Russian name finds it and only
Russian pages. A missing address gets the "page not found" page of its language; the parameter
descriptions have room on a laptop and on a phone; a copy button copies an example's code without
prompts and output. Screenshots are kept in test-output/browser/.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from browser_helpers import headless_chromium, save_screenshot
from docs_site import LANGUAGES, REPO, built_site
from visionblocks.docs.i18n import Translator

pytestmark = pytest.mark.browser

MODULE = "score-image-model"
SPANISH_TITLE = "Puntuación del modelo de imagen"
FRENCH_TITLE = "Scorer un modèle d'image"
RUSSIAN_TITLE = "Оценка моделей изображений"
OUTPUT = REPO / "test-output" / "browser"
WAIT = 15  # seconds; generous, the machine is shared


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    build = built_site(tmp_path_factory)
    assert build.returncode == 0, build.log[-3000:]
    return build.site


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site like a host configured for it: a missing address under /<lang>/ gets that
    language's 404.html, any other the default language's."""

    def log_message(self, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        if code != 404:
            return super().send_error(code, message, explain)
        first = urlparse(self.path).path.strip("/").split("/", 1)[0]
        page = Path(self.directory) / (first if first in LANGUAGES[1:] else "") / "404.html"
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture(scope="module")
def server(site):
    """The site served on 127.0.0.1 on a free port, for this module's tests."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(1280, 1000) as driver:
        yield driver


def _title(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "article h1").text


def test_spanish_page_title_and_switch_to_french(browser, server):
    browser.get(f"{server}/es/modules/{MODULE}/")
    assert _title(browser) == SPANISH_TITLE
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    save_screenshot(browser, OUTPUT, f"{MODULE}.es.png")

    # The switcher is a hover menu in the header: point at it, then pick Français.
    switcher = browser.find_element(By.CSS_SELECTOR, ".md-header__option .md-select")
    ActionChains(browser).move_to_element(switcher).perform()
    french = WebDriverWait(browser, WAIT).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, '.md-select__link[hreflang="fr"]')))
    french.click()
    WebDriverWait(browser, WAIT).until(lambda d: urlparse(d.current_url).path.startswith("/fr/"))
    assert urlparse(browser.current_url).path == f"/fr/modules/{MODULE}/"
    assert _title(browser) == FRENCH_TITLE
    save_screenshot(browser, OUTPUT, f"{MODULE}.fr.png")


def test_russian_search_finds_the_module_page_and_only_russian_pages(browser, server):
    browser.get(f"{server}/ru/")
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys(RUSSIAN_TITLE)
    results = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item > a"))
    paths = [unquote(urlparse(a.get_attribute("href")).path) for a in results]
    save_screenshot(browser, OUTPUT, "search.ru.png")
    assert paths[0] == f"/ru/modules/{MODULE}/", paths
    assert all(path.startswith("/ru/") for path in paths), paths


# Publishing: 404 pages, parameter layout, copy buttons ------------------------------------------


def _home(lang: str) -> str:
    return "/" if lang == LANGUAGES[0] else f"/{lang}/"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_missing_address_shows_the_not_found_page_of_its_language(browser, server, lang):
    browser.get(f"{server}{_home(lang)}modules/no-such-module/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == lang
    assert _title(browser) == Translator(lang).ui("notfound.title")
    # The theme's styles loaded although the page is served at an address of any depth.
    header = browser.find_element(By.CSS_SELECTOR, "header.md-header")
    assert header.size["height"] > 0 and header.value_of_css_property("position") in ("sticky", "fixed")
    save_screenshot(browser, OUTPUT, f"404.{lang}.png")


def _parameter_descriptions(driver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, "article dl > dd")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_parameter_descriptions_have_room_on_a_laptop_and_a_phone(browser, server, lang):
    browser.get(f"{server}{_home(lang)}modules/{MODULE}/")
    descriptions = _parameter_descriptions(browser)
    assert descriptions, "no parameter descriptions on the page"
    widths = [d.size["width"] for d in descriptions]
    assert min(widths) >= 300, widths
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", descriptions[0])
    save_screenshot(browser, OUTPUT, f"parameters.{lang}.1280.png")
    try:
        browser.set_window_size(390, 844)
        browser.get(f"{server}{_home(lang)}modules/{MODULE}/")
        descriptions = _parameter_descriptions(browser)
        viewport = browser.execute_script("return document.documentElement.clientWidth")
        assert min(d.size["width"] for d in descriptions) >= 0.75 * viewport
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", descriptions[0])
        save_screenshot(browser, OUTPUT, f"parameters.{lang}.390.png")
    finally:
        browser.set_window_size(1280, 1000)


_RECORD_COPIES = """
window.__copied = [];
document.addEventListener("copy", function () {
  var el = document.activeElement;
  window.__copied.push(el && typeof el.value === "string"
    ? el.value.substring(el.selectionStart, el.selectionEnd) : String(window.getSelection()));
}, true);
"""


def _first_doctest_as_script(markdown: str) -> str:
    """The code a reader would paste from the page's first ``>>>`` example: prompts removed,
    expected output left out."""
    block = re.search(r"^```python\n(>>>.*?)^```", markdown, re.M | re.S).group(1)
    code = [line[4:] if line[3:4] == " " else "" for line in block.splitlines() if line[:3] in (">>>", "...")]
    return "\n".join(code).rstrip()


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_copy_button_copies_the_code_of_an_example_without_prompts_or_output(browser, server, lang):
    browser.get(f"{server}{_home(lang)}modules/{MODULE}/")
    browser.execute_script(_RECORD_COPIES)
    code = browser.find_element(By.XPATH, "(//pre[.//span[@class='gp']]/code)[1]")
    button = WebDriverWait(browser, WAIT).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f"button[data-clipboard-target='#{code.get_attribute('id')} > code'], "
                         f"button[data-clipboard-target='#{code.find_element(By.XPATH, '..').get_attribute('id')} > code']"))
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", code)
    # A real click: the browser copies only on a user's gesture, not on a script's click().
    ActionChains(browser).move_to_element(code).move_to_element(button).click().perform()
    copied = WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.__copied"))
    save_screenshot(browser, OUTPUT, f"copy.{lang}.png")
    source = (REPO / "docs" / "modules" / (f"{MODULE}.md" if lang == "en" else f"{MODULE}.{lang}.md"))
    expected = _first_doctest_as_script(source.read_text(encoding="utf-8"))
    assert ">>>" not in copied[-1] and expected
    assert copied[-1] == expected


def test_dark_mode_toggle(browser, server):
    browser.get(f"{server}/ru/modules/{MODULE}/")
    body = browser.find_element(By.TAG_NAME, "body")
    before = body.get_attribute("data-md-color-scheme")
    toggle = browser.find_element(By.CSS_SELECTOR, "form[data-md-component='palette'] label:not([hidden])")
    assert toggle.get_attribute("title") in ("Включить тёмную тему", "Включить светлую тему")
    toggle.click()
    WebDriverWait(browser, WAIT).until(lambda d: body.get_attribute("data-md-color-scheme") != before)
    save_screenshot(browser, OUTPUT, "dark-mode.ru.png")
    toggle = browser.find_element(By.CSS_SELECTOR, "form[data-md-component='palette'] label:not([hidden])")
    toggle.click()  # back, so the other tests' screenshots stay light
