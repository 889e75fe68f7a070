"""The special tokens (``vlseq.codec.tokens``): one definition, from which the token regex is built."""

from __future__ import annotations

import random

import pytest

from vlseq.codec import markup, parser
from vlseq.codec.markup import escape_markup
from vlseq.codec.tokens import BASE_TOKENS, LOC_OFFSET, SPECIAL_TOKEN_RE, img_token, loc_token, special_tokens


def test_the_regex_matches_every_special_token_whole() -> None:
    for tok in special_tokens(num_bins=1000, num_image_tokens=64):
        assert SPECIAL_TOKEN_RE.fullmatch(tok), tok
    assert SPECIAL_TOKEN_RE.fullmatch(loc_token(123456)) and SPECIAL_TOKEN_RE.fullmatch(img_token(99999))


@pytest.mark.parametrize("text", ["<objx>", "< obj >", "<loc_>", "<loc_a>", "<img_>", "<S>", "<OBJ>", "<s >", "obj",
                                  "<eos>", "<bos>", "<loc_1", "loc_1>", "<>", "<//obj>"])
def test_the_regex_matches_nothing_else(text: str) -> None:
    assert SPECIAL_TOKEN_RE.search(text) is None


def test_the_regex_finds_tokens_run_together_and_inside_text() -> None:
    seq = "a <obj>white plate<loc_78><loc_84><loc_186><loc_199></obj> on<sep><img_3></s><pad>"
    found = [m.group(0) for m in SPECIAL_TOKEN_RE.finditer(seq)]
    assert found == ["<obj>", "<loc_78>", "<loc_84>", "<loc_186>", "<loc_199>", "</obj>", "<sep>", "<img_3>", "</s>",
                     "<pad>"]


def test_a_random_string_splits_exactly_at_the_special_tokens() -> None:
    # Every match is a special token and no special token is left in the text between matches.
    rng = random.Random(0)
    vocab = list(special_tokens(num_bins=8, num_image_tokens=4)) + ["<", ">", "/", "s", "obj", "loc_", "1", " ", "x"]
    for _ in range(200):
        text = "".join(rng.choice(vocab) for _ in range(rng.randint(0, 30)))
        pieces = SPECIAL_TOKEN_RE.split(text)
        assert all(SPECIAL_TOKEN_RE.search(p) is None for p in pieces if p)
        assert all(SPECIAL_TOKEN_RE.fullmatch(m.group(0)) for m in SPECIAL_TOKEN_RE.finditer(text))


def test_every_base_token_is_escaped_in_data_text() -> None:
    for tok in BASE_TOKENS:
        escaped = escape_markup(f"say {tok} now")
        assert tok not in escaped and SPECIAL_TOKEN_RE.search(escaped) is None
    assert LOC_OFFSET == len(BASE_TOKENS)


def test_markup_parser_and_tokenizer_use_the_one_regex() -> None:
    import vlseq.tokenizer as tokenizer

    assert tokenizer.SPECIAL_TOKEN_RE is SPECIAL_TOKEN_RE
    assert markup.SPECIAL_TOKEN_RE is SPECIAL_TOKEN_RE and parser.SPECIAL_TOKEN_RE is SPECIAL_TOKEN_RE
    assert not hasattr(markup, "_TOKEN_RE")  # no second, hand-written list
