"""The CSMS oracle: what the CSMS under test did wrong or slowly, with the spec reference.

Sans-IO, like the monitor: no sockets, no sleeping, clocks passed in. The proxy
shows it what really crossed the wire, on the CSMS's side of the rules:

- every frame as it was WRITTEN to the CSMS (after the rules: a dropped frame is
  never seen, a corrupted, duplicated, injected or delayed one is, when written);
- every frame as it was READ from the CSMS (before the rules);
- each session's handshake (the subprotocols offered and the one selected), a
  refused upgrade, and each session's end (who closed it, with which code).

From that it records `Finding`s, one per thing the CSMS did wrong (`KINDS` lists
them with their severity and where the specification says so), keeps response-time
histograms per action, and tells subscribers (the proxy's tape and event sinks).

Timing: `SessionWatch.written()`/`read()` take the monotonic time of the write or
read; `Oracle.tick(now)` (the proxy calls it about once a second) reports CALLs
that stayed unanswered past the timeout; `Oracle.finish(now)` runs the end-of-run
checks. Findings carry the wall-clock time of the `wall_clock` given.

Memory is bounded: a session's state is forgotten when it closes (what the
end-of-run checks need lives per charger, capped), every per-session and
per-charger table has a cap, and only the first `max_findings` findings are kept
(the rest are counted per kind).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import re
import time
from bisect import bisect_left
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import structlog

from ocpp_chaos.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    MalformedReason,
    Message,
    SchemaChecker,
    SchemaVerdict,
    Send,
    parse,
    version_of_subprotocol,
)
from ocpp_chaos.frames.codes import is_valid_error_code

__all__ = [
    "HISTOGRAM_BOUNDS",
    "KINDS",
    "Finding",
    "Oracle",
    "OracleConfig",
    "ResponseTimes",
    "SessionWatch",
    "Severity",
]

log = structlog.get_logger("ocpp_chaos.oracle")

Severity = Literal["error", "warning"]

# -- the kinds of finding ------------------------------------------------------------

# kind -> (severity, reference in OCPP 1.6, reference in OCPP 2.0.1/2.1, description).
# "OCPP-J 1.6" is the OCPP-J 1.6 specification; "2.0.1 Part 4" is OCPP-J for 2.0.1
# (2.1's Part 4 keeps the §4 RPC numbers but not all of §3 and §5: for 2.1 sessions read
# the §3 references as 2.0.1's); Part 2 holds the use cases (B02, E13...).
_TABLE: dict[str, tuple[Severity, str | None, str | None, str]] = {
    "slow_response": (
        "warning",
        "OCPP-J 1.6 §4.1.1",
        "OCPP 2.0.1 Part 4 §4.1.1",
        "the CSMS answered a CALL later than the slow threshold (default 2 s); a charger "
        "may time the CALL out",
    ),
    "unanswered_call": (
        "error",
        "OCPP-J 1.6 §4.1.1, §4.2.2, §4.2.3",
        "OCPP 2.0.1 Part 4 §4.1.1, §4.2.2, §4.2.3",
        "a CALL written to the CSMS got neither CALLRESULT nor CALLERROR within the "
        "timeout (default 30 s), or by the end of the run",
    ),
    "unanswered_at_close": (
        "warning",
        "OCPP-J 1.6 §4.1.1",
        "OCPP 2.0.1 Part 4 §4.1.1",
        "the session ended while a CALL (or a malformed frame) older than the slow "
        "threshold was still unanswered",
    ),
    "unknown_unique_id": (
        "error",
        "OCPP-J 1.6 §4.1.4",
        "OCPP 2.0.1 Part 4 §4.1.4",
        "the CSMS answered a unique id it was never sent, or answered one twice",
    ),
    "wrong_response_type": (
        "error",
        "OCPP-J 1.6 §4.1.3",
        "OCPP 2.0.1 Part 4 §4.1.3, §4.4",
        "the CSMS sent a message type its OCPP version does not have (5 or 6 outside "
        "2.1, an unknown number), or answered its own CALL",
    ),
    "malformed_from_csms": (
        "error",
        "OCPP-J 1.6 §4.1.2",
        "OCPP 2.0.1 Part 4 §4.1.2",
        "the CSMS sent a frame that is not an OCPP-J message (not JSON, not UTF-8, "
        "binary, wrong array)",
    ),
    "schema_invalid_response": (
        "error",
        "OCPP-J 1.6 §4.2.2 and the OCPP 1.6 JSON schemas",
        "OCPP 2.0.1 Part 4 §4.1.2, §4.1.7 and the OCPP JSON schemas",
        "a CALLRESULT from the CSMS is invalid for the action of the CALL it answers",
    ),
    "schema_invalid_request": (
        "error",
        "OCPP-J 1.6 §4.2.1 and the OCPP 1.6 JSON schemas",
        "OCPP 2.0.1 Part 4 §4.1.2, §4.1.7 and the OCPP JSON schemas",
        "a CALL from the CSMS is invalid (unknown action or payload against its schema)",
    ),
    "unknown_error_code": (
        "error",
        "OCPP-J 1.6 §4.2.3 (Table 7)",
        "OCPP 2.0.1 Part 4 §4.3 (Table 8)",
        "a CALLERROR from the CSMS carries an error code its OCPP version does not define",
    ),
    "concurrent_call": (
        "error",
        "OCPP-J 1.6 §4.1.1 (SHOULD NOT)",
        "OCPP 2.0.1 Part 4 §4.1.1 (SHALL NOT)",
        "the CSMS sent a CALL while its previous CALL to that charger was unanswered "
        "and younger than call_timeout, taken as the CSMS's own timeout (a warning on 1.6, "
        "where it is a SHOULD NOT)",
    ),
    "malformed_unanswered": (
        "error",
        "OCPP-J 1.6 §4.2.3",
        "OCPP 2.0.1 Part 4 §4.1.7, §4.2.3, §4.4",
        "a malformed frame written to the CSMS got no CALLERROR within the timeout (a "
        "warning on 1.6, which does not require the answer)",
    ),
    "transaction_not_acknowledged": (
        "error",
        "OCPP 1.6 §3.7, §4.8, §4.10",
        "OCPP 2.0.1 Part 2 E13",
        "a transaction message written to the CSMS was never answered with a CALLRESULT "
        "(not even a retry of it) by the end of the run",
    ),
    "transaction_message_rejected": (
        "error",
        "OCPP 1.6 §3.7.1, §4.8, §4.10",
        "OCPP 2.0.1 Part 2 E13",
        "the CSMS answered a transaction message with a CALLERROR",
    ),
    "acknowledged_out_of_order": (
        "warning",
        "OCPP 1.6 §3.7",
        "OCPP 2.0.1 Part 2 functional block E",
        "the CSMS answered a charger's transaction messages in another order than they "
        "were written",
    ),
    "duplicate_transaction": (
        "error",
        "OCPP 1.6 §3.7.1, §4.8",
        None,
        "two StartTransaction CALLs with identical payloads (a retry or a duplicated "
        "frame) got different transactionIds: one charge counted twice",
    ),
    "seqno_rejected": (
        "error",
        None,
        "OCPP 2.0.1 Part 2 E13 (TransactionEventRequest.seqNo)",
        "a TransactionEvent repeated, restarting or skipping its seqNo was answered with "
        "a CALLERROR (the CSMS must accept it)",
    ),
    "accepted_before_boot": (
        "error",
        None,
        "OCPP 2.0.1 Part 2 B02.FR.09, B03.FR.07",
        "a CALL other than BootNotification, written while the charger's boot was not "
        "Accepted, got a CALLRESULT instead of CALLERROR SecurityError",
    ),
    "upgrade_refused": (
        "error",
        "OCPP-J 1.6 §3.2; RFC 6455 §4.2.2",
        "OCPP 2.0.1 Part 4 §3.2; RFC 6455 §4.2.2",
        "the CSMS answered the WebSocket upgrade with an HTTP status, or could not be "
        "reached at all",
    ),
    "subprotocol_mismatch": (
        "error",
        "OCPP-J 1.6 §3.1.2, §3.2",
        "OCPP 2.0.1 Part 4 §3.1.2, §3.2",
        "the CSMS selected a subprotocol that was not offered (an error), or none (a "
        "warning: allowed only to close the connection at once)",
    ),
    "closed_by_csms": (
        "warning",
        "RFC 6455 §7.1.5, §7.4",
        "OCPP 2.0.1 Part 4 §3.1; RFC 6455 §7.1.5, §7.4",
        "the CSMS closed a session (an error when the connection was reset or closed "
        "with 1002 protocol error, 1006 or 1011 internal error)",
    ),
}

KINDS: dict[str, tuple[Severity, str, str]] = {
    kind: (severity, "; ".join(ref for ref in (v16, v2x) if ref), description)
    for kind, (severity, v16, v2x, description) in _TABLE.items()
}
"""Every kind of finding: name -> (default severity, spec reference, description)."""


def _spec(kind: str, version: str | None) -> str:
    _severity, v16, v2x, _description = _TABLE[kind]
    if version == "1.6" and v16:
        return v16
    if version in ("2.0.1", "2.1") and v2x:
        return v2x.replace("2.0.1", version) if version == "2.1" else v2x
    return KINDS[kind][1]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the CSMS did wrong or slowly."""

    kind: str
    severity: Severity
    charger_id: str
    session: str | None
    """The session it happened in (None when no session came to be)."""
    time: float
    """Wall-clock time (Unix seconds) it was found."""
    spec: str
    """Where the specification says so, e.g. "OCPP-J 1.6 §4.1.1"."""
    message: str
    """One sentence for a human."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """unique_id, action, frame (an excerpt of at most 200 characters), codes, times..."""

    def to_json(self) -> dict[str, Any]:
        """The tape line and event-stream form: `{"type": "finding", ...}`."""
        return {
            "type": "finding",
            "t": round(self.time, 6),
            "kind": self.kind,
            "severity": self.severity,
            "charger": self.charger_id,
            "session": self.session,
            "spec": self.spec,
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class OracleConfig:
    """What counts as slow, as unanswered, and how much the oracle keeps."""

    slow_threshold: float = 2.0
    """Seconds: an answer later than this is a `slow_response`."""
    call_timeout: float = 30.0
    """Seconds: a CALL (or malformed frame) unanswered this long is reported."""
    tick_interval: float = 1.0
    """Seconds between the proxy's `tick()` calls."""
    max_findings: int = 10_000
    """Findings kept; later ones are only counted (per kind)."""
    reservoir: int = 1024
    """Response-time samples kept per action for the percentiles."""
    unbooted_until_seen: bool = False
    """2.0.1/2.1: treat a charger never seen booting as not accepted. Off by default:
    B02.FR.09/B03.FR.07 apply once the charger got a Pending/Rejected answer, and a
    charger that reconnects is told not to boot again (Part 4 §5.3), so one seen
    first without a BootNotification may well have booted before the proxy started."""
    max_chargers: int = 100_000
    """Chargers whose state (boot, transactions) is kept; the oldest idle go first."""

    def __post_init__(self) -> None:
        for name in ("slow_threshold", "call_timeout", "tick_interval"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.tick_interval <= 0:
            raise ValueError("tick_interval must be > 0")
        if self.max_findings < 0 or self.reservoir < 1 or self.max_chargers < 1:
            raise ValueError("max_findings >= 0, reservoir >= 1 and max_chargers >= 1")


# -- response times --------------------------------------------------------------------

_BUCKET_MIN = 1e-4
"""The first bucket ends at 100 µs."""
_PER_DECADE = 10
_BUCKETS = 7 * _PER_DECADE + 1
"""100 µs to 1,000 s, ten buckets per decade (each ~26% wide), plus one above."""
_BOUNDS = [_BUCKET_MIN * 10 ** (i / _PER_DECADE) for i in range(_BUCKETS)]
_BUCKET_OF = partial(bisect_left, _BOUNDS)
HISTOGRAM_BOUNDS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)  # fmt: skip
"""Upper bounds (seconds) of the fixed buckets of `ResponseTimes.histogram()`: the usual
Prometheus ones, with 1 and 2.5 ms for a near CSMS and 30 s for the default timeout."""
_HISTOGRAM_OF = partial(bisect_left, HISTOGRAM_BOUNDS)
_MAX_ACTIONS = 256
_OTHER_ACTION = "(other)"


