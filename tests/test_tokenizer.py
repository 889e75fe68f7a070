"""The unified tokenizer: special tokens are single ids both ways, text round-trips, save/load."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from vlseq.codec import build, object_list, parse, special_tokens
from vlseq.codec.tokens import LOC_OFFSET
from vlseq.tokenizer import VLTokenizer, check_roundtrip_ids

CORPUS = [
    "a red circle to the left of a blue star.",
    "how many circles are there? two",
    "the small green square above the large yellow triangle",
    "is there a purple hexagon? yes",
    "describe the image. detect: circle, square, star",
] * 5
WORDS = ["a", "red", "circle", "left", "of", "blue", "star", "how", "many", "the", "small", "square", "two", "?", ".", ","]


@pytest.fixture(scope="module")
def tok() -> VLTokenizer:
    return VLTokenizer.train(CORPUS, num_bins=100, num_image_tokens=16)


def test_documented_ids(tok: VLTokenizer) -> None:
    specials = special_tokens(100, 16)
    assert [tok.special_ids[t] for t in specials] == list(range(len(specials)))
    assert tok.loc_offset == LOC_OFFSET
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)


def test_every_special_token_is_one_id_both_ways(tok: VLTokenizer) -> None:
    assert check_roundtrip_ids(tok) == []
    # Inside running text, glued to words, as targets are written.
    for k in (0, 7, 42, 99):
        ids = tok.encode(f"star<loc_{k}><loc_{k}>circle")
        assert ids.count(tok.loc_id(k)) == 2
        assert tok.decode_markup(ids) == f"star<loc_{k}><loc_{k}>circle"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=0, max_size=12))
def test_plain_text_round_trips(tok: VLTokenizer, words: list[str]) -> None:
    text = " ".join(words)
    decoded = tok.decode_text(tok.encode(text))
    # Documented normalisation: no space before punctuation.
    expected = text
    for p in (" ?", " .", " ,"):
        expected = expected.replace(p, p[1:])
    assert decoded == expected


def test_markup_sequence_round_trips_through_ids(tok: VLTokenizer) -> None:
    g = object_list([("red circle", (10, 10, 40, 40)), ("star", (50, 5, 60, 30))])
    seq = build(g, 64, 64, 100)
    back = parse(tok.decode_markup(tok.encode(seq)), 64, 64, 100)
    assert back.errors == [] and back.text == g.text and len(back.phrases) == 2


def test_save_load_identical_ids(tok: VLTokenizer, tmp_path) -> None:
    tok.save_pretrained(tmp_path / "t")
    again = VLTokenizer.from_pretrained(tmp_path / "t")
    for text in CORPUS[:5] + ["a <obj>star<loc_1><loc_2><loc_3><loc_4></obj>"]:
        assert again.encode(text) == tok.encode(text)
    assert again.special_ids == tok.special_ids and len(again) == len(tok)


def test_user_bpe_tokenizer_gets_special_tokens(tmp_path) -> None:
    """A BART-like byte-level BPE tokenizer on disk: specials are appended, never split."""
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    hf = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    hf.save_pretrained(tmp_path / "bart")
    n_before = len(hf)
    tok = VLTokenizer.from_pretrained(tmp_path / "bart", num_bins=1000)
    assert check_roundtrip_ids(tok) == []
    assert tok.loc_offset >= n_before - 5  # appended after the user's own vocabulary
    assert tok.bos_id == hf.bos_token_id and tok.eos_id == hf.eos_token_id
    mask_id = hf.convert_tokens_to_ids("<mask>")
    assert mask_id not in set(tok.text_ids().tolist())
    seq = "a red <obj>circle<loc_10><loc_20><loc_999><loc_998></obj> left of a star"
    ids = tok.encode(seq)
    assert ids.count(tok.loc_id(999)) == 1 and tok.special_ids["<obj>"] in ids
    p = parse(tok.decode_markup(ids), 1000, 1000, 1000)
    assert p.errors == [] and p.text == "a red circle left of a star" and len(p.phrases) == 1
    tok.save_pretrained(tmp_path / "saved")
    assert VLTokenizer.from_pretrained(tmp_path / "saved").encode(seq) == ids


def test_missing_settings_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        VLTokenizer.from_pretrained(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="pass num_bins"):
        VLTokenizer.from_pretrained(tmp_path / "empty")


def test_word_coverage_counts_unknown_and_split_words() -> None:
    tok = VLTokenizer.train(CORPUS, num_bins=16)
    # "tortoise" is spelled with the corpus's letters, "fjørd" has one it never had; markup is no word
    texts = ["a red circle near the tortoise <obj>fjørd<loc_1><loc_2><loc_3><loc_4></obj>", "a red circle"]
    cov = tok.word_coverage(texts)
    assert cov.unknown == {"fjørd": "fjørd"}
    assert set(cov.split) == {"near", "tortoise"} and cov.split["tortoise"].startswith("t")
    assert cov.words == 7 and cov.occurrences["red"] == 2 and "loc_1" not in cov.occurrences
    line = cov.summary()
    assert line.startswith("1 of 7 distinct words fall to <unk> [10.0% of word occurrences] (fjørd); "
                           "2 split into word pieces"), line
    assert "tortoise -> " in line
    # a tokenizer that knows every word reads them all whole
    assert tok.word_coverage(CORPUS).unknown == {} and tok.word_coverage(CORPUS).split == {}
