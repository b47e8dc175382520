"""The studio in a real headless Chromium: the shipped digits pipeline opened in Spanish, one
parameter changed through its form, an out-of-range value flagged with its 0008 message in
Spanish, a parameter shown only while the one enabling it is on, a connection between mismatched
port types refused and the extra node undone, the toy plugin's module (registered in this process
only) dragged from the palette with its form, the pipeline run to the end with Evaluate Model's
accuracy on the page, Explain, the outputs of Convert to Image Directory (class counts and
thumbnails), Train PyTorch Model (curve) and Evaluate Model (table, charts, report) looked at, the
page switched to Russian, the file saved and run by ``visionblocks run``; then a long training
cancelled, a Run refused for a missing input and a node failing with its code and hint.
Screenshots are kept in test-output/studio/.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path

import pytest
import uvicorn
import yaml
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser_helpers import headless_chromium, save_screenshot
from visionblocks import errors, plugin_host
from visionblocks.cli import main
from visionblocks.docs.i18n import Translator
from visionblocks.plugin_host import get_registry
from visionblocks.service.serving import bind, url_of
from visionblocks.studio.app import create_app
from visionblocks.studio.settings import StudioSettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # runs the digits pipeline (about 30 s)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "digits-pipeline.yaml"
OUTPUT = REPO / "test-output" / "studio"
WAIT = 20        # seconds for a page change; generous, the machine is shared
RUN_WAIT = 300   # seconds for the whole pipeline run


@pytest.fixture(scope="module")
def toy():
    """The test plugin registered in this process only: the studio must show it with no code of its own."""
    spec = importlib.util.spec_from_file_location("studio_toy_plugin", Path(__file__).parent / "plugins" / "toy_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin_host.register_plugin(module, "studio-toy")
    yield module
    plugin_host.unregister_plugin("studio-toy")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits_dir):
    """The shipped pipeline, copied as it is except that its input is the small test digits."""
    work = tmp_path_factory.mktemp("studio")
    text = EXAMPLE.read_text(encoding="utf-8").replace("../data/digits", str(digits_dir))
    assert text != EXAMPLE.read_text(encoding="utf-8")
    (work / "digits-pipeline.yaml").write_text(text, encoding="utf-8")
    return work


@pytest.fixture(scope="module")
def studio(workspace, toy):
    """The studio on 127.0.0.1 (a free port), in a thread of this process, stopped at the end."""
    if not (REPO / "core" / "studio" / "static" / "index.html").is_file():
        pytest.fail("The studio page is not built: run `make setup` (npm ci && npm run build in studio/frontend).")
    settings = StudioSettings(pipeline=workspace / "digits-pipeline.yaml", out=workspace / "run", language="es")
    app = create_app(settings)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield url_of(sock)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(1600, 1000) as driver:
        yield driver


def _wait(driver, condition, timeout=WAIT):
    def safe(d):
        try:
            return condition(d)
        except StaleElementReferenceException:  # React re-rendered the element meanwhile
            return False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(safe)
    except TimeoutException:
        save_screenshot(driver, OUTPUT, "timeout.png")  # what the page showed instead
        raise


def _css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def _node(driver, node_id):
    return driver.find_element(By.CSS_SELECTOR, f'.react-flow__node[data-id="{node_id}"]')


def _select_node(driver, node_id):
    _node(driver, node_id).find_element(By.CSS_SELECTOR, ".vb-node-title").click()
    _wait(driver, lambda d: _css(d, f'[data-selected="{node_id}"]'))


def _type(driver, name, text):
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(text)


def _label(module_id: str, lang: str, name: str) -> str:
    spec = get_registry().get(module_id)
    return Translator(lang)(f"{module_id}.param.{name}.label", spec.param(name).label)


def _module_name(module_id: str, lang: str) -> str:
    return Translator(lang)(f"{module_id}.name", get_registry().get(module_id).name)


# HTML5 drag and drop (the palette's), which WebDriver's mouse actions do not produce: the events
# the browser would send, with one DataTransfer that the page's dragstart handler fills in.
DRAG_AND_DROP = """
const [item, canvas] = arguments;
const data = new DataTransfer();
const box = canvas.getBoundingClientRect();
const at = {clientX: box.left + 120, clientY: box.bottom - 120, bubbles: true, cancelable: true, dataTransfer: data};
item.dispatchEvent(new DragEvent("dragstart", {bubbles: true, dataTransfer: data}));
canvas.dispatchEvent(new DragEvent("dragover", at));
canvas.dispatchEvent(new DragEvent("drop", at));
item.dispatchEvent(new DragEvent("dragend", {bubbles: true, dataTransfer: data}));
"""


def _overlap(a, b) -> bool:
    """Whether two WebElement rects (x, y, width, height) share any area."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def _drag(driver, source, target):
    """A connection drawn with the mouse, from an output handle to an input handle."""
    actions = ActionChains(driver)
    actions.click_and_hold(source).move_by_offset(10, 10).move_by_offset(-10, -10)
    actions.move_to_element(target).move_by_offset(1, 1).move_to_element(target).release().perform()


