"""The progress a run shows on stderr: texts done, rate and time left.

On a terminal one line is redrawn in place (a bar, ``120/1000 texts``, the rate, the time left
and what the current chunk is computing); anywhere else (a log file, CI) one plain line is
printed per chunk, so a log shows how far a long run got. Texts that a resumed run found already
done count as done but not towards the rate.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

BAR_WIDTH = 24


def clock_text(seconds: float) -> str:
    """``1:05`` / ``2:03:04``; ``?`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TextProgress:
    """A :class:`reportgen.pipeline.Progress` that writes to ``stream`` (torch-free: no import of the pipeline)."""

    def __init__(
        self, stream: TextIO | None = None, tty: bool | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty() if tty is None else tty
        self._clock = clock
        self._total = 0
        self._done = 0
        self._computed = 0
        self._stage = ""
        self._start = 0.0
        self._drawn = False

    def start(self, total: int, label: str) -> None:
        self._total, self._done, self._computed, self._stage = total, 0, 0, ""
        self._start = self._clock()
        if self._tty:
            self._draw()

    def resumed(self, count: int) -> None:
        self._done += count
        self._emit(f"{count} text{'s' if count != 1 else ''} already done (resumed)")

    def advance(self, count: int) -> None:
        self._done += count
        self._computed += count
        self._emit()

    def stage(self, label: str) -> None:
        self._stage = label
        if self._tty:
            self._draw()

    def stop(self) -> None:
        if self._tty and self._drawn:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
            self._drawn = False

    def line(self) -> str:
        """``120/1000 texts, 3.2 texts/s, 4:35 left``."""
        elapsed = self._clock() - self._start
        rate = self._computed / elapsed if elapsed > 0 and self._computed else 0.0
        left = (self._total - self._done) / rate if rate > 0 else float("nan")
        rate_text = f"{rate:.2f} texts/s" if rate else "- texts/s"
        return f"{self._done}/{self._total} texts, {rate_text}, {clock_text(left)} left"

    def _emit(self, note: str | None = None) -> None:
        if self._tty:
            self._draw()
        else:
            self._stream.write(f"reportgen: {note if note else self.line()}\n")
            self._stream.flush()

    def _draw(self) -> None:
        filled = int(BAR_WIDTH * self._done / self._total) if self._total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        stage = f" [{self._stage}]" if self._stage and self._done < self._total else ""
        self._stream.write(f"\r\x1b[2K[{bar}] {self.line()}{stage}")
        self._stream.flush()
        self._drawn = True