class ResponseTimes:
    """Response times of one action: exact count, sum and max, fixed log-scale buckets,
    and a bounded uniform reservoir of samples for the percentiles.

    Percentiles are exact up to `reservoir` samples and estimates from a uniform
    sample beyond; the buckets count every sample (Prometheus-style histogram), both
    the log-scale ones of `buckets()` and the fixed `HISTOGRAM_BOUNDS` of `histogram()`.
    `add()` only queues a sample (it runs for every answer); they are folded in by
    the hundred, or when a figure is read.
    """

    __slots__ = (
        "_buckets",
        "_count",
        "_fixed",
        "_max",
        "_queued",
        "_random",
        "_reservoir",
        "_size",
        "_skip_to",
        "_total",
        "_w",
    )

    _FOLD_EVERY = 256

    def __init__(self, reservoir: int = 1024, seed: int = 0) -> None:
        self._count = 0
        self._total = 0.0
        self._max = 0.0
        self._buckets = [0] * (_BUCKETS + 1)
        self._fixed = [0] * (len(HISTOGRAM_BOUNDS) + 1)
        self._reservoir: list[float] = []
        self._size = reservoir
        self._random = random.Random(seed).random
        self._queued: list[float] = []
        self._skip_to = 0
        self._w = 1.0

    def add(self, seconds: float) -> None:
        """Record one response time in seconds."""
        queued = self._queued
        queued.append(seconds)
        if len(queued) >= self._FOLD_EVERY:
            self._fold()

    def _fold(self) -> None:
        """Fold the queued samples in, mostly in C (map, Counter, sum, max)."""
        queued = self._queued
        if not queued:
            return
        self._queued = []
        if min(queued) < 0.0:
            queued = [max(x, 0.0) for x in queued]
        buckets = self._buckets
        # Each sample in the bucket of the first bound >= it (past the last: the overflow).
        for index, hits in Counter(map(_BUCKET_OF, queued)).items():
            buckets[index] += hits
        fixed = self._fixed
        for index, hits in Counter(map(_HISTOGRAM_OF, queued)).items():
            fixed[index] += hits
        n = self._count
        self._count = n + len(queued)
        self._total += sum(queued)
        self._max = max(self._max, max(queued))
        reservoir, size = self._reservoir, self._size
        if n < size:
            room = size - n
            reservoir.extend(queued[:room])
            if len(reservoir) < size:
                return
            n = size
            self._skip_to = self._next_replacement(n, first=True)
            queued = queued[room:]
        # Algorithm L: only the samples that stay cost anything.
        end = n + len(queued)
        skip_to = self._skip_to
        while skip_to <= end:
            reservoir[int(self._random() * size)] = queued[skip_to - n - 1]
            skip_to = self._next_replacement(skip_to)
        self._skip_to = skip_to

    def _next_replacement(self, n: int, *, first: bool = False) -> int:
        """Algorithm L (Li, 1994): the number of the next sample to keep in the full
        reservoir, so that each of the samples so far stays with probability size/n;
        only the kept ones cost a random draw."""
        rand, size = self._random, self._size
        factor = math.exp(math.log(rand() or 1e-300) / size)
        self._w = factor if first else self._w * factor
        if self._w >= 1.0:
            return n + 1
        return n + int(math.log(rand() or 1e-300) / math.log1p(-self._w)) + 1

    @property
    def count(self) -> int:
        self._fold()
        return self._count

    @property
    def max(self) -> float:
        self._fold()
        return self._max

    @property
    def total(self) -> float:
        self._fold()
        return self._total

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0..1) in seconds, None without samples."""
        self._fold()
        return _pick(sorted(self._reservoir), q)

    @property
    def p50(self) -> float | None:
        return self.quantile(0.5)

    @property
    def p95(self) -> float | None:
        return self.quantile(0.95)

    @property
    def p99(self) -> float | None:
        return self.quantile(0.99)

    @property
    def mean(self) -> float | None:
        self._fold()
        return self._total / self._count if self._count else None

    def buckets(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, count) for each non-empty bucket; the last bound is inf."""
        self._fold()
        return [
            (_BOUNDS[i] if i < _BUCKETS else math.inf, n) for i, n in enumerate(self._buckets) if n
        ]

    def histogram(self) -> tuple[list[tuple[float, int]], float]:
        """The Prometheus histogram of every sample: ([(upper bound in seconds, samples <=
        it), ...] for each of `HISTOGRAM_BOUNDS` and then inf, cumulative, the last being
        the count), sum in seconds); all from one fold, so they agree."""
        self._fold()
        out = []
        running = 0
        for le, n in zip((*HISTOGRAM_BOUNDS, math.inf), self._fixed, strict=True):
            running += n
            out.append((le, running))
        return out, self._total

    def to_json(self) -> dict[str, Any]:
        """{count, p50, p95, p99, max, mean (seconds), buckets: [[upper_s, count], ...]};
        the last bucket's bound is None (infinity), empty buckets are left out."""
        self._fold()
        ordered = sorted(self._reservoir)

        def pick(q: float) -> float | None:
            value = _pick(ordered, q)
            return None if value is None else round(value, 6)

        mean = self.mean
        return {
            "count": self._count,
            "p50": pick(0.5),
            "p95": pick(0.95),
            "p99": pick(0.99),
            "max": round(self._max, 6) if self._count else None,
            "mean": None if mean is None else round(mean, 6),
            "buckets": [[None if math.isinf(le) else round(le, 7), n] for le, n in self.buckets()],
        }


