"""The screenshots of the Studio page (docs/studio*.md), from a real session in each language.

Runs ``visionblocks studio`` on a copy of examples/digits-pipeline.yaml that reads the bundled
digits, runs the pipeline once from the page, then, in each of the five languages, shows the
canvas with a parameter form holding an out-of-range value, and the images of Convert to Image
Directory's output. Writes docs/assets/studio/canvas-<lang>.png and preview-<lang>.png (colors
reduced to a palette, so the PNGs stay small; not <name>.<lang>.png, which mkdocs-static-i18n would
take for localized copies of one file).

    .venv/bin/python scripts/take_studio_screenshots.py          # needs chromium + chromedriver
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "assets" / "studio"
LANGUAGES = ("en", "es", "pt", "ru", "fr")
WINDOW = (1400, 860)


def start_studio(work: Path) -> tuple[subprocess.Popen, str]:
    from visionblocks.datasets import write_digits

    digits = write_digits(work / "digits")
    text = (REPO / "examples" / "digits-pipeline.yaml").read_text(encoding="utf-8")
    (work / "digits-pipeline.yaml").write_text(text.replace("../data/digits", str(digits)), encoding="utf-8")
    # Started in the work folder with relative paths, so the page shows the file name a user would type.
    proc = subprocess.Popen([sys.executable, "-m", "visionblocks", "studio", "digits-pipeline.yaml", "--port", "0",
                             "--out", "run"], cwd=work, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        found = re.search(r"ready at (http://\S+)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit("the studio did not start")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, css: str, timeout: float = 30):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def save(driver, name: str) -> None:
    """The screenshot as a 256-color PNG: a fifth of the size, no visible loss on a UI."""
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(OUT / name, optimize=True)
    print(f"wrote {OUT / name}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_studio(Path(tmp))
        driver = browser()
        try:
            driver.get(f"{url}/?lang=en")
            wait(driver, ".react-flow__node")
            driver.find_element(By.NAME, "run").click()
            wait(driver, '[data-run-state="done"], [data-run-state="failed"]', timeout=1800)
            for lang in LANGUAGES:
                driver.get(f"{url}/?lang={lang}")
                wait(driver, '[data-run-state="done"]')  # the finished run, replayed to the new page
                time.sleep(0.5)
                driver.find_element(By.CSS_SELECTOR, '.react-flow__node[data-id="split"] .vb-node-title').click()
                field = wait(driver, '[name="param-fraction"]')[0]
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys("1.5")
                wait(driver, '[data-param="fraction"] [data-code]')
                save(driver, f"canvas-{lang}.png")
                port = driver.find_element(By.CSS_SELECTOR, '.react-flow__node[data-id="convert"] .vb-port-out')
                ActionChains(driver).context_click(port).perform()
                wait(driver, ".vb-thumb img")
                time.sleep(1.0)  # thumbnails
                save(driver, f"preview-{lang}.png")
        finally:
            driver.quit()
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
