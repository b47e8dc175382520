"""Headless Debian Chromium for the browser tests (the docs site, the studio)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextlib.contextmanager
def headless_chromium(width: int, height: int) -> Iterator[webdriver.Chrome]:
    """A headless Chromium window of ``width`` x ``height``; skips the test where it is not installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromedriver are not installed (scripts/install-system-deps.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """The window as ``folder/name`` (under test-output/, for a person to look at afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path