def _pick(ordered: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile of sorted samples."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- state ---------------------------------------------------------------------------------

_MAX_PENDING = 256
"""Unanswered CALLs kept per session; past it the oldest is forgotten."""
_MAX_LATE = 64
"""CALLs already reported unanswered, kept in case a late answer comes."""
_MAX_CSMS_CALLS = 64
_MAX_MALFORMED = 64
_MAX_STARTS = 256
_MAX_TX_SEQS = 64
_MAX_SEEN_SEQS = 4096
_MAX_UNACKED = 1024
_EXCERPT = 200

_BOOT_UNKNOWN, _BOOTING, _NOT_ACCEPTED, _ACCEPTED = range(4)
_TX_ACTIONS = frozenset({"StartTransaction", "StopTransaction", "MeterValues", "TransactionEvent"})
_WATCHED_2X = frozenset({"BootNotification", "TransactionEvent"})
_RESULT_CHECKS = frozenset({"BootNotification", "StartTransaction"})
"""Actions whose CALLRESULT always needs a look (boot acceptance, transaction ids)."""
_RECENT = 16
_RECENT_MASK = _RECENT - 1
# While Pending, a charger may send what the CSMS asked for (B02.FR.09): the message a
# TriggerMessage requested, or the NotifyReports of a GetBaseReport/GetReport.
_TRIGGERED = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}
_CLOSE_ERRORS = frozenset({1002, 1006, 1011})
_NONE: frozenset[str] = frozenset()
_HEAD = re.compile(rb"\s*\[\s*(-?[0-9]{1,6})\s*[,\]]")


