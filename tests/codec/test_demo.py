"""The codec demo's data: each part of the format built and read back, and nothing printed."""

from __future__ import annotations

import pytest

from vlseq.codec import demo
from vlseq.codec.coords import quantize_box


@pytest.mark.parametrize("w, h, bins", [(640.0, 480.0, 1000), (100.0, 50.0, 64), (33.0, 701.0, 10)])
def test_sections_round_trip(w: float, h: float, bins: int, capsys: pytest.CaptureFixture[str]) -> None:
    g = demo.grounded_caption_demo(w, h, bins)
    assert g.parsed.errors == [] and g.parsed.text == g.text
    assert [g.parsed.phrase_text(p) for p in g.parsed.phrases] == ["white plate", "apples"]
    assert [len(p.boxes) for p in g.parsed.phrases] == [1, 2]
    assert g.half_bin == max(w, h) / (2 * bins) and 0 <= g.box_error <= g.half_bin + 1e-9

    o = demo.object_list_demo(w, h, bins)
    assert o.parsed.errors == [] and o.parsed.text == "cat traffic light"
    assert len(o.parsed.polygons) == 1 and len(o.parsed.polygons[0][1]) == 3
    assert "<poly><loc_" in o.sequence

    r = demo.region_prompt_demo(w, h, bins)
    assert r.region == (0.30 * w, 0.25 * h, 0.80 * w, 0.75 * h) and r.prompt.startswith("describe <loc_")
    assert quantize_box(r.back, w, h, bins) == quantize_box(r.region, w, h, bins)
    assert max(abs(a - b) for a, b in zip(r.back, r.region)) <= max(w, h) / (2 * bins) + 1e-9

    m = demo.malformed_demo(w, h, bins)
    assert m.parsed.text == "a dog chases the ball near a tree"
    assert [m.parsed.phrase_text(p) for p in m.parsed.phrases] == ["dog"]
    # coordinate outside <obj>; partial box + its phrase; box without words; x2 <= x1 + unclosed <obj>
    assert len(m.parsed.errors) == 6, m.parsed.errors
    # The codec only builds and reads: showing the results is the CLI's job.
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
