"""METEOR 1.5 through the jar pycocoevalcap ships, with clear errors instead of hangs.

The COCO caption evaluation (and the image paragraph papers after it) score METEOR with
``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm``: one ``SCORE ||| ref ||| ... ||| hyp`` line
per image gives that image's statistics, then one ``EVAL ||| stats ||| ...`` line gives the
per-image scores and the corpus score (computed from the summed statistics, so it is not the mean
of the per-image scores). :class:`MeteorScorer` speaks that protocol to the same jar with the same
flags, so its numbers are pycocoevalcap's; what differs is the failure handling:

* no ``java`` on the PATH, a missing jar or paraphrase table, or a process that dies or stops
  answering (``timeout`` seconds per call) is a :class:`MeteorError` saying what failed (with the
  tail of the process's stderr) -- never a made-up score and never a hang;
* a failed call does not leave a held lock behind (pycocoevalcap's wrapper then deadlocks when it is
  garbage-collected).

Starting the JVM and loading the paraphrase table takes seconds (about 17 s on a loaded 2-core
machine), so :func:`meteor_score` keeps one process per Python process (``-Xmx2G`` caps its heap)
and closes it at exit; pass your own :class:`MeteorScorer` to control its life.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Hashable, Mapping, Sequence

from pycocoevalcap.meteor import meteor as _pycoco_meteor

#: The jar and the flags of the standard evaluation (pycocoevalcap's ``Meteor``).
JAR = Path(_pycoco_meteor.__file__).resolve().parent / _pycoco_meteor.METEOR_JAR
PARAPHRASES = JAR.parent / "data" / "paraphrase-en.gz"
COMMAND = ("java", "-jar", "-Xmx2G", JAR.name, "-", "-", "-stdio", "-l", "en", "-norm")


class MeteorError(RuntimeError):
    """METEOR could not score: Java missing, the jar failing, or the process dying or hanging."""


def _clean(text: str) -> str:
    # "|||" separates fields of the protocol and a newline ends a request: neither may be data.
    return " ".join(text.replace("|||", " ").split())


def meteor_missing(command: Sequence[str] = COMMAND) -> str | None:
    """Why METEOR cannot run here (no Java, a broken install), or None when it can start."""
    if shutil.which(command[0]) is None:
        return (f"METEOR needs a Java runtime: no {command[0]!r} executable on PATH "
                "(install a JRE, e.g. Debian's default-jre-headless)")
    if not JAR.is_file() or not PARAPHRASES.is_file():
        return f"METEOR's jar or paraphrase table is missing from {JAR.parent} (a broken pycocoevalcap install)"
    return None


class MeteorScorer:
    """One running METEOR process; :meth:`score` may be called many times (thread-safe).

    Raises :class:`MeteorError` when Java or the jar is missing, or the process will not start.
    """

    def __init__(self, timeout: float = 600.0, command: Sequence[str] = COMMAND) -> None:
        self.timeout = timeout
        self.command = list(command)
        missing = meteor_missing(self.command)
        if missing:
            raise MeteorError(missing)
        self._stderr = tempfile.TemporaryFile()
        self._lock = threading.Lock()
        self._timed_out = False
        self._failed = False  # a failure was reported: later calls say the process is gone
        try:
            self.proc = subprocess.Popen(self.command, cwd=JAR.parent, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr)
        except OSError as e:
            raise MeteorError(f"METEOR could not start ({' '.join(self.command)}): {e}") from e

    def _failure(self, what: str) -> MeteorError:
        self._failed = True
        if self.proc.poll() is None:
            self.proc.kill()
        rc = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip()[-800:]
        why = f"no answer within {self.timeout:g} s" if self._timed_out else f"the process exited with status {rc}"
        return MeteorError(f"METEOR failed while {what}: {why} ({' '.join(self.command)} in {JAR.parent})"
                           + (f"; its stderr ends: {tail}" if tail else ""))

    def _ask(self, line: str, answers: int, what: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((line + "\n").encode("utf-8"))
            self.proc.stdin.flush()
            out = [self.proc.stdout.readline().decode("utf-8").strip() for _ in range(answers)]
        except (BrokenPipeError, OSError) as e:
            raise self._failure(what) from e
        if any(not o for o in out):
            raise self._failure(what)
        return out

    def score(self, references: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str]) -> tuple[float, dict]:
        """``(corpus METEOR, {id: METEOR})`` of already tokenised ``predictions`` against ``references``."""
        ids = list(references)
        with self._lock:
            if self.proc.poll() is not None and not self._failed:
                # it died before its first answer (e.g. a jar that fails to start): say why, with its stderr
                raise self._failure("starting")
            if self.proc.poll() is not None:
                raise MeteorError(f"METEOR's process is not running (exit status {self.proc.returncode}; a timeout or "
                                  "an earlier failure ends it): start a new MeteorScorer")
            timer = threading.Timer(self.timeout, self._expire)
            timer.start()
            try:
                stats = []
                for k in ids:
                    line = " ||| ".join(["SCORE", *(_clean(r) for r in references[k]), _clean(predictions[k])])
                    stats += self._ask(line, 1, f"scoring image {k!r}")
                out = self._ask(" ||| ".join(["EVAL", *stats]), len(ids) + 1, "computing the corpus score")
                try:
                    values = [float(v) for v in out]
                except ValueError:
                    self.proc.kill()  # out of step with the protocol: its next answers would be misread
                    raise MeteorError(f"METEOR answered {out[:3]!r}..., not scores") from None
            finally:
                timer.cancel()
        return values[-1], dict(zip(ids, values[:-1]))

    def _expire(self) -> None:
        self._timed_out = True
        self.proc.kill()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Stop the process (idempotent)."""
        if self.proc.poll() is None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()

    def __del__(self) -> None:
        # No lock here: a scorer dropped mid-call must not block garbage collection.
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()

    def __enter__(self) -> "MeteorScorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: MeteorScorer | None = None
_shared_lock = threading.Lock()


def shared_scorer() -> MeteorScorer:
    """The process-wide scorer, started on first use (and again if it died)."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive():
            if _shared is not None:
                _shared.close()
            _shared = MeteorScorer()
        return _shared


@atexit.register
def close_shared() -> None:
    """Stop the process-wide scorer (run at exit; call it to free the JVM's memory sooner)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


def meteor_tokenized(references: Mapping[Hashable, Sequence[str]], predictions: Mapping[Hashable, str],
                     scorer: MeteorScorer | None = None) -> tuple[float, dict]:
    """``(corpus METEOR, per id)`` of tokenised texts with ``scorer`` (default: :func:`shared_scorer`)."""
    return (scorer or shared_scorer()).score(references, predictions)