def _excerpt(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data if isinstance(data, str) else data[: _EXCERPT * 4].decode("utf-8", "replace")
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _claimed_type(message: Malformed) -> int | None:
    """The message type number a malformed frame starts with, if it has one."""
    if message.binary and not message.raw.lstrip().startswith(b"["):
        return None
    m = _HEAD.match(message.raw)
    return int(m.group(1)) if m else None


def _key(parts: tuple[Any, ...], fallback: str) -> tuple[Any, ...]:
    try:
        hash(parts)
    except TypeError:  # a list or object where a scalar belongs (a mutated payload)
        return ("id", fallback)
    return parts


def _is_tx(call: Call) -> bool:
    """A transaction message: 1.6 Start/StopTransaction and MeterValues of a transaction
    (with a transactionId, 1.6 §3.7), 2.x TransactionEvent."""
    action = call.action
    if action not in _TX_ACTIONS:
        return False
    return action != "MeterValues" or call.payload.get("transactionId") is not None


def _tx_key(call: Call) -> tuple[Any, ...]:
    """What identifies a transaction message across retries (and duplicated frames)."""
    action, payload, unique_id = call.action, call.payload, call.unique_id
    if action == "TransactionEvent":
        info = payload.get("transactionInfo")
        txid = info.get("transactionId") if isinstance(info, dict) else None
        return _key(("T", txid, payload.get("seqNo")), unique_id)
    if action == "StartTransaction":
        return _key(
            (
                "S",
                payload.get("connectorId"),
                payload.get("idTag"),
                payload.get("meterStart"),
                payload.get("timestamp"),
            ),
            unique_id,
        )
    if action == "StopTransaction":
        return _key(
            ("E", payload.get("transactionId"), payload.get("meterStop"), payload.get("timestamp")),
            unique_id,
        )
    txid = payload.get("transactionId")
    values = payload.get("meterValue")
    first = values[0] if isinstance(values, list) and values else None
    stamp = first.get("timestamp") if isinstance(first, dict) else None
    return _key(("M", payload.get("connectorId"), txid, stamp), unique_id)


@dataclass(slots=True)
class _MalformedPending:
    message: Malformed
    at: float


@dataclass(slots=True)
class _TxMessage:
    call: Call
    session: str
    at: float


@dataclass(slots=True)
class _Seq:
    last: int
    seen: set[int]


class _Charger:
    """What outlives a session: boot acceptance, transactions, unacknowledged messages."""

    __slots__ = ("allowed", "boot", "id", "seqs", "sessions", "starts", "unacked")

    def __init__(self, charger_id: str) -> None:
        self.id = charger_id
        self.boot = _BOOT_UNKNOWN
        self.allowed: frozenset[str] = _NONE
        """Actions the CSMS asked for while the boot is not accepted (B02.FR.09)."""
        # Plain dicts in insertion order (oldest first): half the size of an empty
        # OrderedDict, and the proxy keeps one of these per charger.
        self.starts: dict[tuple[Any, ...], tuple[Any, str]] = {}
        """1.6 StartTransaction key -> (transactionId, unique id) of its first answer."""
        self.seqs: dict[Any, _Seq] = {}
        """2.x transactionId -> seqNos seen."""
        self.unacked: dict[tuple[Any, ...], _TxMessage] = {}
        """Transaction messages that went unanswered, by retry key, until a retry of them is
        acknowledged (or the end of the run reports them)."""
        self.sessions = 0


# -- the oracle ------------------------------------------------------------------------------


class Oracle:
    """Watches every session of one proxy; see the module docstring."""

    def __init__(
        self,
        config: OracleConfig | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or OracleConfig()
        self._slow = self.config.slow_threshold
        """`config.slow_threshold`, one attribute away for the per-answer check."""
        self._wall = wall_clock
        self._findings: list[Finding] = []
        self._counts: dict[str, int] = {}
        self._by_severity: dict[tuple[str, Severity], int] = {}
        self._dropped: dict[str, int] = {}
        self._times: dict[str, ResponseTimes] = {}
        self._watches: dict[str, SessionWatch] = {}
        self._chargers: dict[str, _Charger] = {}
        """In least recently connected order (a plain dict: an OrderedDict costs ~100
        bytes more per charger)."""
        self._subscribers: list[Callable[[Finding], None]] = []
        self.evicted_chargers = 0
        self._collect: list[Finding] | None = None

    # -- results -----------------------------------------------------------------------

    def findings(self, kind: str | None = None) -> list[Finding]:
        """The findings kept so far (the first `max_findings`), oldest first."""
        if kind is None:
            return list(self._findings)
        return [f for f in self._findings if f.kind == kind]

    def counts(self) -> dict[str, int]:
        """kind -> how many were found (kept or not)."""
        return dict(self._counts)

    def counts_by_severity(self) -> dict[tuple[str, Severity], int]:
        """(kind, severity) -> how many were found (kept or not). A kind's findings may
        differ from its default severity in `KINDS` (e.g. a warning on OCPP 1.6)."""
        return dict(self._by_severity)

    @property
    def dropped(self) -> dict[str, int]:
        """kind -> findings counted but not kept (past `max_findings`)."""
        return dict(self._dropped)

    def response_times(self) -> dict[str, dict[str, Any]]:
        """action -> the response times of the CALLs the CSMS answered: {count, p50, p95,
        p99, max, mean (seconds), buckets: [[upper_s, count], ...]} (`ResponseTimes.to_json`).
        """
        return {action: times.to_json() for action, times in sorted(self._times.items())}

    def histograms(self) -> dict[str, ResponseTimes]:
        """action -> the live `ResponseTimes` behind `response_times()`."""
        return dict(self._times)

    def configure(
        self, *, slow: float | None = None, unanswered: float | None = None, **changes: Any
    ) -> OracleConfig:
        """Change thresholds while running: `slow` (slow_threshold), `unanswered`
        (call_timeout) or any `OracleConfig` field. Returns the new configuration."""
        if slow is not None:
            changes["slow_threshold"] = slow
        if unanswered is not None:
            changes["call_timeout"] = unanswered
        self.config = dataclasses.replace(self.config, **changes)
        self._slow = self.config.slow_threshold
        return self.config

    def summary(self) -> dict[str, Any]:
        """Counts by kind and severity, and response times per action, as JSON."""
        errors = sum(1 for f in self._findings if f.severity == "error")
        return {
            "findings": sum(self._counts.values()),
            "errors_kept": errors,
            "warnings_kept": len(self._findings) - errors,
            "by_kind": dict(sorted(self._counts.items())),
            "response_times": self.response_times(),
        }

    def subscribe(self, callback: Callable[[Finding], None]) -> Callable[[], None]:
        """Call `callback(finding)` for each new finding; returns the unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    # -- connections ---------------------------------------------------------------------

    def session_open(
        self,
        session: str,
        charger_id: str,
        subprotocol: str | None,
        now: float,
        *,
        offered: Sequence[str] = (),
        selected: str | None = None,
        schema: SchemaChecker | None = None,
    ) -> SessionWatch:
        """A session started. `offered` are the subprotocols offered to the CSMS,
        `selected` the Sec-WebSocket-Protocol it answered (None: no header), `subprotocol`
        the one in use; `schema` is the monitor's checker (reused, never run twice)."""
        charger = self._charger(charger_id)
        charger.sessions += 1
        watch = SessionWatch(self, session, charger, subprotocol, schema)
        self._watches[session] = watch
        if selected is not None and selected not in offered:
            self._report(
                "subprotocol_mismatch",
                charger_id,
                session,
                None,
                f"the CSMS selected subprotocol {selected!r}, which was not offered",
                {"offered": list(offered), "selected": selected},
            )
        elif selected is None and offered:
            self._report(
                "subprotocol_mismatch",
                charger_id,
                session,
                None,
                "the CSMS selected no subprotocol of those offered; it must then close "
                "the connection at once",
                {"offered": list(offered), "selected": None},
                severity="warning",
            )
        return watch

    def upgrade_failed(
        self,
        session: str | None,
        charger_id: str,
        now: float,
        *,
        status: int | None = None,
        error: str | None = None,
    ) -> None:
        """The CSMS refused the WebSocket upgrade with an HTTP `status`, or could not be
        reached (`error`)."""
        if status is not None:
            message = f"the CSMS answered the WebSocket upgrade with HTTP {status}"
        else:
            message = f"the CSMS could not be reached: {error or 'connection failed'}"
        self._report(
            "upgrade_refused",
            charger_id,
            session,
            None,
            message,
            {"status": status, "error": _excerpt(error) if error else None},
        )

    def _closed(self, watch: SessionWatch) -> None:
        self._watches.pop(watch.session, None)
        watch.charger.sessions -= 1

    # -- time --------------------------------------------------------------------------------

    def tick(self, now: float) -> list[Finding]:
        """Report what stayed unanswered past the timeout; returns the new findings."""
        with self._collecting() as new:
            deadline = now - self.config.call_timeout
            for watch in list(self._watches.values()):
                if watch.pending or watch.malformed:
                    watch._expire(deadline, now)
        return new

    def finish(self, now: float) -> list[Finding]:
        """End-of-run checks: everything still open and older than the slow threshold is
        reported (younger ones are in flight). Safe to call more than once."""
        with self._collecting() as new:
            self.tick(now)
            horizon = now - self.config.slow_threshold
            for watch in list(self._watches.values()):
                watch._expire(horizon, now, finishing=True)
            for charger in list(self._chargers.values()):
                for key, tx in list(charger.unacked.items()):
                    if tx.at > horizon:
                        continue
                    del charger.unacked[key]
                    call = tx.call
                    self._report(
                        "transaction_not_acknowledged",
                        charger.id,
                        tx.session,
                        None,
                        f"{call.action} was never acknowledged with a CALLRESULT "
                        f"({now - tx.at:.1f} s since it was last written)",
                        {
                            "unique_id": call.unique_id,
                            "action": call.action,
                            "frame": _excerpt(call.raw) if call.raw else None,
                        },
                    )
        return new

    @contextlib.contextmanager
    def _collecting(self) -> Iterator[list[Finding]]:
        """Collect the findings reported inside the block (nested blocks get their own)."""
        outer = self._collect
        new: list[Finding] = []
        self._collect = new
        try:
            yield new
        finally:
            self._collect = outer
            if outer is not None:
                outer.extend(new)

    # -- recording ---------------------------------------------------------------------------

    def _charger(self, charger_id: str) -> _Charger:
        charger = self._chargers.get(charger_id)
        if charger is None:
            charger = self._chargers[charger_id] = _Charger(charger_id)
            if len(self._chargers) > self.config.max_chargers:
                for old_id, old in self._chargers.items():
                    if old.sessions == 0 and old is not charger:
                        del self._chargers[old_id]
                        self.evicted_chargers += 1
                        break
        else:
            self._chargers[charger_id] = self._chargers.pop(charger_id)
        return charger

    def _sample(self, action: str, seconds: float) -> None:
        times = self._times.get(action)
        if times is None:
            if len(self._times) >= _MAX_ACTIONS:
                action = _OTHER_ACTION
                times = self._times.get(action)
            if times is None:
                times = self._times[action] = ResponseTimes(self.config.reservoir)
        times.add(seconds)

    def _report(
        self,
        kind: str,
        charger_id: str,
        session: str | None,
        version: str | None,
        message: str,
        evidence: dict[str, Any],
        *,
        severity: Severity | None = None,
    ) -> Finding:
        finding = Finding(
            kind=kind,
            severity=severity or KINDS[kind][0],
            charger_id=charger_id,
            session=session,
            time=self._wall(),
            spec=_spec(kind, version),
            message=message,
            evidence={k: v for k, v in evidence.items() if v is not None},
        )
        self._counts[kind] = self._counts.get(kind, 0) + 1
        key = (kind, finding.severity)
        self._by_severity[key] = self._by_severity.get(key, 0) + 1
        if self._collect is not None:
            self._collect.append(finding)
        if len(self._findings) < self.config.max_findings:
            self._findings.append(finding)
        else:
            self._dropped[kind] = self._dropped.get(kind, 0) + 1
        (log.warning if finding.severity == "error" else log.info)(
            "oracle_finding",
            kind=kind,
            severity=finding.severity,
            charger_id=charger_id,
            session=session,
            spec=finding.spec,
            detail=message,
            unique_id=finding.evidence.get("unique_id"),
            action=finding.evidence.get("action"),
        )
        for callback in list(self._subscribers):
            try:
                callback(finding)
            except Exception as exc:  # a subscriber's bug must not end a session
                log.error("oracle_subscriber_failed", subscriber=repr(callback), error=repr(exc))
        return finding


class _Copies:
    """A CALL written more than once with the same unique id (a duplicated frame)."""

    __slots__ = ("answered", "times")

    def __init__(self, first: float) -> None:
        self.times = [first]
        """When each copy was written."""
        self.answered = 0


class SessionWatch:
    """The oracle's view of one session. The proxy calls `written()` for each frame it
    writes to the CSMS, `read()` for each frame it reads from it, and `closed()` once.

    The common case is kept lean (it runs for every frame): an unanswered CALL is a
    `(call, written at)` pair; what only some CALLs need (copies, boot and seqNo marks)
    lives in side tables that are empty most of the time.
    """

    __slots__ = (
        "_copies",
        "_late",
        "_marks",
        "_recent",
        "_recent_n",
        "charger",
        "csms_calls",
        "malformed",
        "needless",
        "oracle",
        "pending",
        "schema",
        "session",
        "subprotocol",
        "v2x",
        "version",
    )

    def __init__(
        self,
        oracle: Oracle,
        session: str,
        charger: _Charger,
        subprotocol: str | None,
        schema: SchemaChecker | None,
    ) -> None:
        self.oracle = oracle
        self.session = session
        self.charger = charger
        self.subprotocol = subprotocol
        self.version = version_of_subprotocol(subprotocol)
        self.v2x = self.version in ("2.0.1", "2.1")
        self.schema = schema
        self.pending: dict[str, tuple[Call, float]] = {}
        """CALLs written to the CSMS and not answered nor reported yet, in write order."""
        self._late: dict[str, tuple[Call, float]] = {}
        """CALLs reported unanswered: a late answer still pairs with them."""
        self._copies: dict[str, _Copies] = {}
        self._marks: dict[str, tuple[bool, str | None]] = {}
        """2.x: unique id -> (written before the boot was accepted, seqNo anomaly)."""
        self._recent: list[str | None] = [None] * _RECENT
        """The last unique ids answered (a ring), to tell 'answered twice'."""
        self._recent_n = 0
        self.csms_calls: dict[str, tuple[str, float]] = {}
        """CALLs of the CSMS not answered yet by the charger: id -> (action, read at)."""
        self.malformed: list[_MalformedPending] = []
        self.needless: deque[str] = deque(maxlen=_MAX_MALFORMED)
        """Ids of malformed frames that need no answer: a CALLERROR to one is not wrong."""

    @property
    def charger_id(self) -> str:
        return self.charger.id

    # -- frames written to the CSMS ------------------------------------------------------------

    def written(self, message: Message, now: float) -> None:
        """A frame was written to the CSMS (after the rules) at monotonic time `now`."""
        kind = type(message)
        if kind is Call:
            call: Call = message  # type: ignore[assignment]
            uid = call.unique_id
            pending = self.pending
            if uid in pending:
                self._copy_written(uid, now)
                return
            pending[uid] = (call, now)
            if self.v2x and (self.charger.boot != _ACCEPTED or call.action in _WATCHED_2X):
                self._written_2x(call, now)
            if len(pending) > _MAX_PENDING:
                old_uid, (old, at) = next(iter(pending.items()))
                del pending[old_uid]
                self._lost(old, at)
        elif kind is CallResult or kind is CallError:
            if self.csms_calls:
                self.csms_calls.pop(message.unique_id, None)  # type: ignore[arg-type]
        elif kind is Malformed:
            self._malformed_written(message, now)  # type: ignore[arg-type]

    def written_frame(self, data: bytes, binary: bool, now: float) -> None:
        """A frame a rule made or changed was written: parse it, then as `written()`."""
        self.written(parse(data, binary=binary), now)

    def _copy_written(self, uid: str, now: float) -> None:
        """The same unique id again while unanswered: a duplicated frame (or a reused id)."""
        copies = self._copies.get(uid)
        if copies is None:
            copies = self._copies[uid] = _Copies(self.pending[uid][1])
        copies.times.append(now)

    def _written_2x(self, call: Call, now: float) -> None:
        """2.0.1/2.1: boot acceptance (B02/B03) and TransactionEvent seqNos."""
        action = call.action
        charger = self.charger
        before = False
        if action == "BootNotification":
            charger.boot = _BOOTING
            charger.allowed = _NONE
        elif charger.boot != _ACCEPTED and action not in charger.allowed:
            before = charger.boot != _BOOT_UNKNOWN or self.oracle.config.unbooted_until_seen
        anomaly = None
        if action == "TransactionEvent":
            payload = call.payload
            info = payload.get("transactionInfo")
            txid = info.get("transactionId") if isinstance(info, dict) else None
            anomaly = self._seq_written(txid, payload.get("seqNo"))
        if before or anomaly:
            self._marks[call.unique_id] = (before, anomaly)

    def _seq_written(self, txid: Any, seq: Any) -> str | None:
        """How this seqNo continues its transaction: None, or duplicate/restart/gap."""
        if type(seq) is not int or txid is None:
            return None
        try:
            seqs = self.charger.seqs
            state = seqs.get(txid)
        except TypeError:  # an unhashable transactionId
            return None
        if state is None:
            seqs[txid] = _Seq(seq, {seq})
            if len(seqs) > _MAX_TX_SEQS:
                del seqs[next(iter(seqs))]
            return None
        seqs[txid] = seqs.pop(txid)  # the most recent last
        anomaly: str | None = None
        if seq in state.seen:
            anomaly = "duplicate"
        elif seq < state.last or seq == 0:
            anomaly = "restart"
        elif seq > state.last + 1:
            anomaly = "gap"
        if anomaly != "duplicate":
            state.last = seq
        if len(state.seen) >= _MAX_SEEN_SEQS:
            state.seen.clear()
        state.seen.add(seq)
        return anomaly

    def _malformed_written(self, message: Malformed, now: float) -> None:
        claimed = _claimed_type(message)
        needless = claimed in (3, 4, 5, 6)  # a broken answer (or SEND): nothing to answer with
        if message.reason is MalformedReason.UNKNOWN_TYPE_ID and self.version == "1.6":
            needless = True  # OCPP-J 1.6 §4.1.3: the server SHALL ignore it
        if needless:
            if message.unique_id is not None:  # a CALLERROR to it anyway is not wrong
                self.needless.append(message.unique_id)
            return
        self.malformed.append(_MalformedPending(message, now))
        if len(self.malformed) > _MAX_MALFORMED:
            del self.malformed[0]

    # -- frames read from the CSMS -------------------------------------------------------------

    # -- frames read from the CSMS -------------------------------------------------------------

    def read(
        self, message: Message, action: str | None, verdict: SchemaVerdict, now: float
    ) -> None:
        """A frame was read from the CSMS (before the rules). `action` and `verdict` are the
        monitor's pairing and schema check of it."""
        kind = type(message)
        if kind is CallResult or kind is CallError:
            answer: CallResult | CallError = message  # type: ignore[assignment]
            uid = answer.unique_id
            pending = self.pending
            entry = pending.get(uid)
            if entry is None or self._copies:
                self._answered_rarely(uid, answer, action, verdict, now)
                return
            # The common case, inline (it runs for every answer): `_answer` does the same.
            call, at = entry
            name = call.action
            if len(pending) > 1 and name in _TX_ACTIONS:
                self._order(uid, call, answer)
            del pending[uid]
            elapsed = now - at
            oracle = self.oracle
            times = oracle._times.get(name)
            if times is None:
                oracle._sample(name, elapsed)
            else:
                times.add(elapsed)
            n = self._recent_n
            self._recent[n & _RECENT_MASK] = uid
            self._recent_n = n + 1
            if elapsed > oracle._slow:
                self._slow(call, answer, elapsed)
            if kind is CallResult:
                if (
                    verdict.valid is False
                    or action != name
                    or name in _RESULT_CHECKS
                    or self._marks
                    or self.charger.unacked
                ):
                    self._result(call, answer, action, verdict, copy=False)  # type: ignore[arg-type]
            else:
                self._error(call, answer, copy=False)  # type: ignore[arg-type]
        elif kind is Call:
            self._csms_call(message, verdict, now)  # type: ignore[arg-type]
        else:
            self._odd(message)

    def _answered_rarely(
        self,
        uid: str,
        answer: CallResult | CallError,
        action: str | None,
        verdict: SchemaVerdict,
        now: float,
    ) -> None:
        """An answer to a duplicated frame, a late answer, or one that pairs with nothing."""
        if uid in self._copies:
            self._copy_answered(uid, answer, action, verdict, now)
            return
        pending = self.pending
        entry = pending.get(uid)
        if entry is not None:
            if len(pending) > 1 and entry[0].action in _TX_ACTIONS:
                self._order(uid, entry[0], answer)
            del pending[uid]
            self._answer(entry[0], entry[1], answer, action, verdict, now)
            return
        entry = self._late.pop(uid, None)
        if entry is not None:
            self._answer(entry[0], entry[1], answer, action, verdict, now, late=True)
            return
        self._unmatched(answer, now)

    def _slow(self, call: Call, answer: CallResult | CallError, elapsed: float) -> None:
        slow = self.oracle._slow
        self._report(
            "slow_response",
            f"the CSMS answered {call.action} after {elapsed * 1000:.0f} ms "
            f"(threshold {slow * 1000:.0f} ms)",
            call,
            answer,
            rt_ms=round(elapsed * 1000, 3),
        )

    def _answer(
        self,
        call: Call,
        at: float,
        message: CallResult | CallError,
        action: str | None,
        verdict: SchemaVerdict,
        now: float,
        *,
        late: bool = False,
        copy: bool = False,
    ) -> None:
        """`message` answers `call`, written at `at` (`late`: after it was reported
        unanswered; `copy`: a later copy of a duplicated frame)."""
        name = call.action
        elapsed = now - at
        oracle = self.oracle
        times = oracle._times.get(name)
        if times is None:
            oracle._sample(name, elapsed)
        else:
            times.add(elapsed)
        n = self._recent_n
        self._recent[n & _RECENT_MASK] = call.unique_id
        self._recent_n = n + 1
        if elapsed > oracle._slow and not late:
            self._slow(call, message, elapsed)
        if type(message) is CallResult:
            # Most answers need nothing more: the checks run only when one can apply.
            if (
                verdict.valid is False
                or action != name
                or name in _RESULT_CHECKS
                or self._marks
                or self.charger.unacked
            ):
                self._result(call, message, action, verdict, copy=copy)
        else:
            self._error(call, message, copy=copy)  # type: ignore[arg-type]

    def _copy_answered(
        self,
        uid: str,
        message: CallResult | CallError,
        action: str | None,
        verdict: SchemaVerdict,
        now: float,
    ) -> None:
        copies = self._copies[uid]
        n = copies.answered
        copies.answered = n + 1
        entry = self.pending.get(uid) or self._late.get(uid)
        if entry is None:  # forgotten (evicted): nothing to pair with
            del self._copies[uid]
            return
        late = uid not in self.pending
        if n == 0 and not late and len(self.pending) > 1:
            self._order(uid, entry[0], message)
        if copies.answered >= len(copies.times):  # every copy answered
            del self._copies[uid]
            self.pending.pop(uid, None)
            self._late.pop(uid, None)
        at = copies.times[min(n, len(copies.times) - 1)]
        self._answer(entry[0], at, message, action, verdict, now, late=late, copy=n > 0)

    def _result(
        self,
        call: Call,
        message: CallResult,
        action: str | None,
        verdict: SchemaVerdict,
        *,
        copy: bool,
    ) -> None:
        name = call.action
        if action != name:
            # The monitor paired it with another CALL (or none: an injected one): check it
            # against the CALL the CSMS was really sent.
            verdict = self.schema.check(message, name) if self.schema else verdict
        if verdict.valid is False:
            self._report(
                "schema_invalid_response",
                f"the CSMS's answer to {name} is not valid: " + "; ".join(verdict.errors[:2])[:160],
                call,
                message,
                errors=list(verdict.errors),
            )
        mark = self._marks.pop(call.unique_id, None) if self._marks and not copy else None
        payload = message.payload
        charger = self.charger
        if name == "BootNotification":
            status = payload.get("status")
            charger.boot = _ACCEPTED if status == "Accepted" else _NOT_ACCEPTED
            charger.allowed = _NONE
        elif mark is not None and mark[0]:
            self._report(
                "accepted_before_boot",
                f"the CSMS accepted {name} before the charger's boot was accepted; it "
                "must answer CALLERROR SecurityError",
                call,
                message,
            )
        if (charger.unacked or name == "StartTransaction") and _is_tx(call):
            key = _tx_key(call)
            charger.unacked.pop(key, None)  # a lost retry of it: acknowledged now
            if name == "StartTransaction":
                self._start_answered(call, key, payload.get("transactionId"), message)

    def _start_answered(
        self, call: Call, key: tuple[Any, ...], txid: Any, message: CallResult
    ) -> None:
        starts = self.charger.starts
        first = starts.get(key)
        if first is None:
            starts[key] = (txid, call.unique_id)
            if len(starts) > _MAX_STARTS:
                del starts[next(iter(starts))]
            return
        if first[0] != txid:
            self._report(
                "duplicate_transaction",
                f"the same StartTransaction got transactionId {txid!r} after {first[0]!r}: "
                "one charge counted twice",
                call,
                message,
                transaction_ids=[first[0], txid],
                first_unique_id=first[1],
            )

    def _error(self, call: Call, message: CallError, *, copy: bool) -> None:
        version = self.version
        if version is not None and not is_valid_error_code(message.code, version):
            self._report(
                "unknown_error_code",
                f"the CSMS answered {call.action} with error code {message.code!r}, which "
                f"OCPP {version} does not define",
                call,
                message,
                code=message.code,
            )
        if copy:
            # A CALLERROR to a copy that reuses the unique id is allowed (OCPP-J §4.2.3:
            # "an existing call with the same unique identifier is being handled").
            return
        mark = self._marks.pop(call.unique_id, None) if self._marks else None
        if not _is_tx(call):
            return
        if self.charger.unacked:
            self.charger.unacked.pop(_tx_key(call), None)  # reported now, not at the end
        if mark is not None and mark[0] and message.code == "SecurityError":
            return  # written before the boot was accepted: the answer B02.FR.09 asks for
        if mark is not None and mark[1] is not None:
            self._report(
                "seqno_rejected",
                f"the CSMS rejected a TransactionEvent whose seqNo is a {mark[1]} "
                f"(seqNo {call.payload.get('seqNo')!r}) with {message.code}; it must accept it",
                call,
                message,
                code=message.code,
                seq_no=call.payload.get("seqNo"),
                anomaly=mark[1],
            )
        else:
            self._report(
                "transaction_message_rejected",
                f"the CSMS answered {call.action} with CALLERROR {message.code}",
                call,
                message,
                code=message.code,
            )

    def _order(self, answered: str, call: Call, message: CallResult | CallError) -> None:
        """`message` answers `call` (still in `pending`): is a transaction message written
        before it unanswered?"""
        if not _is_tx(call):
            return
        for uid, (earlier, _at) in self.pending.items():  # in write order
            if uid == answered:
                return
            if _is_tx(earlier) and not (uid in self._copies and self._copies[uid].answered):
                self._report(
                    "acknowledged_out_of_order",
                    f"the CSMS answered {call.action} {call.unique_id!r} before "
                    f"{earlier.action} {earlier.unique_id!r}, written earlier",
                    call,
                    message,
                    earlier_unique_id=earlier.unique_id,
                )
                return

    def _lost(self, call: Call, at: float) -> None:
        """A CALL went unanswered (timed out, evicted, or its session ended). A transaction
        message stays unacknowledged until a retry of it is, or the end of the run."""
        if self._marks:
            self._marks.pop(call.unique_id, None)
        if not _is_tx(call):
            return
        key = _tx_key(call)
        unacked = self.charger.unacked
        unacked.pop(key, None)  # re-inserted last: the newest
        unacked[key] = _TxMessage(call, self.session, at)
        if len(unacked) > _MAX_UNACKED:
            del unacked[next(iter(unacked))]

    def _unmatched(self, message: CallResult | CallError, now: float) -> None:
        uid = message.unique_id
        if uid in self.csms_calls:
            self._report(
                "wrong_response_type",
                f"the CSMS sent a {'CALLRESULT' if type(message) is CallResult else 'CALLERROR'}"
                f" with the id of its own CALL {self.csms_calls[uid][0]}: only a CALL can "
                "come from it there",
                None,
                message,
            )
            return
        if self.malformed:
            # An answer to a malformed frame: the one with that id, else the oldest
            # (its id may not have been readable: "-1", empty, or any id).
            chosen = next(
                (m for m in self.malformed if m.message.unique_id == uid), self.malformed[0]
            )
            if type(message) is CallError:
                self.malformed.remove(chosen)
                return
            if chosen.message.unique_id == uid:
                self.malformed.remove(chosen)
                self._report(
                    "malformed_unanswered",
                    f"the CSMS answered a malformed frame ({chosen.message.reason.value}) "
                    "with a CALLRESULT, not a CALLERROR",
                    None,
                    message,
                    frame=_excerpt(chosen.message.raw),
                    reason=chosen.message.reason.value,
                    severity="warning" if self.version == "1.6" else None,
                )
                return
        if type(message) is CallError and uid in self.needless:
            self.needless.remove(uid)
            return
        twice = uid in self._recent
        self._report(
            "unknown_unique_id",
            f"the CSMS answered unique id {uid!r} "
            + ("a second time" if twice else "that it was never sent"),
            None,
            message,
            answered_twice=twice,
        )

    def _csms_call(self, call: Call, verdict: SchemaVerdict, now: float) -> None:
        if verdict.valid is False:
            self._report(
                "schema_invalid_request",
                f"the CSMS sent an invalid {call.action}: " + "; ".join(verdict.errors[:2])[:160],
                call,
                None,
                errors=list(verdict.errors),
            )
        calls = self.csms_calls
        if calls:
            horizon = now - self.oracle.config.call_timeout
            for uid, (action, at) in calls.items():
                if at > horizon and uid != call.unique_id:
                    self._report(
                        "concurrent_call",
                        f"the CSMS sent {call.action} while its {action} {uid!r} was still "
                        "unanswered",
                        call,
                        None,
                        outstanding_unique_id=uid,
                        outstanding_action=action,
                        severity="warning" if self.version == "1.6" else None,
                    )
                    break
        calls.pop(call.unique_id, None)
        calls[call.unique_id] = (call.action, now)
        if len(calls) > _MAX_CSMS_CALLS:
            del calls[next(iter(calls))]
        charger = self.charger
        if self.v2x and charger.boot in (_BOOTING, _NOT_ACCEPTED):
            if call.action == "TriggerMessage":
                requested = call.payload.get("requestedMessage")
                if isinstance(requested, str):
                    charger.allowed |= {_TRIGGERED.get(requested, requested)}
            elif call.action in ("GetBaseReport", "GetReport"):
                charger.allowed |= {"NotifyReport"}

    def _odd(self, message: Message) -> None:
        if isinstance(message, CallResultError | Send):
            if self.version == "2.1" or self.version is None:
                return
            number = 5 if isinstance(message, CallResultError) else 6
            self._report(
                "wrong_response_type",
                f"the CSMS sent message type {number}, which OCPP {self.version} does not have",
                None,
                message,
                message_type=number,
            )
            return
        assert isinstance(message, Malformed)
        if message.reason is MalformedReason.UNKNOWN_TYPE_ID:
            self._report(
                "wrong_response_type",
                f"the CSMS sent a message with an unknown type number ({message.detail})",
                None,
                message,
            )
            return
        self._report(
            "malformed_from_csms",
            f"the CSMS sent a frame that is not an OCPP-J message ({message.reason.value}: "
            f"{message.detail[:80]})",
            None,
            message,
            reason=message.reason.value,
        )

    # -- time and the end ------------------------------------------------------------------------

    def _expire(self, deadline: float, now: float, *, finishing: bool = False) -> None:
        """Report CALLs and malformed frames written before `deadline` and unanswered."""
        pending = self.pending
        late = self._late
        while pending:
            uid, (call, at) = next(iter(pending.items()))
            if at > deadline:
                break
            del pending[uid]
            late[uid] = (call, at)  # a late answer still pairs with it
            if len(late) > _MAX_LATE:
                del late[next(iter(late))]
            copies = self._copies.get(uid) if self._copies else None
            if copies is not None and copies.answered:
                continue  # a duplicated frame answered once: that is enough
            self._lost(call, at)
            age = now - at
            when = "by the end of the run" if finishing else "within the timeout"
            self._report(
                "unanswered_call",
                f"the CSMS did not answer {call.action} {when} ({age:.1f} s after it was written)",
                call,
                None,
                age_s=round(age, 3),
            )
        self._expire_malformed(deadline, now)

    def _expire_malformed(self, deadline: float, now: float) -> None:
        while self.malformed and self.malformed[0].at <= deadline:
            pending = self.malformed.pop(0)
            m = pending.message
            self._report(
                "malformed_unanswered",
                f"the CSMS sent no CALLERROR for a malformed frame ({m.reason.value}) "
                f"in {now - pending.at:.1f} s",
                None,
                None,
                unique_id=m.unique_id,
                action=m.action,
                frame=_excerpt(m.raw),
                reason=m.reason.value,
                age_s=round(now - pending.at, 3),
                severity="warning" if self.version == "1.6" else None,
            )

    def closed(self, now: float, *, by: str | None, code: int | None, reason: str = "") -> None:
        """The session ended; `by` is `charger`, `csms`, `proxy` or `rule:NAME`."""
        if self.oracle._watches.get(self.session) is not self:
            return  # closed already
        config = self.oracle.config
        self._expire(now - config.call_timeout, now)
        slow = now - config.slow_threshold
        for uid, (call, at) in list(self.pending.items()):
            copies = self._copies.get(uid) if self._copies else None
            if copies is not None and copies.answered:
                continue
            self._lost(call, at)
            if at > slow:
                continue
            self._report(
                "unanswered_at_close",
                f"the session ended {now - at:.1f} s after {call.action} was written, "
                "still unanswered",
                call,
                None,
                age_s=round(now - at, 3),
            )
        for m in self.malformed:
            if m.at > slow:
                continue
            self._report(
                "unanswered_at_close",
                f"the session ended {now - m.at:.1f} s after a malformed frame "
                f"({m.message.reason.value}) was written, with no CALLERROR",
                None,
                None,
                unique_id=m.message.unique_id,
                frame=_excerpt(m.message.raw),
                age_s=round(now - m.at, 3),
            )
        if by == "csms":
            abnormal = code is None or code in _CLOSE_ERRORS
            what = (
                "reset the connection"
                if code == 1006
                else f"closed the session with {code}" + (f" {reason!r}" if reason else "")
            )
            self._report(
                "closed_by_csms",
                f"the CSMS {what}",
                None,
                None,
                close_code=code,
                reason=_excerpt(reason) if reason else None,
                severity="error" if abnormal else "warning",
            )
        for table in (self.pending, self._late, self._copies, self._marks, self.csms_calls):
            table.clear()
        self.malformed.clear()
        self.oracle._closed(self)

    # -- helpers ------------------------------------------------------------------------------

    def _report(
        self,
        kind: str,
        message: str,
        call: Call | None,
        answer: Message | None,
        *,
        severity: Severity | None = None,
        **evidence: Any,
    ) -> None:
        ev: dict[str, Any] = {}
        if call is not None:
            ev["unique_id"] = call.unique_id
            ev["action"] = call.action
        elif answer is not None and getattr(answer, "unique_id", None) is not None:
            ev["unique_id"] = answer.unique_id
        if answer is not None:
            ev["frame"] = _excerpt(answer.raw) if answer.raw else None
        elif call is not None and call.raw:
            ev["frame"] = _excerpt(call.raw)
        ev.update(evidence)
        self.oracle._report(
            kind,
            self.charger.id,
            self.session,
            self.version,
            message,
            ev,
            severity=severity,
        )
