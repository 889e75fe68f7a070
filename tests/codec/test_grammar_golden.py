"""Golden recordings of the grammars: what they allow, how far each state is from the end, where each
token leads, frozen as one digest per configuration.

A restructuring of the grammar code must leave every grammar's behaviour exactly as it was. The
other grammar tests check properties (outputs parse, distances exact); these check identity: for
each configuration, every visited state's allowed-token masks (unbudgeted and under a range of
budgets), ``min_to_finish``, ``max_to_finish``, whether it is finished and the state each allowed
token leads to are written out in a fixed order and hashed.

* The 14 configurations on the tiny layout (the exhaustive checks of ``test_grammar``,
  ``test_keypoints`` and ``test_grammar_max``): every reachable state.
* The 13 configurations of ``test_grammar_max`` on the 32-bin layout: too many states to walk
  them all, so the states met along a fixed-seed set of random decodes under random budgets.

The configurations are restated here, not imported, so that the recording stays fixed when the
other tests change. After a deliberate change of behaviour, print the new digests with
``python tests/codec/test_grammar_golden.py`` and replace the constants below.
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable

import numpy as np
import pytest
from grammar_driver import LABELS, LAYOUT, TEXT, TINY

from vlseq.codec.grammar import (
    CHOICE,
    LABEL_AFTER_BOX,
    X1,
    BoxFirstListGrammar,
    ChoiceGrammar,
    Grammar,
    GroundedTextGrammar,
    ImageGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    State,
    TextGrammar,
    VocabLayout,
)

# --------------------------------------------------------------------------- the configurations

TINY_IMAGE = VocabLayout.standard(num_bins=2, num_text_tokens=2, num_image_tokens=3)

#: Every reachable state of each is recorded.
EXHAUSTIVE: dict[str, Callable[[], Grammar]] = {
    "tiny_text": lambda: TextGrammar(TINY),
    "tiny_grounded": lambda: GroundedTextGrammar(TINY, polygons=True, max_polygon_points=4, max_polygons=2,
                                                 max_boxes_per_phrase=2),
    "tiny_grounded_free": lambda: GroundedTextGrammar(TINY, polygons=True, max_polygon_points=3),
    "tiny_objects": lambda: ObjectListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2, min_objects=1,
                                              polygons=True, max_polygon_points=3),
    "tiny_objects_open": lambda: ObjectListGrammar(TINY, None, min_objects=2),
    "tiny_single": lambda: SingleBoxGrammar(TINY, [[13, 14, 14]]),
    "tiny_single_poly_required": lambda: SingleBoxGrammar(TINY, [[13]], polygons=True, max_polygon_points=4,
                                                          require_polygon=True),
    "tiny_objects_poly_required": lambda: ObjectListGrammar(TINY, [[12], [12, 14]], max_objects=2, min_objects=1,
                                                            polygons=True, max_polygon_points=3,
                                                            require_polygon=True),
    "tiny_choice": lambda: ChoiceGrammar(TINY, [[12], [12, 13, 14], [14, 14]]),
    "tiny_box_first": lambda: BoxFirstListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2,
                                                  min_objects=1),
    "tiny_box_first_open": lambda: BoxFirstListGrammar(TINY, [[13], [12, 13]], min_objects=2),
    "tiny_kp_objects": lambda: ObjectListGrammar(TINY, [[12]], max_objects=2, min_objects=1, polygons=True,
                                                 max_polygon_points=3, keypoints=[[13], [12, 14], [12]]),
    "tiny_kp_single_all": lambda: SingleBoxGrammar(TINY, [[13, 14]], keypoints=[[12, 14], [13]],
                                                   all_keypoints=True),
    "tiny_image": lambda: ImageGrammar(TINY_IMAGE, 3),
}

NAMES = [[TEXT[6]], [TEXT[6], TEXT[8]], [TEXT[9]]]
IMAGE_LAYOUT = VocabLayout.standard(num_bins=8, num_text_tokens=10, num_image_tokens=6)
POLYS = dict(polygons=True, max_polygon_points=5, max_polygons=2)

#: The states met along random decodes of each are recorded.
SAMPLED: dict[str, Callable[[], Grammar]] = {
    "text": lambda: TextGrammar(LAYOUT),
    "choice": lambda: ChoiceGrammar(LAYOUT, [[TEXT[7]], [TEXT[7], TEXT[8]], [TEXT[9], TEXT[10], TEXT[11]]]),
    "image": lambda: ImageGrammar(IMAGE_LAYOUT, 9),
    "grounded": lambda: GroundedTextGrammar(LAYOUT, max_boxes_per_phrase=2, **POLYS),
    "objects_open": lambda: ObjectListGrammar(LAYOUT, LABELS, min_objects=1),
    "objects": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, **POLYS),
    "objects_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, keypoints=NAMES),
    "objects_all_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, min_objects=1, keypoints=NAMES,
                                                       all_keypoints=True, require_polygon=True, **POLYS),
    "box_first": lambda: BoxFirstListGrammar(LAYOUT, LABELS, max_objects=3, min_objects=1),
    "box_first_open": lambda: BoxFirstListGrammar(LAYOUT, LABELS),
    "single_free_label": lambda: SingleBoxGrammar(LAYOUT, None),
    "single": lambda: SingleBoxGrammar(LAYOUT, LABELS, keypoints=NAMES, **POLYS),
    "single_forced": lambda: SingleBoxGrammar(LAYOUT, [LABELS[2]], polygons=True, max_polygon_points=4,
                                              require_polygon=True),
}

#: Budgets recorded per state: 0 up to this many tokens past its fewest, and no budget at all.
EXTRA_BUDGET = 14
SAMPLED_DECODES = 300
SAMPLED_SEED = 1234


# --------------------------------------------------------------------------- the recording


def _state_text(s: State) -> str:
    """A state with its type: two state types may hold the same ints."""
    return f"{type(s).__name__}{tuple(int(v) for v in s)}"


def _mask_text(mask: np.ndarray) -> str:
    return np.packbits(mask).tobytes().hex()


def _record_state(g: Grammar, s: State, h: "hashlib._Hash") -> dict[int, State]:
    """Hash one state's distances, masks and transitions; return ``{allowed token: next state}``."""
    fewest, most = g.min_to_finish(s), g.max_to_finish(s)
    free = g.allowed(s)
    nxt = {int(t): g.advance(s, int(t)) for t in np.flatnonzero(free)}
    parts = [_state_text(s), str(fewest), str(most), str(int(g.is_done(s))), _mask_text(free)]
    parts += [_mask_text(g.allowed(s, r)) for r in range(fewest + EXTRA_BUDGET + 1)]
    parts += [f"{t}>{_state_text(n)}" for t, n in sorted(nxt.items())]
    h.update(("|".join(parts) + "\n").encode())
    return nxt


