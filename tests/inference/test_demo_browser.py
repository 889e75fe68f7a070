"""The web demo: upload checks and limits (no browser needed), then the real page in headless
Chromium -- load, error message, upload, run, result image and text shown, no request leaves the
machine -- with a screenshot under the test's tmp dir.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` and ``gradio`` packages;
without them the tests say why they skip. Set ``VLSEQ_DEMO_SCREENSHOT=/path.png`` to keep a copy
of the screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from helpers import make_checkpoint, scene_image

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y chromium chromium-driver"

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
gr = pytest.importorskip("gradio", reason="gradio is not installed: pip install 'vlseq[demo]'")


def _skip(reason: str) -> None:
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from vlseq import Pipeline

    return Pipeline.from_pretrained(make_checkpoint(tmp_path_factory.mktemp("ck") / "demo-debug"))


@pytest.fixture(scope="module")
def app(pipe, tmp_path_factory):
    """The demo served on a free localhost port; yields ``(url, runner)``."""
    from vlseq.inference.demo import Limits, build_demo, launch

    limits = Limits(max_bytes=2_000_000, max_pixels=4_000_000)
    blocks, runner = build_demo(pipe, limits, tmp_path_factory.mktemp("demo"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(blocks, "127.0.0.1", port, limits, block=False)
    try:
        yield f"http://127.0.0.1:{port}/", runner
    finally:
        blocks.close()


# ------------------------------------------------------------------ without a browser


def test_uploads_are_checked(pipe, tmp_path) -> None:
    from vlseq.inference.demo import DemoRunner, Limits

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    runner = DemoRunner(pipe, Limits(max_bytes=50_000, max_pixels=10_000), [uploads])
    ok = uploads / "ok.png"
    Image.fromarray(scene_image(0)).save(ok)  # 96x96 = 9216 px
    drawn, text_html, raw, details = runner(str(ok), "refexp", "the red circle", "", "")
    assert drawn.size == (384, 384) and "grounded-text" in text_html and raw.startswith("<obj>")
    assert "the red circle: [" in details and "score" in details
    big = uploads / "big.png"
    Image.new("RGB", (200, 100)).save(big)
    with pytest.raises(ValueError, match="20000 pixels, over the limit of 10000"):
        runner(str(big), "caption", "", "", "")
    heavy = uploads / "heavy.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 90, 3), dtype=np.uint8)).save(heavy)
    heavy.write_bytes(heavy.read_bytes() + b"\0" * 60_000)
    with pytest.raises(ValueError, match="MB; the limit is"):
        runner(str(heavy), "caption", "", "", "")
    outside = tmp_path / "secret.png"
    shutil.copy(ok, outside)
    for path in (str(outside), str(uploads / ".." / "secret.png"), "/etc/passwd"):
        with pytest.raises(ValueError, match="not an upload of this page"):
            runner(path, "caption", "", "", "")
    with pytest.raises(ValueError, match="Upload an image"):
        runner(None, "caption", "", "", "")
    text = uploads / "text.png"
    text.write_text("hello")
    with pytest.raises(ValueError, match="Cannot use this image: cannot read image"):
        runner(str(text), "caption", "", "", "")
    with pytest.raises(ValueError, match="region must be four numbers"):
        runner(str(ok), "region_caption", "", "", "1, 2, 3")
    _, _, raw, _ = runner(str(ok), "region_caption", "", "", "10, 10, 50, 60")
    assert "<loc_" not in raw
    _, _, raw, _ = runner(str(ok), "detect", "", "circle, square", "")
    assert all(p in ("circle", "square") for p in pipe.run([Image.open(ok)], "detect", categories="circle, square")[0].labels)


def test_demo_shows_generated_and_edited_images(tmp_path) -> None:
    from vlseq import Pipeline
    from vlseq.inference.demo import DemoRunner, Limits, fields_for

    image_pipe = Pipeline.from_pretrained(make_checkpoint(tmp_path / "ck", image_tokenizer=True))
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    runner = DemoRunner(image_pipe, Limits(), [uploads])
    drawn, text_html, raw, details = runner(None, "generate_image", "a red circle.", "", "")  # no upload needed
    assert drawn.size == (384, 384) and raw.count("<img_") == 16 and "output image: 32x32 from 16" in details
    ok = uploads / "ok.png"
    Image.fromarray(scene_image(0)).save(ok)
    drawn, _, raw, details = runner(str(ok), "edit_image", "make the circle blue.", "", "")
    assert drawn.size == (384, 384) and raw.count("<img_") == 16 and "an image" not in details
    for task in ("generate_image", "edit_image"):
        assert fields_for(task, [])["prompt"] and fields_for(task, [])["classes"] is None


def test_synthetic_examples_match_the_checkpoint(pipe, tmp_path) -> None:
    from vlseq.inference.demo import synthetic_examples

    rows = synthetic_examples(pipe.image_size, ["refexp", "detect", "vqa"], tmp_path, n=3)
    assert [r[1] for r in rows] == ["refexp", "detect", "vqa"]
    assert rows[0][2] and rows[2][2].endswith("?") and rows[1][2] == ""
    for path, _, _ in rows:
        with Image.open(path) as im:
            assert im.size == (pipe.image_size, pipe.image_size)


def test_fields_follow_the_task() -> None:
    from vlseq.inference.demo import fields_for

    det = fields_for("detect", ["circle", "square"])
    assert not det["prompt"] and det["classes"]["value"] == "circle, square" and not det["region"]
    assert fields_for("refexp", [])["prompt"] and fields_for("refexp", [])["classes"] is None
    assert fields_for("region_caption", [])["region"] and not fields_for("region_caption", [])["prompt"]
    assert fields_for("classify", [])["classes"]["label"].startswith("options")


# ------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        _skip(f"{CHROMIUM} or {CHROMEDRIVER} is missing (install: {INSTALL})")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _skip("selenium is not installed: pip install 'vlseq[test]'")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1280,1100",
                 # Belt and braces: names other than localhost do not resolve, so nothing can leave.
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_upload_run_and_show(app, browser, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = app
    wait = WebDriverWait(browser, 60)
    css = lambda sel: browser.find_elements(By.CSS_SELECTOR, sel)  # noqa: E731
    browser.get(url)
    wait.until(lambda _: css("#input-image input[type=file]") and css("#run"))
    assert "vlseq demo" in browser.title
    # Running without an image says what to do.
    css("#run")[0].click()
    wait.until(lambda _: "Upload an image or pick an example first" in browser.find_element(By.TAG_NAME, "body").text)
    for close in css(".toast-close"):
        close.click()

    picture = tmp_path / "scene.png"
    Image.fromarray(scene_image(3, 128)).save(picture)
    css("#input-image input[type=file]")[0].send_keys(str(picture))
    wait.until(lambda _: css("#input-image img"))
    box = css("#prompt textarea")[0]
    box.clear()
    box.send_keys("the red circle")
    css("#run")[0].click()
    wait.until(lambda _: css("#result-image img") and css("#raw textarea")[0].get_attribute("value"))
    raw = css("#raw textarea")[0].get_attribute("value")
    assert raw.startswith("<obj>the red circle<loc_") and raw.endswith("</obj>")
    shown = css("#grounded-text")[0]
    assert shown.text == "the red circle"
    assert shown.find_elements(By.CSS_SELECTOR, "b[style*='color']")  # the phrase in its box's colour
    details = css("#details textarea")[0].get_attribute("value")
    assert "image: 128x128" in details and "score" in details
    img = css("#result-image img")[0]
    wait.until(lambda _: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 384  # the drawing, upscaled

    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)  # let the image paint before the screenshot
    shot = tmp_path / "demo.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("VLSEQ_DEMO_SCREENSHOT"):
        shutil.copy(shot, os.environ["VLSEQ_DEMO_SCREENSHOT"])

    # Every request the page made went to this machine (fonts included: the theme uses system fonts).
    hosts = set()
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            u = urlparse(msg["params"]["request"]["url"])
            if u.scheme in ("http", "https", "ws", "wss"):
                hosts.add(u.hostname)
    assert hosts == {"127.0.0.1"}, hosts
