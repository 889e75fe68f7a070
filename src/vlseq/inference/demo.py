"""``vlseq demo``: a web page to try a checkpoint (Gradio).

::

    vlseq demo --checkpoint runs/tiny/final            # http://127.0.0.1:7860

Three tabs. **One image**: upload an image or pick a synthetic scene, choose the task, type the
prompt; the page shows the drawn result (masks as translucent polygons; for generate_image /
edit_image the image the model wrote), the text with each grounded phrase in its box's colour, and
the raw sequence. **Story**: upload several images (reorder them by dragging); the model writes one
story over them, in that order. **Dialog**: upload an image, optionally give its caption and the
candidate answers, and ask questions; each answer joins the history the next question's prompt
carries, until the image changes or the dialog is cleared.

Safety: the server binds to 127.0.0.1 unless ``--host`` says otherwise; uploads over
``--max-upload-mb`` or ``--max-pixels`` are refused with a message (the pixel count is read from
the header before any pixel is decoded); the only files read are Gradio's own uploads and the
scenes this process rendered -- a path sent by the client outside those folders is refused.
Gradio's analytics are off and the page uses system fonts, so nothing is fetched from outside.
"""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from .pipeline import task_named

#: Prompt hints per task, shown under the prompt box.
HINTS = {
    "caption": "No prompt needed.", "grounded_caption": "No prompt needed.",
    "vqa": "A question, e.g. 'what colour is the circle?'",
    "refexp": "A referring expression, e.g. 'the red circle'",
    "segment": "A referring expression, e.g. 'the red circle'",
    "ground": "A caption whose phrases to ground, e.g. 'a red circle and a blue square'",
    "localize": "A class name, e.g. 'circle'",
    "classify": "A statement; put the answer options (comma-separated) in the options box.",
    "detect": "No prompt needed; the classes go in the categories box (prefilled with the checkpoint's).",
    "region_caption": "No prompt needed; put the region as 'x1, y1, x2, y2' (pixels) in the region box.",
    "instance_segment": "No prompt needed; the classes go in the categories box (prefilled with the checkpoint's).",
    "keypoints": "No prompt needed; the classes go in the categories box (prefilled with the checkpoint's).",
    "generate_image": "A caption to draw, e.g. 'a red circle and a blue square.' (no image needed).",
    "edit_image": "An instruction for the uploaded image, e.g. 'make the red circle blue.'",
    "paragraph": "No prompt needed: the model describes the whole image in several sentences.",
    "multiple_choice": "A question; put the candidate answers in the choices box, one per line.",
}

#: tasks with a tab of their own (several images; a history), left out of the one-image tab
OWN_TAB_TASKS = ("story", "dialog")

CSS = """
#raw textarea { font-family: ui-monospace, monospace; font-size: 12px; }
.grounded { font-size: 1.15em; line-height: 1.6; padding: 6px 2px; }
"""


@dataclass
class Limits:
    """Upload limits: file bytes and decoded pixels."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 16_000_000


def synthetic_examples(image_size: int, tasks: Sequence[str], out_dir: Path, n: int = 4) -> list[list[Any]]:
    """Render ``n`` scenes of the synthetic world at ``image_size`` into ``out_dir``.

    Returns rows ``[png_path, task, prompt]`` for Gradio's examples: one task per scene, cycling
    through the checkpoint's tasks that make sense on a scene, each with a prompt from the scene's
    own ground truth (a referring expression, a question, ...).
    """
    import numpy as np
    from PIL import Image

    from ..data.world import WorldConfig, examples_for_scene, generate_scene, render

    cfg = WorldConfig(size=max(32, image_size), max_objects=4)
    wanted = [t for t in ("refexp", "detect", "vqa", "grounded_caption", "caption", "localize", "ground") if t in tasks]
    wanted = wanted or list(tasks)[:1]
    rows: list[list[Any]] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        scene = generate_scene(1000 + i, cfg)
        pixels = render(scene)
        path = out_dir / f"scene_{i}.png"
        Image.fromarray(pixels).save(path)
        task = wanted[i % len(wanted)]
        exs = [e for e in examples_for_scene(scene, pixels, np.random.default_rng(i), cfg, image_id=str(i))
               if e.task == task]
        prompt = exs[0].text if exs else ""
        rows.append([str(path), task, prompt])
    return rows


def takes_categories(task: str) -> bool:
    """The task's options are object categories (it writes objects): the categories box, prefilled."""
    spec = task_named(task)
    return spec is not None and spec.writes_objects


