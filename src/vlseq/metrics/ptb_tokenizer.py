"""Caption tokenisation as the COCO caption evaluation does it, with a pure-Python fallback.

The standard pipeline (pycocoevalcap) runs Stanford's PTBTokenizer (Java) with
``-preserveLines -lowerCase`` and then drops the tokens of pycocoevalcap's ``PUNCTUATIONS``
list. :func:`tokenize_captions` does exactly that with the jar shipped in pycocoevalcap, but
feeds the sentences through stdin (pycocoevalcap's wrapper writes a temp file into its own
package folder, which fails on read-only installs) and checks the exit status and line count.

Where Java is missing or fails, it warns once per process and uses :func:`ptb_tokenize_python`,
a regex mimic of the same pipeline:

* lowercase; ``"`` and quote-like ``'`` / ``` ` ``` dropped (PTB turns them into quote tokens
  that the punctuation list then removes);
* ``( ) [ ] { }`` become ``-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-`` tokens, which are KEPT: with
  ``-lowerCase`` PTB writes them lowercased and pycocoevalcap's list only has the uppercase
  forms, so the reference pipeline keeps them too;
* ``. , ; : ! ? - -- ...`` dropped as tokens (a run like ``!!`` is one token and stays, as in PTB), but kept inside numbers (``3.5``, ``1,000``,
  ``5:30``), hyphenated words (``black-and-white``) and dotted abbreviations (``u.s.``,
  ``e.g.``, ``mr.``);
* contractions split the PTB way: ``don't`` -> ``do n't``, ``can't`` -> ``ca n't``,
  ``it's`` -> ``it 's``, and ``'re 've 'll 'd 'm``;
* ``$ % #`` split from numbers (``$5`` -> ``$ 5``), ``5pm`` -> ``5 pm``.

On ordinary captions it gives the Java output token for token (tested on a sample); rare
constructions (unusual abbreviations, unicode quotes, ``rock'n'roll``) may differ slightly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Hashable, Mapping, Optional, Sequence, TypeVar

from pycocoevalcap.tokenizer import ptbtokenizer as _ptb

K = TypeVar("K", bound=Hashable)

#: Tokens the standard pipeline removes after PTB tokenisation (pycocoevalcap's list).
PUNCTUATIONS: frozenset[str] = frozenset(_ptb.PUNCTUATIONS)
_JAR = Path(_ptb.__file__).resolve().parent / _ptb.STANFORD_CORENLP_3_4_1_JAR

_java_ok: Optional[bool] = None  # None: not tried yet in this process
_warned = False

_ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "vs.", "etc.", "no.", "co.", "inc."}
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
_SUBS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"[\"“”]"), " "),
    (re.compile(r"[()\[\]{}]"), lambda m: f" {_BRACKETS[m.group(0)]} "),  # type: ignore[list-item]
    (re.compile(r"\.\.\.+"), " ... "),
    (re.compile(r"--+"), " -- "),
    (re.compile(r"(?<!\d),|,(?!\d)"), " , "),
    (re.compile(r"(?<!\d):|:(?!\d)"), " : "),
    (re.compile(r"[;!?]+"), lambda m: f" {m.group(0)} "),  # type: ignore[list-item]
    (re.compile(r"[$#]"), lambda m: f" {m.group(0)} "),  # type: ignore[list-item]
    (re.compile(r"%"), " % "),
    (re.compile(r"(\d)(am|pm)\b"), r"\1 \2"),
    # opening quote (but not an already split "'s" in pre-tokenised text)
    (re.compile(r"(?:(?<=\s)|^)['`]+(?!(?:s|re|ve|ll|d|m)\b)(?=\w)"), " ` "),
    (re.compile(r"(?<=[a-z])n't\b"), " n't"),
    (re.compile(r"(?<=[a-z])'(s|re|ve|ll|d|m)\b"), r" '\1"),
    (re.compile(r"(?<=s)'(?=\s|$)"), " ' "),  # plural possessive: dogs' -> dogs '
    (re.compile(r"(?<=\w)'(?=\s|$)"), " ' "),  # closing quote
]


def _split_period(tok: str) -> list[str]:
    """A word with trailing periods: keep dotted abbreviations and numbers, else split them off."""
    if not tok.endswith(".") or tok in (".", "..."):
        return [tok]
    if tok in _ABBREVIATIONS or re.fullmatch(r"([a-z]\.)+[a-z]?\.?", tok):
        return [tok]
    return [tok.rstrip("."), "."]


def ptb_tokenize_python(sentence: str) -> str:
    """Pure-Python mimic of PTBTokenizer + pycocoevalcap's punctuation filter for one caption.

    Returns the space-joined lowercase tokens (see the module docstring for the rules).
    """
    text = " " + sentence.replace("\n", " ").replace("\r", " ").lower() + " "
    for pat, rep in _SUBS:
        text = pat.sub(rep, text)  # type: ignore[arg-type]
    tokens: list[str] = []
    for tok in text.split():
        tokens.extend(_split_period(tok))
    return " ".join(t for t in tokens if t not in PUNCTUATIONS and t not in ("`", "'", "``", "''"))


def _java_tokenize(sentences: list[str]) -> list[str]:
    """PTBTokenizer (Java) on each sentence, one per line, then the punctuation filter."""
    if shutil.which("java") is None:
        raise RuntimeError("no `java` executable on PATH")
    if not _JAR.is_file():
        raise RuntimeError(f"PTBTokenizer jar not found at {_JAR}")
    text = "".join(s.replace("\r", " ").replace("\n", " ") + "\n" for s in sentences)
    proc = subprocess.run(
        ["java", "-cp", str(_JAR), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=300,
        env={**os.environ, "LC_ALL": os.environ.get("LC_ALL", "C.UTF-8")},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"java PTBTokenizer exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(sentences):
        raise RuntimeError(f"java PTBTokenizer returned {len(lines)} lines for {len(sentences)} sentences")
    return [" ".join(w for w in line.rstrip().split(" ") if w and w not in PUNCTUATIONS)
            for line in lines[: len(sentences)]]


def _warn_fallback(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            f"Java PTBTokenizer unavailable ({reason}); caption metrics use the pure-Python "
            "PTB mimic (vlseq.metrics.ptb_tokenizer.ptb_tokenize_python). Scores can differ "
            "slightly from the official COCO caption evaluation.",
            RuntimeWarning,
            stacklevel=3,
        )


def tokenize_sentences(sentences: Sequence[str], backend: str = "auto") -> list[str]:
    """Tokenise a list of captions; ``backend`` is ``"auto"`` (Java, else Python with a
    warning), ``"java"`` (error if Java fails) or ``"python"`` (the mimic, no warning)."""
    global _java_ok
    if backend not in ("auto", "java", "python"):
        raise ValueError(f"tokenizer backend must be 'auto', 'java' or 'python', got {backend!r}")
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise ValueError(f"caption {i} is not a string: {s!r}")
    if backend == "python" or not sentences:
        return [ptb_tokenize_python(s) for s in sentences]
    if backend == "java" or _java_ok is not False:
        try:
            out = _java_tokenize(list(sentences))
            _java_ok = True
            return out
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            if backend == "java":
                raise RuntimeError(f"Java PTBTokenizer failed: {e}") from e
            _java_ok = False
            _warn_fallback(str(e))
    return [ptb_tokenize_python(s) for s in sentences]


def tokenize_captions(captions: Mapping[K, Sequence[str]], backend: str = "auto") -> dict[K, list[str]]:
    """Tokenise ``{id: [caption, ...]}`` in one tokenizer run; same shape out, tokens space-joined."""
    keys: list[K] = []
    flat: list[str] = []
    for k, caps in captions.items():
        if isinstance(caps, str):
            raise ValueError(f"captions[{k!r}] must be a list of strings, got a string")
        for c in caps:
            keys.append(k)
            flat.append(c)
    out: dict[K, list[str]] = {k: [] for k in captions}
    for k, tok in zip(keys, tokenize_sentences(flat, backend)):
        out[k].append(tok)
    return out
