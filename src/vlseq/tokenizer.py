"""The text tokenizer of the unified vocabulary: text pieces + coordinate, markup and image tokens.

Two ways to get one:

* :meth:`VLTokenizer.train` trains a small WordPiece tokenizer with HF ``tokenizers`` on a list
  of texts (the synthetic world's corpus). Special tokens get the ids of
  :func:`vlseq.codec.special_tokens` in order: ``<pad>``=0, ``<s>``=1, ``</s>``=2, ``<unk>``=3,
  ``<obj>``=4, ``</obj>``=5, ``<poly>``=6, ``</poly>``=7, ``<sep>``=8, ``<loc_k>``=9+k, then
  ``<img_k>``, then text pieces.
* :meth:`VLTokenizer.from_pretrained` loads a local HF tokenizer directory — one vlseq saved, or a
  user's (e.g. a BART or Florence-2 tokenizer on disk) — and adds whichever of the special tokens
  it lacks as single, never-split tokens (appended after its vocabulary).

Text normalisation of the trained tokenizer (so round trips are "up to" this): lowercase, accents
kept, whitespace collapsed to single spaces, no space before ``. , ? ! ' :`` on decode.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from .codec.tokens import (
    BASE_TOKENS,
    BOS,
    EOS,
    IMG_RE,
    LOC_RE,
    OBJ_OPEN,
    PAD,
    SPECIAL_TOKEN_RE,
    UNK,
    img_token,
    loc_token,
    special_tokens,
)

SETTINGS_FILE = "vlseq_tokenizer.json"


class VLTokenizer:
    """A HF fast tokenizer plus the ids of vlseq's special tokens.

    Args:
        hf: the wrapped tokenizer; it must already contain every special token.
        num_bins: number of coordinate tokens ``<loc_0..B-1>``.
        num_image_tokens: number of ``<img_k>`` tokens (0 until an image tokenizer exists).
    """

    def __init__(self, hf: PreTrainedTokenizerFast, num_bins: int, num_image_tokens: int = 0) -> None:
        self.hf = hf
        self.num_bins = num_bins
        self.num_image_tokens = num_image_tokens
        vocab = hf.get_vocab()
        missing = [t for t in special_tokens(num_bins, num_image_tokens) if t not in vocab]
        if missing:
            raise ValueError(f"tokenizer lacks {len(missing)} special tokens, e.g. {missing[:3]}")
        self.special_ids: dict[str, int] = {t: vocab[t] for t in special_tokens(num_bins, num_image_tokens)}
        loc_ids = [self.special_ids[loc_token(k)] for k in range(num_bins)]
        if loc_ids != list(range(loc_ids[0], loc_ids[0] + num_bins)):
            raise ValueError("coordinate tokens must have contiguous ids")
        self.loc_offset = loc_ids[0]
        self.img_offset = self.special_ids[img_token(0)] if num_image_tokens else -1
        self.pad_id = self.special_ids[PAD]
        self.bos_id = self.special_ids[BOS]
        self.eos_id = self.special_ids[EOS]
        self.unk_id = self.special_ids[UNK]
        self.vocab_size = len(hf)
        self._special_by_id = {i: t for t, i in self.special_ids.items()}
        # Other special tokens of a user's tokenizer (e.g. BART's <mask>) are not text either.
        self._non_text = set(self._special_by_id) | set(hf.all_special_ids)

    # ------------------------------------------------------------------ construction

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        num_bins: int,
        vocab_size: int = 2000,
        num_image_tokens: int = 0,
        min_frequency: int = 1,
    ) -> "VLTokenizer":
        """Train a lowercase WordPiece tokenizer on ``texts`` and add the special tokens first."""
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
        specials = special_tokens(num_bins, num_image_tokens)
        texts = list(texts)
        words = _word_counts(tok, texts)
        if len([w for w, n in words.items() if n >= min_frequency]) <= vocab_size:
            # A closed vocabulary (the synthetic world's): every word is one piece, characters
            # are the fallback. Built from counts, it is identical in every process -- the
            # library trainer breaks ties between equally frequent merges in a per-process hash
            # order, which made two runs on one corpus disagree.
            chars = sorted({c for w in words for c in w})
            kept = sorted(w for w, n in words.items() if n >= min_frequency and len(w) > 1)
            pieces = list(dict.fromkeys(chars + ["##" + c for c in chars] + kept))
        else:  # an open vocabulary: the library's WordPiece trainer, ids renumbered by piece
            trainer = trainers.WordPieceTrainer(vocab_size=vocab_size + len(specials), min_frequency=min_frequency,
                                                special_tokens=specials, show_progress=False)
            tok.train_from_iterator(texts, trainer=trainer)
            pieces = sorted(t for t in tok.get_vocab() if t not in set(specials))
        tok.model = models.WordPiece({t: i for i, t in enumerate(list(specials) + pieces)}, unk_token=UNK,
                                     continuing_subword_prefix="##")
        tok.add_special_tokens(specials)
        hf = PreTrainedTokenizerFast(
            tokenizer_object=tok, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK,
            additional_special_tokens=[t for t in specials if t not in (PAD, BOS, EOS, UNK)],
        )
        return cls(hf, num_bins, num_image_tokens)

    @classmethod
    def from_pretrained(cls, path: str | Path, num_bins: int | None = None, num_image_tokens: int | None = None) -> "VLTokenizer":
        """Load a local tokenizer directory; add any missing special tokens (never from a hub)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"tokenizer directory {path} does not exist")
        settings_path = path / SETTINGS_FILE
        settings = json.loads(settings_path.read_text()) if settings_path.exists() else {}
        bins = num_bins if num_bins is not None else settings.get("num_bins")
        n_img = num_image_tokens if num_image_tokens is not None else settings.get("num_image_tokens", 0)
        if bins is None:
            raise ValueError(f"{path} is not a vlseq tokenizer (no {SETTINGS_FILE}); pass num_bins to add coordinate tokens")
        if settings_path.exists():  # our own: skip AutoTokenizer's look at the model's config.json
            hf = PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
        else:
            hf = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        if not isinstance(hf, PreTrainedTokenizerFast):
            raise ValueError(f"{path}: a fast (tokenizer.json) tokenizer is needed, got {type(hf).__name__}")
        vocab = hf.get_vocab()
        missing = [t for t in special_tokens(bins, n_img) if t not in vocab]
        if missing:
            # Control tokens map onto the tokenizer's own where it has them (BART: <s>, </s>, <pad>).
            hf.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
        for attr, tok in (("pad_token", PAD), ("bos_token", BOS), ("eos_token", EOS), ("unk_token", UNK)):
            if getattr(hf, attr) is None:
                setattr(hf, attr, tok)
        return cls(hf, bins, n_img)

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``tokenizer.json`` (+ HF config files) and vlseq's settings."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.hf.save_pretrained(str(path))
        settings = {"num_bins": self.num_bins, "num_image_tokens": self.num_image_tokens, "loc_offset": self.loc_offset}
        (path / SETTINGS_FILE).write_text(json.dumps(settings, indent=2))

    # ------------------------------------------------------------------ encode / decode

    def __len__(self) -> int:
        return self.vocab_size

    def encode(self, text: str) -> list[int]:
        """Ids of a sequence (text and markup), without ``<s>``/``</s>``."""
        return self.hf.encode(text, add_special_tokens=False)

    def loc_id(self, k: int) -> int:
        return self.loc_offset + k

    def label_ids(self, label: str, after: str = OBJ_OPEN) -> list[int]:
        """Ids of ``label`` as it is tokenized right after the special token ``after`` in a target
        (``<obj>``; a coordinate token for a box-first object)."""
        ids = self.encode(after + label)
        return ids[1:] if ids and ids[0] == self.special_ids[after] else ids

    def decode_markup(self, ids: Sequence[int]) -> str:
        """The sequence string that :func:`vlseq.codec.parse` reads: text runs decoded, special tokens verbatim.

        Stops at the first ``</s>``; drops ``<pad>`` and ``<s>``.
        """
        out: list[str] = []
        run: list[int] = []
        for i in ids:
            i = int(i)
            if i in self._special_by_id or i in self._non_text:
                if run:
                    out.append(self.hf.decode(run))
                    run = []
                if i == self.eos_id:
                    break
                if i in (self.pad_id, self.bos_id):
                    continue
                out.append(self._special_by_id.get(i, UNK))
            else:
                run.append(i)
        if run:
            out.append(self.hf.decode(run))
        return "".join(out)

    def decode_text(self, ids: Sequence[int]) -> str:
        """Plain text of ids (special tokens removed)."""
        return self.hf.decode([int(i) for i in ids if int(i) not in self._non_text])

    def text_ids(self) -> np.ndarray:
        """Ids of ordinary text pieces, sorted; shape ``(n,)``.

        Leaves out special tokens and pieces containing ``<`` or ``>``: consecutive such pieces
        could spell ``<obj>`` or ``<loc_5>`` in the decoded text, which ``parse`` would read as markup.
        """
        pieces = self.hf.convert_ids_to_tokens(list(range(self.vocab_size)))
        return np.array([i for i, p in enumerate(pieces) if i not in self._non_text and "<" not in p and ">" not in p],
                        dtype=np.int64)

    def word_ids(self) -> np.ndarray:
        """Text ids whose decoded piece shows a visible character (a phrase must start with one)."""
        ids = self.text_ids()
        return np.array([i for i in ids if self.hf.decode([int(i)]).strip()], dtype=np.int64)

    def word_coverage(self, texts: Iterable[str]) -> "WordCoverage":
        """How this vocabulary reads the words of ``texts`` (markup tokens left out): each distinct
        word as one piece, split into several, or (partly) as the unknown token."""
        from collections import Counter

        counts = Counter(SPECIAL_TOKEN_RE.sub(" ", t) for t in texts)  # each distinct text encoded once
        uniq = list(counts)
        cov = WordCoverage(self.hf.unk_token or UNK)
        occurrences: Counter[str] = Counter()
        for text, enc in zip(uniq, self.hf.backend_tokenizer.encode_batch(uniq, add_special_tokens=False)):
            words: dict[int, list[int]] = {}
            for k, w in enumerate(enc.word_ids):
                if w is not None:
                    words.setdefault(w, []).append(k)
            for ks in words.values():
                word = text[enc.offsets[ks[0]][0]:enc.offsets[ks[-1]][1]].lower()
                occurrences[word] += counts[text]
                if any(enc.ids[k] == self.unk_id for k in ks):
                    cov.unknown.setdefault(word, word)
                elif len(ks) > 1:
                    cov.split.setdefault(word, " ".join(enc.tokens[k] for k in ks))
        cov.words, cov.occurrences = len(occurrences), occurrences
        return cov

    def layout(self):
        """The :class:`~vlseq.codec.grammar.VocabLayout` of this vocabulary (cached)."""
        if getattr(self, "_layout", None) is None:
            from .codec.grammar import VocabLayout

            self._layout = VocabLayout.from_vocab(self.special_ids, self.vocab_size, self.num_bins, self.text_ids(),
                                                  self.word_ids())
        return self._layout