#: grammar classes renamed after the recording, by the name they were recorded under (the digest
#: names the class, so that two grammars that happen to give the same masks still differ)
RECORDED_NAMES = {"BoxFirstListGrammar": "BoxLabelListGrammar"}


def _digest(g: Grammar, states: Iterable[State]) -> str:
    h = hashlib.sha256()
    h.update(f"{RECORDED_NAMES.get(type(g).__name__, type(g).__name__)} initial {_state_text(g.initial_state())} {g.min_to_finish()} "
             f"{g.max_to_finish()}\n".encode())
    for s in states:
        _record_state(g, s, h)
    return h.hexdigest()


def _reachable(g: Grammar) -> list[State]:
    """Every state reachable without a budget, in a fixed order."""
    seen: set[State] = set()
    todo = [g.initial_state()]
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        todo.extend(g.advance(s, int(t)) for t in np.flatnonzero(g.allowed(s)))
    return sorted(seen, key=_state_text)


def _sampled(g: Grammar, decodes: int, seed: int) -> list[State]:
    """The states met along ``decodes`` random decodes under random budgets, in a fixed order.

    Each decode draws its token among the allowed ones, preferring markup and coordinates at a
    rate drawn per decode, so that objects, polygons and keypoints are entered and left often.
    """
    lay, rng = g.layout, np.random.default_rng(seed)
    low = g.min_to_finish()
    high = min(g.max_to_finish(), 80)
    markup = np.zeros(lay.vocab_size, dtype=bool)
    markup[[lay.obj_open, lay.obj_close, lay.poly_open, lay.poly_close]] = True
    loc = np.zeros(lay.vocab_size, dtype=bool)
    loc[lay.loc_offset : lay.loc_offset + lay.num_bins] = True
    seen: set[State] = set()
    for _ in range(decodes):
        budget = int(rng.integers(low, max(low, high) + 1))
        weight = np.ones(lay.vocab_size)
        weight[markup] = rng.uniform(1, 30)
        weight[loc] = rng.uniform(0.05, 2)
        weight[lay.eos_id] = rng.uniform(0.01, 1)
        s, step = g.initial_state(), 0
        while True:
            seen.add(s)
            if g.is_done(s):
                break
            allowed = np.flatnonzero(g.allowed(s, budget - step))
            p = weight[allowed] / weight[allowed].sum()
            s = g.advance(s, int(rng.choice(allowed, p=p)))
            step += 1
    return sorted(seen, key=_state_text)