def takes_text(task: str) -> bool:
    """The task's prompt is typed text (the others need none, or take categories / a region instead)."""
    spec = task_named(task)
    return spec is not None and "text" in spec.inputs


def reads_canvas(task: str) -> bool:
    """The task needs no image (it draws from text alone on a blank canvas)."""
    spec = task_named(task)
    return spec is not None and spec.image_input == "canvas"


def fields_for(task: str, categories: Sequence[str]) -> dict[str, Any]:
    """Which inputs the page shows for ``task``: the hint, the prompt box (bool), the
    categories/options box (None, or its label and value) and the region box (bool)."""
    known = task in HINTS
    classes = None
    if takes_categories(task):
        classes = {"label": "categories (comma-separated)", "value": ", ".join(categories)}
    elif task == "classify":
        classes = {"label": "options (comma-separated)", "value": "yes, no"}
    elif task == "multiple_choice":  # an answer may hold a comma, so one per line
        classes = {"label": "choices (one per line)", "value": ""}
    elif not known:
        classes = {"label": "categories / options (comma-separated)", "value": ""}
    return {"hint": HINTS.get(task, ""), "prompt": takes_text(task) or not known, "classes": classes,
            "region": task == "region_caption" or not known}


def lines_of(text: str | None) -> list[str]:
    """The non-empty lines of a text box, each with its spaces collapsed."""
    return [" ".join(line.split()) for line in (text or "").splitlines() if line.strip()]