@dataclass
class WordCoverage:
    """What :meth:`VLTokenizer.word_coverage` found: distinct words, those read as the unknown
    token, and those split into pieces (``word -> pieces``), with each word's occurrences."""

    unk_token: str
    words: int = 0
    unknown: dict[str, str] = field(default_factory=dict)
    split: dict[str, str] = field(default_factory=dict)
    occurrences: dict[str, int] = field(default_factory=dict)

    def summary(self, examples: int = 3) -> str:
        """One line: how many words fall to the unknown token and how many are split, with examples
        (the most frequent first)."""
        def some(d: dict[str, str], arrow: bool) -> str:
            top = sorted(d, key=lambda w: (-self.occurrences.get(w, 0), w))[:examples]
            shown = ", ".join(f"{w} -> {d[w]}" if arrow else w for w in top)
            return f" ({shown}{', ...' if len(d) > examples else ''})" if top else ""

        def share(d: dict[str, str]) -> str:
            total = sum(self.occurrences.values())
            n = sum(self.occurrences.get(w, 0) for w in d)
            return f"{100 * n / total:.1f}% of word occurrences" if total else "no occurrences"

        return (f"{len(self.unknown)} of {self.words} distinct words fall to {self.unk_token} "
                f"[{share(self.unknown)}]{some(self.unknown, False)}; {len(self.split)} split into word pieces "
                f"[{share(self.split)}]{some(self.split, True)}")


def _word_counts(tok: Tokenizer, texts: Sequence[str]) -> dict[str, int]:
    """Pre-tokenized word frequencies of ``texts``, markup tokens removed."""
    from collections import Counter

    counts: Counter[str] = Counter()
    for t in texts:
        norm = tok.normalizer.normalize_str(SPECIAL_TOKEN_RE.sub(" ", t))
        counts.update(w for w, _ in tok.pre_tokenizer.pre_tokenize_str(norm))
    return dict(counts)


def check_roundtrip_ids(tok: VLTokenizer) -> list[str]:
    """Special tokens that do not encode to exactly their own single id (should be empty)."""
    bad = []
    for t, i in tok.special_ids.items():
        if tok.encode(t) != [i] or tok.hf.convert_ids_to_tokens(i) != t:
            bad.append(t)
    return bad


def loc_or_img(token: str) -> bool:
    return bool(LOC_RE.fullmatch(token) or IMG_RE.fullmatch(token))


__all__ = ["VLTokenizer", "WordCoverage", "check_roundtrip_ids", "BASE_TOKENS"]


def _warn_truncate(what: str, n: int, limit: int) -> None:
    warnings.warn(f"{what} has {n} tokens; truncated to {limit}", stacklevel=3)
