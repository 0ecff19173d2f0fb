"""Reading a sync's phone numbers on more than one core: helper processes running
`integrations.phones.extract_numbers`.

libphonenumber is pure Python: reading one phone field costs about 30 µs, most of a sync's time
when the CRM answers fast (`make bench`: 59 of 65 s at 1M records). A sync runs in a Celery
prefork child, which is a daemonic process and may not start `multiprocessing` children, so the
helpers are plain subprocesses (`python -m integrations.number_readers`) that talk over their
stdin and stdout in JSON, one message per line: a request is `[country, [text, ...]]`, the
answer one item per text (`serve`). A helper needs no Django settings and no database; it ends
when its stdin closes (the sync ended, or its process died).

`NumberReaders.read(texts, country=...)` gives exactly what `extract_numbers` gives for each text
(a list of `NormalizedNumber`, or the `PhoneNumberError` it raises): the helpers take a share of
the texts and this process reads the rest meanwhile. A helper that fails (died, killed, answered
garbage) is stopped and its share read here, with a warning in the log; the sync's result does
not change. `submit` and `collect` split `read` in two, so a caller can send the next texts to
the helpers before it writes the rows of the last ones (`integrations.sync._read_ahead`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from integrations.phones import NormalizedNumber, PhoneNumberError, extract_numbers
from integrations.texts import Text, text_json

logger = logging.getLogger(__name__)

Reading = list[NormalizedNumber] | PhoneNumberError
"""What `extract_numbers` gave for one text: its numbers, or the error it raised."""

# This process also writes the rows (and fetches or generates the records), so it reads a smaller
# share than each helper: its weight against a helper's 1.0.
_OWN_WEIGHT = 0.4
_STOP_SECONDS = 5.0
_ROOT = Path(__file__).resolve().parent.parent


def read_here(texts: Sequence[str], *, country: str) -> list[Reading]:
    """`extract_numbers` of each text in this process (the helpers run the same)."""
    out: list[Reading] = []
    for text in texts:
        try:
            out.append(extract_numbers(text, country=country))
        except PhoneNumberError as exc:
            out.append(exc.with_traceback(None))
    return out


def _send(stream: IO[bytes], value: Any) -> None:
    # ensure_ascii: a line break inside a text is escaped, so a message is exactly one line.
    stream.write(json.dumps(value, separators=(",", ":")).encode("ascii") + b"\n")
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message on `stream`; raises `EOFError` when the stream ends (`ValueError` when
    the line is not JSON)."""
    line = stream.readline()
    if not line.endswith(b"\n"):
        raise EOFError("the stream ended")
    return json.loads(line)


@dataclass
class _Helper:
    """One helper process. It has at most one request at a time: a request submitted while it
    works waits in `queued` and is sent when its answer is taken. (A second request written to
    its stdin while it blocks writing a long answer to a full stdout pipe would deadlock both.)"""

    process: subprocess.Popen[bytes]
    working: bool = False
    queued: deque[list[Any]] = field(default_factory=deque)

    def ask(self, message: list[Any]) -> None:
        """Send `message` now, or after the answer it is working on."""
        if self.working:
            self.queued.append(message)
        else:
            _send(self.process.stdin, message)  # type: ignore[arg-type]
            self.working = True

    def answer(self) -> Any:
        """The answer to the oldest request; the next queued request goes out at once."""
        got = _receive(self.process.stdout)  # type: ignore[arg-type]
        self.working = False
        if self.queued:
            self.ask(self.queued.popleft())
        return got


class Pending:
    """Texts sent to the helpers (`NumberReaders.submit`), to `collect` once, in the order
    submitted."""

    def __init__(self, texts: Sequence[str], country: str, shares: list[tuple[_Helper, list[int]]]) -> None:
        self.texts = texts
        self.country = country
        self.shares = shares


