"""The tape: a JSON-lines recording of every frame, written off the event loop.

The relay hands each record to `Tape.write()`, which only appends to a queue;
a writer thread serialises and writes. `close()` drains the queue and flushes,
so a shutdown (Ctrl-C included) loses nothing that was handed over.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, BinaryIO

import orjson

__all__ = ["Tape"]

_STOP = object()


class Tape:
    """Appends one JSON object per line to `path`."""

    def __init__(self, path: str | Path, *, flush_every: float = 0.5) -> None:
        self.path = Path(path)
        self._file: BinaryIO = self.path.open("ab")
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._flush_every = flush_every
        self.written = 0
        self.errors = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ocpp-chaos-tape", daemon=True)
        self._thread.start()

    def write(self, line: dict[str, Any]) -> None:
        """Queue one line. Never blocks, never raises once the tape is open."""
        if not self._closed:
            self._queue.put(line)

    def _run(self) -> None:
        f = self._file
        while True:
            try:
                item = self._queue.get(timeout=self._flush_every)
            except queue.Empty:
                f.flush()
                continue
            if item is _STOP:
                break
            if isinstance(item, threading.Event):
                f.flush()
                item.set()
                continue
            try:
                f.write(orjson.dumps(item, default=str) + b"\n")
                self.written += 1
            except (TypeError, OSError, ValueError):
                self.errors += 1
        f.flush()

    def sync(self, timeout: float = 5.0) -> bool:
        """Wait (blocking; call it from a thread) until every line queued so far is
        written and flushed. False if the writer did not get there within `timeout`."""
        if self._closed:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self) -> None:
        """Write everything queued so far, flush and close the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._file.close()