def chat_messages(history: Sequence[Sequence[str]]) -> list[dict[str, str]]:
    """A dialog history as the chat component's messages (question: user, answer: assistant)."""
    return [m for q, a in history for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    p = path.resolve()
    return any(p == r or r in p.parents for r in roots)


def _parse_region(text: str) -> tuple[float, ...] | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        vals = tuple(float(v) for v in text.replace(",", " ").split())
    except ValueError:
        vals = ()
    if len(vals) != 4:
        raise ValueError(f"region must be four numbers 'x1, y1, x2, y2'; got {text!r}")
    return vals


class DemoRunner:
    """What a click runs: check the upload, build the task's inputs, predict, render the outputs.

    ``roots`` are the only folders images may be read from (Gradio's upload cache and the
    rendered scenes).
    """

    def __init__(self, pipe, limits: Limits, roots: Sequence[Path]) -> None:
        self.pipe = pipe
        self.limits = limits
        self.roots = [Path(r).resolve() for r in roots]

    def load(self, path: str | None):
        """The uploaded image as RGB PIL, or ``ValueError`` with a message for the page."""
        from ..data.images import load_image
        from ..data.readers.validate import DataError

        if not path:
            raise ValueError("Upload an image or pick an example first.")
        p = Path(path)
        if not _inside(p, self.roots):
            raise ValueError("That file is not an upload of this page.")
        size = p.stat().st_size
        if size > self.limits.max_bytes:
            raise ValueError(f"The image is {size / 1e6:.1f} MB; the limit is {self.limits.max_bytes / 1e6:.1f} MB.")
        try:
            return load_image(p, self.limits.max_pixels)
        except DataError as e:
            raise ValueError(f"Cannot use this image: {e.detail}") from None

    def __call__(self, path: str | None, task: str, prompt: str, classes: str, region: str):
        """Returns (drawn image, grounded-text HTML, raw sequence, details).

        generate_image needs no upload (its input is a blank canvas); its drawn image, and
        edit_image's, is the image the model wrote.
        """
        if reads_canvas(task):
            r = self.pipe(None, task, prompt or None)
            return r.draw(), "<div class='grounded' id='grounded-text'><i>(an image)</i></div>", r.sequence, \
                self._image_details(r)
        img = self.load(path)
        kw: dict[str, Any] = {}
        if takes_categories(task):
            kw["categories"] = classes
        elif task == "classify":
            kw["options"] = classes
        elif task == "multiple_choice":
            kw["choices"] = lines_of(classes)
        if task == "region_caption":
            kw["region"] = _parse_region(region)
        typed = takes_text(task) or task not in HINTS  # a hidden prompt box may hold stale text
        r = self.pipe.run([img], task, (prompt or None) if typed else None, batch_size=1, **kw)[0]
        if r.output_image is not None:
            return r.draw(), "<div class='grounded' id='grounded-text'><i>(an image)</i></div>", r.sequence, \
                self._image_details(r)
        body = r.html() if r.text else "<i>(empty output)</i>"
        text_html = f"<div class='grounded' id='grounded-text'>{body}</div>"
        lines = [f"prompt: {r.prompt}", f"image: {r.width}x{r.height}"]
        for label, box, score in zip(r.labels, r.boxes, r.scores or [None] * len(r.boxes)):
            s = f"  score {score:.3f}" if score is not None else ""
            lines.append(f"{label}: [{', '.join(f'{v:.1f}' for v in box)}]{s}")
        if r.errors:
            lines.append(f"parse errors: {r.errors}")
        return r.draw(img), text_html, r.sequence, "\n".join(lines)

    def story(self, paths: Sequence[str] | None) -> tuple[list[tuple[Any, str]], str, str]:
        """One story over the uploaded images, in their order: returns (the images with their place
        in the story, for a gallery; the story as HTML; the raw sequence)."""
        if not paths:
            raise ValueError("Upload the story's images first, in order.")
        imgs = [self.load(p) for p in paths]
        r = self.pipe.run(imgs, "story", batch_size=1)[0]
        body = html.escape(r.text) if r.text else "<i>(empty output)</i>"
        gallery = [(img, f"{i + 1} of {len(imgs)}") for i, img in enumerate(imgs)]
        return gallery, f"<div class='grounded' id='story-text'>{body}</div>", r.sequence

    def dialog(self, path: str | None, question: str, caption: str, choices: str,
               history: Sequence[Sequence[str]] | None) -> tuple[list[list[str]], str]:
        """One dialog round: the model answers ``question`` about the image, given its ``caption``
        (may be empty), the ``history`` so far (``[question, answer]`` pairs, oldest first) and, when
        ``choices`` holds candidate answers (one per line), choosing among them. Returns the history
        with this round appended, and the raw sequence."""
        question = " ".join((question or "").split())
        if not question:
            raise ValueError("Type a question first.")
        img = self.load(path)
        past = [(str(q), str(a)) for q, a in history or []]
        r = self.pipe.run([img], "dialog", question, choices=lines_of(choices) or None, history=past or None,
                          caption=caption or None, batch_size=1)[0]
        return [*[list(h) for h in past], [question, r.text]], r.sequence

    @staticmethod
    def _image_details(r) -> str:
        h, w = r.output_image.shape[:2]
        return f"prompt: {r.prompt}\noutput image: {w}x{h} from {r.sequence.count('<img_')} image tokens"


def build_demo(pipe, limits: Limits | None = None, work_dir: Path | None = None):
    """The Gradio Blocks app for a :class:`~vlseq.inference.pipeline.Pipeline`; returns ``(blocks, runner)``."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    limits = limits or Limits()
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="vlseq-demo-"))
    from gradio.utils import get_upload_folder

    upload_root = Path(get_upload_folder())  # where Gradio keeps uploads (GRADIO_TEMP_DIR)
    tasks = pipe.tasks or ["caption", "vqa", "refexp", "detect"]
    rows = synthetic_examples(pipe.image_size, tasks, work_dir / "examples")
    runner = DemoRunner(pipe, limits, [upload_root, work_dir])
    name = pipe.path.name if getattr(pipe, "path", None) else "checkpoint"
    if pipe.path is not None and pipe.path.name in ("final", "best"):
        name = f"{pipe.path.parent.name}/{pipe.path.name}"

    def shown(fn):  # a bad input becomes a message on the page, not a stack trace
        def wrapped(*args):
            try:
                return fn(*args)
            except (ValueError, KeyError) as e:
                raise gr.Error(str(e.args[0] if e.args else e)) from None
        return wrapped

    def on_task(task):
        f = fields_for(task, pipe.categories)
        return (f["hint"], gr.update(visible=f["prompt"]),
                gr.update(visible=f["classes"] is not None, **(f["classes"] or {})), gr.update(visible=f["region"]))

    @shown
    def on_ask(path, question, caption, choices, history):
        history, sequence = runner.dialog(path, question, caption, choices, history)
        return history, chat_messages(history), "", sequence

    one_image = [t for t in tasks if t not in OWN_TAB_TASKS] or list(tasks)
    first = "refexp" if "refexp" in one_image else one_image[0]
    f0 = fields_for(first, pipe.categories)
    with gr.Blocks(title="vlseq demo", analytics_enabled=False) as blocks:
        gr.Markdown(f"## vlseq demo\nCheckpoint **{html.escape(name)}** -- {pipe.image_size} px input, "
                    f"tasks: {', '.join(tasks)}. Uploads up to {limits.max_bytes / 1e6:.0f} MB and "
                    f"{limits.max_pixels / 1e6:.0f} Mpx.")
        with gr.Tab("One image", elem_id="tab-one-image"):
            with gr.Row():
                with gr.Column():
                    image = gr.Image(type="filepath", label="image", sources=["upload", "clipboard"],
                                     elem_id="input-image", height=300)
                    task = gr.Dropdown(one_image, value=first, label="task", elem_id="task")
                    hint = gr.Markdown(f0["hint"], elem_id="hint")
                    prompt = gr.Textbox(label="prompt", placeholder="e.g. the red circle", elem_id="prompt",
                                        visible=f0["prompt"])
                    classes = gr.Textbox(elem_id="classes", visible=f0["classes"] is not None,
                                         **(f0["classes"] or {"label": "categories / options (comma-separated)"}))
                    region = gr.Textbox(label="region: x1, y1, x2, y2 in pixels", elem_id="region",
                                        visible=f0["region"])
                    run = gr.Button("Run", variant="primary", elem_id="run")
                    gr.Examples(rows, inputs=[image, task, prompt], label="synthetic scenes (click one to load it)")
                with gr.Column():
                    drawn = gr.Image(type="pil", format="png", label="result", interactive=False,
                                     elem_id="result-image", height=300)
                    grounded = gr.HTML("<div class='grounded'><i>the output text appears here</i></div>",
                                       elem_id="grounded")
                    raw = gr.Textbox(label="raw sequence", lines=2, elem_id="raw", buttons=["copy"])
                    details = gr.Textbox(label="boxes (pixels of the uploaded image)", lines=3, elem_id="details")
        with gr.Tab("Story", elem_id="tab-story"):
            gr.Markdown(f"Upload the story's images (at most {pipe.model.config.max_images}); drag to reorder. "
                        "The model writes one story over them, in that order.")
            with gr.Row():
                with gr.Column():
                    story_files = gr.File(file_count="multiple", file_types=["image"], label="images, in order",
                                          allow_reordering=True, elem_id="story-images")
                    story_run = gr.Button("Tell the story", variant="primary", elem_id="story-run")
                with gr.Column():
                    story_gallery = gr.Gallery(label="the story's images", columns=5, height=160,
                                               elem_id="story-gallery")
                    story_text = gr.HTML("<div class='grounded'><i>the story appears here</i></div>",
                                         elem_id="story-out")
                    story_raw = gr.Textbox(label="raw sequence", lines=2, elem_id="story-raw", buttons=["copy"])
        with gr.Tab("Dialog", elem_id="tab-dialog"):
            gr.Markdown("Ask about one image; each answer joins the history the next question carries. "
                        "A new image or Clear starts over.")
            history = gr.State([])
            with gr.Row():
                with gr.Column():
                    dialog_image = gr.Image(type="filepath", label="image", sources=["upload", "clipboard"],
                                            elem_id="dialog-image", height=260)
                    caption = gr.Textbox(label="caption (optional; the prompt carries it)", elem_id="dialog-caption")
                    choices = gr.Textbox(label="candidate answers (optional, one per line)", lines=3,
                                         elem_id="dialog-choices")
                with gr.Column():
                    chat = gr.Chatbot(label="dialog", height=300, elem_id="dialog-chat", feedback_options=None)
                    question = gr.Textbox(label="question", placeholder="e.g. is there a red circle?",
                                          elem_id="dialog-question")
                    with gr.Row():
                        ask = gr.Button("Ask", variant="primary", elem_id="dialog-ask")
                        clear = gr.Button("Clear", elem_id="dialog-clear")
                    dialog_raw = gr.Textbox(label="raw sequence", lines=1, elem_id="dialog-raw")
        task.change(on_task, task, [hint, prompt, classes, region])
        run.click(shown(runner), [image, task, prompt, classes, region], [drawn, grounded, raw, details])
        story_run.click(shown(runner.story), [story_files], [story_gallery, story_text, story_raw])
        dialog_in = [dialog_image, question, caption, choices, history]
        ask.click(on_ask, dialog_in, [history, chat, question, dialog_raw])
        question.submit(on_ask, dialog_in, [history, chat, question, dialog_raw])
        for event in (clear.click, dialog_image.change):
            event(lambda: ([], [], ""), None, [history, chat, dialog_raw])
    return blocks, runner


def launch(blocks, host: str = "127.0.0.1", port: int | None = None, limits: Limits | None = None, block: bool = True):
    """Serve ``blocks``; with ``block=False`` return at once (call ``blocks.close()`` to stop)."""
    import gradio as gr

    limits = limits or Limits()
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    return blocks.launch(server_name=host, server_port=port, share=False, max_file_size=limits.max_bytes,
                         prevent_thread_lock=not block, ssr_mode=False, quiet=not block, theme=theme, css=CSS,
                         footer_links=[], show_error=True)