class NumberReaders:
    """Up to `count` helper processes reading phone numbers for one sync (a context manager:
    the helpers stop when it exits; also by `close()`).

    `count` 0 reads everything in this process. Helpers start at the first `submit` (about
    0.2 s each), so a sync that never submits never starts one.
    """

    def __init__(self, count: int) -> None:
        self.count = max(0, count)
        self._helpers: list[_Helper] = []
        self._started = False

    def __enter__(self) -> NumberReaders:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The running helpers' process ids."""
        return [helper.process.pid for helper in self._helpers]

    def read(self, texts: Sequence[str], *, country: str) -> list[Reading]:
        """`extract_numbers` of each text (a list of `NormalizedNumber`, or its `PhoneNumberError`),
        in order; `country` the ISO 3166 alpha-2 default region ("" for none)."""
        return self.collect(self.submit(texts, country=country))

    def submit(self, texts: Sequence[str], *, country: str) -> Pending:
        """Give the helpers their share of `texts` (sent now, or when a helper's work before it
        is collected); `collect` reads the rest and returns all."""
        if not self._started and self.count and texts:
            self._start()
        shares: list[tuple[_Helper, list[int]]] = []
        if self._helpers and texts:
            per_helper = int(len(texts) / (len(self._helpers) + _OWN_WEIGHT))
            start = 0
            for helper in list(self._helpers):
                indexes = list(range(start, min(len(texts), start + per_helper)))
                start += len(indexes)
                if not indexes:
                    continue
                try:
                    helper.ask([country, [texts[i] for i in indexes]])
                except (OSError, ValueError) as exc:  # a broken pipe, a closed stream
                    self._drop(helper, exc)
                    continue
                shares.append((helper, indexes))
        return Pending(texts, country, shares)

    def collect(self, pending: Pending) -> list[Reading]:
        """Read the texts no helper took, then take the helpers' answers (a failed helper's share
        is read here)."""
        texts, country = pending.texts, pending.country
        results: list[Reading | None] = [None] * len(texts)
        taken = {i for _, indexes in pending.shares for i in indexes}
        own = [i for i in range(len(texts)) if i not in taken]
        for i, reading in zip(own, read_here([texts[i] for i in own], country=country), strict=True):
            results[i] = reading
        for helper, indexes in pending.shares:
            readings: list[Reading | None] = [None] * len(indexes)
            if helper in self._helpers:  # else it failed earlier: its share is read here
                try:
                    answer = helper.answer()
                    if not isinstance(answer, list) or len(answer) != len(indexes):
                        raise ValueError(f"an answer of {type(answer).__name__} for {len(indexes)} texts")
                    readings = [_reading(item) if item is not None else None for item in answer]
                except Exception as exc:  # died, killed, or garbage: this process reads its share
                    self._drop(helper, exc)
                    readings = [None] * len(indexes)
            for i, got in zip(indexes, readings, strict=True):
                results[i] = got if got is not None else read_here([texts[i]], country=country)[0]
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Stop the helpers: close their stdin, wait `_STOP_SECONDS`, then kill."""
        for helper in self._helpers:
            _stop(helper.process)
        self._helpers.clear()

    def _start(self) -> None:
        self._started = True
        for _ in range(self.count):
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "integrations.number_readers"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    cwd=_ROOT,
                )
            except OSError as exc:
                logger.warning("could not start a number reader (%s); reading in this process", exc)
                break
            self._helpers.append(_Helper(process))

    def _drop(self, helper: _Helper, exc: BaseException) -> None:
        logger.warning(
            "number reader %s failed (%s: %s); this process reads its share",
            helper.process.pid,
            type(exc).__name__,
            exc,
        )
        if helper in self._helpers:
            self._helpers.remove(helper)
        _stop(helper.process)


def _reading(item: Any) -> Reading:
    """A helper's answer for one text (see `serve`) as `read_here` gives it."""
    if isinstance(item, dict):
        text = Text.from_json(item["text"]) if item.get("text") else item["error"]
        if str(text) != item["error"]:
            raise ValueError(f"a reason that does not read back: {item!r:.200}")
        return PhoneNumberError(text)
    return [NormalizedNumber(e164=str(e164), extension=str(extension)) for e164, extension in item]


def _stop(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        process.wait(timeout=_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """(Helper process) answer requests until stdin ends. Each text's answer is a list of
    `[e164, extension]`, `{"error": English reason, "text": its Text JSON or null}` for the
    `PhoneNumberError` it raised, or null when reading it failed otherwise (the sync's process
    then reads it and sees the error itself)."""
    while True:
        try:
            country, texts = _receive(stdin)
        except EOFError:
            return
        answer: list[Any] = []
        for text in texts:
            try:
                answer.append([(n.e164, n.extension) for n in extract_numbers(text, country=country)])
            except PhoneNumberError as exc:
                answer.append({"error": str(exc), "text": text_json(exc.text)})
            except Exception:
                answer.append(None)
        _send(stdout, answer)


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