def record(name: str) -> str:
    """The digest of configuration ``name`` (of :data:`EXHAUSTIVE` or :data:`SAMPLED`)."""
    if name in EXHAUSTIVE:
        g = EXHAUSTIVE[name]()
        return _digest(g, _reachable(g))
    g = SAMPLED[name]()
    return _digest(g, _sampled(g, SAMPLED_DECODES, SAMPLED_SEED))


# --------------------------------------------------------------------------- the recorded digests

GOLDEN: dict[str, str] = {
    'box_first': 'f0458e847b881c1a14795a4d38f4d0ae0002c246c68203d5117183b946c8e84a',
    'box_first_open': '6979a3895658e449130fb5f17baded71bec71b027fa0e93cc200d7c70ca729bf',
    'choice': 'e7b5da82035557de1d33e42db270b3058fd73786817f53be80b93fbadaa9962b',
    'grounded': 'c179bf1c43c473e6ac9b79f5178f86d85dab747775b14767687cae8615847f44',
    'image': 'a0e17c7aa584e6f6fb9c3b6112bca9d945124e9bbd8558b02a47c40884cba86e',
    'objects': '4dc724e34cfcf449b03b44d9942cfa21d4563c2dd0bc7b4252e20c2673b9afbe',
    'objects_all_keypoints': 'd86546a9ddd143c9ae5ac34f63ed8d6e87b1dd62d7468f6237af5dd0d5af1971',
    'objects_keypoints': '2c79c4118cbb8dbbc808a339f5891debc3c27c5e23cfccae1568b233b4153e92',
    'objects_open': '7d42886241ae56c7a06c5ad68e06ec404c3368b18f761e2f189bc5f516ac32f1',
    'single': '55e910db3863cfa51d5b88964ab7b00b5e0d5d622b3a73de4bac05d244e14c61',
    'single_forced': '3bc5712f803fc9af65f3b7b3084f117f9b04afa64461ded9072a364e10e22f64',
    'single_free_label': 'c35f49f26cbab6eb5cd6c83684495c045d33bab92595d5e2985f58591d12363d',
    'text': '3d8bd5634155c845729df943f50b69b92a1f91c38962f6c44a96be83f2e286d5',
    'tiny_box_first': '0e5ef6cba7a6d86b114d285502062bf87507d38fc04cc82e7519b438c918d307',
    'tiny_box_first_open': '1634aa0c84507ddecad939f38ef440ae61b274b81f2619dfbde5670559231380',
    'tiny_choice': '720c4359a5665e9da19990bf094629c07aa507df18d8d4a01b22a7f346a15e49',
    'tiny_grounded': '24025a7f5dcd000945287e833022be65351ecc0086566bb5b13a464e3129fe32',
    'tiny_grounded_free': 'b8533952183937f152fd2a750ee3f08907cf4e86a66e85f4a285559043d2416a',
    'tiny_image': '30604f6985f2d87d187d0e797ed624c371473e5df73f141a0bb688313a6582f1',
    'tiny_kp_objects': '1188085f8cae688c2832cf2b3e1df46318cbb2d6ec14d0f1e32200c0b30b0a7d',
    'tiny_kp_single_all': 'd48e0eaaf56a6b21db8063da6ae7d1e7060c48ee5365422da1956fbed05b4006',
    'tiny_objects': 'd72c67309104fb4110932134c5b90c49d2270e273c642f85bfb65154bdb586f0',
    'tiny_objects_open': '906ccafa0064955bb70c176d502f5ee372c6eabfd5cacbfbed939731cc5acecf',
    'tiny_objects_poly_required': '345b0951677582cccce24000ba76dc54c9f6bc792d0d54a826ce1b213a0ffa75',
    'tiny_single': 'e94704907a3c036babfed1cae2ac4b6beaa53a0dc9acd36df44504c137e074b5',
    'tiny_single_poly_required': '738bcf6c883d492365d71ff16562ec4bae34628d1c997ea22b468ceee7352a65',
    'tiny_text': '63bb2f2ab5af2928825e917359645e0ddf465481356d1f12f105c10ac7d40253',
}


@pytest.mark.parametrize("name", sorted({**EXHAUSTIVE, **SAMPLED}))
def test_grammar_matches_its_recording(name: str) -> None:
    assert record(name) == GOLDEN[name]


def test_recording_sees_every_kind_of_state() -> None:
    """The recording reaches deep states: polygons, keypoints and box-first labels are walked."""
    phases = {s.phase for name in ("objects_all_keypoints", "single", "box_first", "grounded")
              for s in _sampled(SAMPLED[name](), 60, SAMPLED_SEED)}
    assert phases >= set(range(17)) - {CHOICE} | {X1, LABEL_AFTER_BOX}


if __name__ == "__main__":
    for key in sorted({**EXHAUSTIVE, **SAMPLED}):
        print(f"    {key!r}: {record(key)!r},")