def test_the_digits_pipeline_in_the_studio(studio, browser, workspace):
    driver = browser
    driver.get(f"{studio}/?lang=es")
    spanish_split = _module_name("split-image-directory", "es")
    _wait(driver, lambda d: any(e.text == spanish_split for e in _css(d, ".vb-palette-item")))
    _wait(driver, lambda d: len(_css(d, ".react-flow__node")) == 9)

    # An out-of-range fraction: 0008 with the designer's message in Spanish, then a valid value.
    _select_node(driver, "split")
    assert _label("split-image-directory", "es", "fraction") in driver.find_element(By.CSS_SELECTOR, '[data-param="fraction"]').text
    _type(driver, "param-fraction", "1.5")
    alert = _wait(driver, lambda d: _css(d, '[data-param="fraction"] [data-code="0008"]'))[0]
    assert Translator("es").error_message(errors.NotInRangeValueError) in alert.text
    assert "El valor del parámetro no está en el intervalo especificado." in alert.text
    save_screenshot(driver, OUTPUT, "param-error-es.png")
    _type(driver, "param-fraction", "0.8")
    _wait(driver, lambda d: not _css(d, '[data-param="fraction"] [data-code]'))

    # Size shows only while Resize is on (enabled_by); toggled twice, the file's value is back.
    _select_node(driver, "init")
    assert not _css(driver, '[data-param="size"]') and _css(driver, '[data-param="random_rotation_degrees"]')
    driver.find_element(By.NAME, "param-resize").click()
    _wait(driver, lambda d: _css(d, '[data-param="size"] input[type="number"]'))
    driver.find_element(By.NAME, "param-resize").click()
    _wait(driver, lambda d: not _css(d, '[data-param="size"]'))

    # The one change kept: one training epoch instead of eight.
    _select_node(driver, "train")
    _type(driver, "param-epochs", "1")

    # A type-mismatched connection is refused with the reason; the extra node goes with Undo.
    driver.find_element(By.CSS_SELECTOR, '.vb-palette-item[data-module="split-image-directory"]').click()
    ActionChains(driver).double_click(
        driver.find_element(By.CSS_SELECTOR, '.vb-palette-item[data-module="split-image-directory"]')).perform()
    _wait(driver, lambda d: len(_css(d, ".react-flow__node")) == 10)
    added = _node(driver, "split_image_directory").rect
    assert not any(_overlap(added, node.rect) for node in _css(driver, ".react-flow__node")
                   if node.get_attribute("data-id") != "split_image_directory")  # no port hidden under it
    source = _node(driver, "resnet").find_element(By.CSS_SELECTOR, '.react-flow__handle[data-handleid="untrained_model"]')
    target = _node(driver, "split_image_directory").find_element(
        By.CSS_SELECTOR, '.react-flow__handle[data-handleid="input_image_directory"]')
    _drag(driver, source, target)
    refused = _wait(driver, lambda d: _css(d, '[data-testid="connection-refused"]'))[0]
    assert "UntrainedModelDirectory" in refused.text and "ImageDirectory" in refused.text
    assert refused.text.startswith("Conexión rechazada")
    assert len(_css(driver, ".react-flow__edge")) == 10
    driver.find_element(By.NAME, "undo").click()
    _wait(driver, lambda d: len(_css(d, ".react-flow__node")) == 9)

    # The toy plugin's module, registered in this process, dragged onto the canvas, with its form.
    toy = _wait(driver, lambda d: _css(d, '.vb-palette-item[data-module="toy-source"]'))[0]
    assert toy.text == "Toy Source"
    driver.execute_script(DRAG_AND_DROP, toy, driver.find_element(By.CSS_SELECTOR, ".vb-canvas"))
    _wait(driver, lambda d: _css(d, '[data-selected="toy_source"]'))
    rows = driver.find_element(By.NAME, "param-rows")
    assert (rows.get_attribute("type"), rows.get_attribute("min"), rows.get_attribute("max")) == ("number", "1", "100")
    assert rows.get_attribute("value") == "3"
    driver.find_element(By.NAME, "delete").click()
    _wait(driver, lambda d: len(_css(d, ".react-flow__node")) == 9)

    # Run: every node ends done (or reused), and Evaluate Model's accuracy shows on its node.
    driver.find_element(By.NAME, "run").click()
    _wait(driver, lambda d: _css(d, '[data-run-state="done"], [data-run-state="failed"]'), RUN_WAIT)
    states = {node.get_attribute("data-id"): node.find_element(By.CSS_SELECTOR, ".vb-node").get_attribute("data-state")
              for node in _css(driver, ".react-flow__node")}
    save_screenshot(driver, OUTPUT, "run-es.png")
    assert set(states.values()) <= {"done", "reused"}, (states, _css(driver, '[data-testid="run-error"]')
                                                         and driver.find_element(By.CSS_SELECTOR, '[data-testid="run-error"]').text)
    accuracy = _node(driver, "evaluate").find_element(By.CSS_SELECTOR, '[data-metric="Overall_Accuracy"]').text
    assert accuracy.startswith("Exactitud global: ")
    assert 0 <= float(accuracy.split(": ")[1]) <= 1

    # Explain after the run: nothing changed, so every node would be reused, said in Spanish.
    driver.find_element(By.NAME, "explain").click()
    explained = _wait(driver, lambda d: _css(d, '[data-testid="explanation"] li[data-decision]'))
    assert [li.get_attribute("data-decision") for li in explained] == ["reuse"] * 9
    assert "se reutiliza" in explained[0].text

    # Convert to Image Directory's output: class counts and thumbnails (right-click on the output).
    port = _node(driver, "convert").find_element(By.CSS_SELECTOR, ".vb-port-out")
    ActionChains(driver).context_click(port).perform()
    panel = _wait(driver, lambda d: _css(d, '.vb-preview[data-type="ImageDirectory"]'))[0]
    counts = {row.get_attribute("data-class"): row.find_elements(By.TAG_NAME, "td")[1].text
              for row in panel.find_elements(By.CSS_SELECTOR, ".vb-class-counts tbody tr")}
    assert counts == {str(digit): "30" for digit in range(10)}
    _wait(driver, lambda d: all(img.get_property("naturalWidth") == 16 for img in _css(d, ".vb-thumb img")))
    captions = [caption.text for caption in _css(driver, ".vb-thumb figcaption")]
    assert sorted(set(captions)) == [str(digit) for digit in range(10)] and len(captions) == 40  # 4 of each class
    save_screenshot(driver, OUTPUT, "preview-images-es.png")
    driver.find_element(By.NAME, "close-preview").click()

    # The trained model: its training curve; Evaluate Model's output: its table, charts and report.
    ActionChains(driver).context_click(_node(driver, "train").find_element(By.CSS_SELECTOR, ".vb-port-out")).perform()
    _wait(driver, lambda d: _css(d, '.vb-preview[data-type="ModelDirectory"] [data-curve="loss"] polyline'))
    driver.find_element(By.NAME, "close-preview").click()
    _select_node(driver, "evaluate")
    driver.find_element(By.NAME, "preview-evaluation_results").click()
    panel = _wait(driver, lambda d: _css(d, '.vb-preview[data-type="DataFrameDirectory"]'))[0]
    assert "Overall_Accuracy" in panel.find_element(By.CSS_SELECTOR, ".vb-dataframe thead").text
    _wait(driver, lambda d: len([img for img in _css(d, ".vb-charts img") if img.get_property("naturalWidth") > 0]) == 3)
    assert panel.find_element(By.PARTIAL_LINK_TEXT, "informe").get_attribute("href").endswith("report.html")
    save_screenshot(driver, OUTPUT, "preview-evaluation-es.png")
    driver.find_element(By.NAME, "close-preview").click()

    # Russian: the palette and the form labels change.
    _select_node(driver, "split")
    Select(driver.find_element(By.NAME, "language")).select_by_value("ru")
    russian_split = _module_name("split-image-directory", "ru")
    _wait(driver, lambda d: any(e.text == russian_split for e in _css(d, ".vb-palette-item")))
    _wait(driver, lambda d: _label("split-image-directory", "ru", "fraction")
          in d.find_element(By.CSS_SELECTOR, '[data-param="fraction"]').text)
    assert driver.find_element(By.NAME, "save").text == "Сохранить"
    save_screenshot(driver, OUTPUT, "form-ru.png")

    # Save: the file says what it said before, but for the one changed parameter, and run takes it.
    pipeline = workspace / "digits-pipeline.yaml"
    before = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    driver.find_element(By.NAME, "save").click()
    _wait(driver, lambda d: _css(d, '[data-testid="saved"]'))
    after = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    next(node for node in before["nodes"] if node["id"] == "train")["params"]["epochs"] = 1
    assert after == before
    assert (workspace / "digits-pipeline.layout.json").is_file() and "layout" not in after
    assert main(["run", str(pipeline), "--out", str(workspace / "run")]) == 0  # everything reused


