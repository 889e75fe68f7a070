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
                                                 polygon_inside_box=True, max_boxes_per_phrase=2),
    "tiny_grounded_free": lambda: GroundedTextGrammar(TINY, polygons=True, max_polygon_points=3),
    "tiny_objects": lambda: ObjectListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2, min_objects=1,
                                              polygons=True, max_polygon_points=3),
    "tiny_objects_open": lambda: ObjectListGrammar(TINY, None, min_objects=2),
    "tiny_single": lambda: SingleBoxGrammar(TINY, [[13, 14, 14]]),
    "tiny_single_poly_required": lambda: SingleBoxGrammar(TINY, [[13]], polygons=True, max_polygon_points=4,
                                                          require_polygon=True, polygon_inside_box=True),
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
    "grounded": lambda: GroundedTextGrammar(LAYOUT, polygon_inside_box=True, max_boxes_per_phrase=2, **POLYS),
    "objects_open": lambda: ObjectListGrammar(LAYOUT, LABELS, min_objects=1),
    "objects": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, **POLYS),
    "objects_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, keypoints=NAMES),
    "objects_all_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, min_objects=1, keypoints=NAMES,
                                                       all_keypoints=True, require_polygon=True, **POLYS),
    "box_first": lambda: BoxFirstListGrammar(LAYOUT, LABELS, max_objects=3, min_objects=1),
    "box_first_open": lambda: BoxFirstListGrammar(LAYOUT, LABELS),
    "single_free_label": lambda: SingleBoxGrammar(LAYOUT, None),
    "single": lambda: SingleBoxGrammar(LAYOUT, LABELS, polygon_inside_box=True, keypoints=NAMES, **POLYS),
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
    'grounded': 'e2456bd00abee7763578e4de798b0cc35de57eb6f5c06ecf8db6738b731ef2fa',
    'image': 'a0e17c7aa584e6f6fb9c3b6112bca9d945124e9bbd8558b02a47c40884cba86e',
    'objects': 'bd77f58eda1e12972bc67b23ef8f9e01b078e982aa2de7fd2f244cf5937a123e',
    'objects_all_keypoints': '0b2baf2c902babc37ea092b661994a645818dbaeea9fd42a627ab33d5b2a48db',
    'objects_keypoints': 'a7bddb190f6b147a2308a64a2d397bf6389ba0c588f1666b59b1b5c0f8d0b9ed',
    'objects_open': 'baafbe7d1d4b94a7839ae40e3a0215f52dab30a8389d757013ab7049e8e65883',
    'single': '85e13f8ef93098c0134ce7646686412b63e9d6cd2b8f13788627f840e99fc250',
    'single_forced': '2880718d2702f4aa65c76d201486aa6d9754dedd640c9b11843d2294369b2e21',
    'single_free_label': 'b9b4fb42dd1d286d6d2ee536d4994c5244585a5a0385c96d25e7c2817e2786ea',
    'text': '3d8bd5634155c845729df943f50b69b92a1f91c38962f6c44a96be83f2e286d5',
    'tiny_box_first': '0e5ef6cba7a6d86b114d285502062bf87507d38fc04cc82e7519b438c918d307',
    'tiny_box_first_open': '1634aa0c84507ddecad939f38ef440ae61b274b81f2619dfbde5670559231380',
    'tiny_choice': '720c4359a5665e9da19990bf094629c07aa507df18d8d4a01b22a7f346a15e49',
    'tiny_grounded': '6cd0f9842604f7eaea16c36a88765f47353041705e3d5d6ecce1604345fd5ae9',
    'tiny_grounded_free': '02c288abac580f6aaf1254383134c3971cea47f1de8dda574f95a77673f876de',
    'tiny_image': '30604f6985f2d87d187d0e797ed624c371473e5df73f141a0bb688313a6582f1',
    'tiny_kp_objects': 'b714994d44e1f96f86cc112306eddb8ad3161dbdba4aea36df3c352d237faade',
    'tiny_kp_single_all': '1f2db5e1c9df903279b7ff2c66a90756f1a13b56849b9453e9ee22f993279feb',
    'tiny_objects': '2f0f7142e97092391ad6ea570d85ff669215f9ace69e4f4e7287d417793acc12',
    'tiny_objects_open': '8c0de5f0d59e7e05053504845dfe3eaaed72c65e0f081c3df98834477b7bdb25',
    'tiny_objects_poly_required': '721da99473cb1867de1893c10404394853e74843233c6c35c10712278abde4b8',
    'tiny_single': '871786552062b2734e5eff471e1d900af1d7f8d28bc38f2065c735b6fcd6c116',
    'tiny_single_poly_required': '80cfb9c904d996c85bb29aed0ac4a134d8eae0feed5dbf6ff87dc203a89c1177',
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
