"""The built site in a real headless Chromium (Debian's chromium + chromedriver), served on 127.0.0.1.

The Spanish Score Image Model page shows its official Spanish title, the language switcher leads
to the same page in French, and a search on /ru/ for the page's Russian name finds it and only
Russian pages. Screenshots are kept in test-output/browser/.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from docs_site import REPO, built_site

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
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
    def log_message(self, *args):
        pass


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
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromedriver are not installed (scripts/install-system-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _screenshot(driver, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def _title(driver) -> str:
    return driver.find_element(By.CSS_SELECTOR, "article h1").text


def test_spanish_page_title_and_switch_to_french(browser, server):
    browser.get(f"{server}/es/modules/{MODULE}/")
    assert _title(browser) == SPANISH_TITLE
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    _screenshot(browser, f"{MODULE}.es.png")

    # The switcher is a hover menu in the header: point at it, then pick Français.
    switcher = browser.find_element(By.CSS_SELECTOR, ".md-header__option .md-select")
    ActionChains(browser).move_to_element(switcher).perform()
    french = WebDriverWait(browser, WAIT).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, '.md-select__link[hreflang="fr"]')))
    french.click()
    WebDriverWait(browser, WAIT).until(lambda d: urlparse(d.current_url).path.startswith("/fr/"))
    assert urlparse(browser.current_url).path == f"/fr/modules/{MODULE}/"
    assert _title(browser) == FRENCH_TITLE
    _screenshot(browser, f"{MODULE}.fr.png")


def test_russian_search_finds_the_module_page_and_only_russian_pages(browser, server):
    browser.get(f"{server}/ru/")
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys(RUSSIAN_TITLE)
    results = WebDriverWait(browser, WAIT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item > a"))
    paths = [unquote(urlparse(a.get_attribute("href")).path) for a in results]
    _screenshot(browser, "search.ru.png")
    assert paths[0] == f"/ru/modules/{MODULE}/", paths
    assert all(path.startswith("/ru/") for path in paths), paths