def test_cancel_and_a_failed_node_in_the_studio(studio, browser, tmp_path):
    """Cancel stops a long training; a refused Run leaves its notice only until the next Run; a node
    that fails while running shows its code and hint on the canvas, in its panel and over the page."""
    driver = browser
    driver.get(f"{studio}/?lang=en")
    _wait(driver, lambda d: len(_css(d, ".react-flow__node")) == 9)

    # A training long enough never to end by itself here, cancelled once it is under way.
    _select_node(driver, "train")
    _type(driver, "param-epochs", "1000")
    driver.find_element(By.NAME, "run").click()
    _wait(driver, lambda d: _node(d, "train").find_element(By.CSS_SELECTOR, ".vb-node").get_attribute("data-state")
          == "running", RUN_WAIT)
    driver.find_element(By.NAME, "cancel").click()
    _wait(driver, lambda d: _css(d, '[data-run-state="cancelled"]'), RUN_WAIT)
    assert driver.find_element(By.NAME, "run").is_enabled() and not driver.find_element(By.NAME, "cancel").is_enabled()
    save_screenshot(driver, OUTPUT, "cancelled-en.png")

    # A path that does not exist: the run is refused before it starts, with the designer's code.
    _select_node(driver, "convert")
    _type(driver, "input-input_dataset", str(tmp_path / "missing"))
    driver.find_element(By.NAME, "run").click()
    refused = _wait(driver, lambda d: _css(d, '[data-testid="notice"]'))[0]
    assert refused.text.startswith("0003 ") and "missing" in refused.text

    # A folder with no image: Convert to Image Directory fails while running, with code and hint.
    (tmp_path / "notes.txt").write_text("no image here", encoding="utf-8")
    _type(driver, "input-input_dataset", str(tmp_path))
    driver.find_element(By.NAME, "run").click()
    _wait(driver, lambda d: _css(d, '[data-run-state="failed"]'), RUN_WAIT)
    assert not _css(driver, '[data-testid="notice"]')  # the refusal of the run before is gone
    assert _node(driver, "convert").find_element(By.CSS_SELECTOR, ".vb-node").get_attribute("data-state") == "failed"
    panel = driver.find_element(By.CSS_SELECTOR, '[data-testid="node-error"]').text
    assert panel.startswith("0021 TooFewRowsInDataset") and "notes.txt" in panel and "What to do:" in panel
    assert driver.find_element(By.CSS_SELECTOR, '[data-testid="run-error"]').text.startswith("0021 TooFewRowsInDataset: ")
    save_screenshot(driver, OUTPUT, "failed-node-en.png")
