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


def test_story_and_dialog_runners(pipe, tmp_path, monkeypatch) -> None:
    from vlseq.inference.demo import DemoRunner, Limits, chat_messages, fields_for, lines_of

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    runner = DemoRunner(pipe, Limits(), [uploads])
    paths = []
    for k in (1, 2):
        paths.append(uploads / f"frame{k}.png")
        Image.fromarray(scene_image(k, 64)).save(paths[-1])
    gallery, text_html, raw = runner.story([str(p) for p in paths])
    assert [c for _, c in gallery] == ["1 of 2", "2 of 2"] and "id='story-text'" in text_html
    assert raw == pipe([str(p) for p in paths], "story").sequence  # the pipeline's one story, same order
    with pytest.raises(ValueError, match="Upload the story's images"):
        runner.story([])
    with pytest.raises(ValueError, match="at most 2"):  # the checkpoint's max_images
        runner.story([str(paths[0])] * 3)
    with pytest.raises(ValueError, match="not an upload of this page"):
        runner.story([str(paths[0]), "/etc/passwd"])

    history, raw = runner.dialog(str(paths[0]), "  is there a  circle? ", "a red circle.", "yes\nno\n", [])
    assert history == [["is there a circle?", history[0][1]]] and history[0][1] in ("yes", "no")
    seen = []
    real_run = pipe.run

    def spy(*args, **kw):
        seen.append(kw)
        return real_run(*args, **kw)

    monkeypatch.setattr(pipe, "run", spy)
    history, _ = runner.dialog(str(paths[0]), "what colour is it?", "", "", history)
    assert len(history) == 2 and history[0][0] == "is there a circle?"
    assert seen[-1]["history"] == [tuple(history[0])] and seen[-1]["caption"] is None and seen[-1]["choices"] is None
    with pytest.raises(ValueError, match="Type a question"):
        runner.dialog(str(paths[0]), "  ", "", "", history)
    assert chat_messages(history)[:2] == [{"role": "user", "content": "is there a circle?"},
                                          {"role": "assistant", "content": history[0][1]}]
    assert lines_of(" red, dark \n\n blue ") == ["red, dark", "blue"]  # a choice keeps its comma
    assert fields_for("multiple_choice", [])["classes"]["label"].startswith("choices")
    img = uploads / "mc.png"
    Image.fromarray(scene_image(3, 64)).save(img)
    _, _, raw, _ = runner(str(img), "multiple_choice", "what colour is the circle?", "red, dark\nblue", "")
    assert raw in ("red, dark", "blue")


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


def test_story_and_dialog_tabs(app, browser, tmp_path) -> None:
    """The Story tab takes several uploads and shows one story; the Dialog tab keeps its history."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, _ = app
    wait = WebDriverWait(browser, 60)
    css = lambda sel: browser.find_elements(By.CSS_SELECTOR, sel)  # noqa: E731

    def open_tab(name: str) -> None:
        wait.until(lambda _: [b for b in css("button[role=tab]") if b.text.strip() == name])
        [b for b in css("button[role=tab]") if b.text.strip() == name][0].click()

    def shot(name: str) -> None:
        browser.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        path = tmp_path / f"{name}.png"
        assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
        if os.environ.get("VLSEQ_DEMO_SCREENSHOT"):
            target = Path(os.environ["VLSEQ_DEMO_SCREENSHOT"])
            shutil.copy(path, target.with_name(f"{target.stem}-{name}{target.suffix}"))

    browser.get(url)
    open_tab("Story")
    wait.until(lambda _: css("#story-images input[type=file]") and css("#story-run"))
    frames = []
    for k in (1, 2):
        frames.append(tmp_path / f"frame{k}.png")
        Image.fromarray(scene_image(k, 96)).save(frames[-1])
    css("#story-images input[type=file]")[0].send_keys("\n".join(str(f) for f in frames))
    wait.until(lambda _: len(css("#story-images .file-preview tr")) >= 2)
    listed = css("#story-images")[0].text
    assert listed.index("frame1") < listed.index("frame2")  # the story's order, as uploaded
    css("#story-run")[0].click()
    wait.until(lambda _: css("#story-text") and css("#story-raw textarea")[0].get_attribute("value"))
    wait.until(lambda _: len(css("#story-gallery img")) >= 2)
    assert css("#story-raw textarea")[0].get_attribute("value").strip()
    shot("story")

    open_tab("Dialog")
    wait.until(lambda _: css("#dialog-image input[type=file]") and css("#dialog-ask"))
    css("#dialog-image input[type=file]")[0].send_keys(str(frames[0]))
    wait.until(lambda _: css("#dialog-image img"))
    for q in ("is there a circle?", "what colour is it?"):
        box = css("#dialog-question textarea")[0]
        box.clear()
        box.send_keys(q)
        css("#dialog-ask")[0].click()
        wait.until(lambda _, q=q: q in css("#dialog-chat")[0].text and css("#dialog-raw textarea")[0].get_attribute("value"))
    chat = css("#dialog-chat")[0].text
    assert "is there a circle?" in chat and "what colour is it?" in chat  # the first round is still shown
    assert not css("#dialog-question textarea")[0].get_attribute("value")  # the box clears after each ask
    shot("dialog")
    css("#dialog-clear")[0].click()
    wait.until(lambda _: "is there a circle?" not in css("#dialog-chat")[0].text)
