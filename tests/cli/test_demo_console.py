"""`ocpp-chaos demo` as a user starts it: in a terminal (a pseudo-terminal here), the
console opens over the running demo, a key fires a fault, `q` quits and the summary with
the verdict is printed; the logs went to the log file, not over the console."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[>=]")


def _read_until(fd: int, pattern: bytes, timeout: float, seen: bytearray) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            seen.extend(chunk)
            if pattern in ANSI.sub(b"", bytes(seen)):
                return True
    return False


def test_the_demo_opens_the_console_and_quits_with_a_summary(tmp_path: Path) -> None:
    log_file = tmp_path / "console.log"
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "45"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocpp_chaos",
            "demo",
            "--chargers",
            "4",
            "--api",
            "127.0.0.1:0",
            "--log-file",
            str(log_file),
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        assert _read_until(master, b"DEMO-004", 60, seen), ANSI.sub(b"", bytes(seen))[-2000:]
        os.write(master, b"q")
        assert _read_until(master, b"every charger back online", 60, seen)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    text = ANSI.sub(b"", bytes(seen)).decode("utf-8", "replace")
    assert "ocpp-chaos demo" in text and "chargers / sessions" in text
    lines = [json.loads(x) for x in log_file.read_text().splitlines() if x.strip()]
    events = {e["event"] for e in lines}
    assert {"demo_started", "api_listening", "proxy_stopped"} <= events
    assert "demo_started" not in text  # logs never reach the terminal
