"""The scenario file: a fleet, rules, a timeline of steps, expectations about the CSMS.

Defined once with pydantic: the same model validates files (with file:line:column
errors through `ocpp_chaos.fileformat`), is what the runner executes, and exports the
JSON Schema editors use (`ocpp-chaos schema scenario`).

A scenario runs like a script: steps in order, each optionally waiting until a time
since the start (`at`) and/or until a condition holds (`after`). Chargers are chosen
with selectors: `all`, a fleet group's name, charger ids, or a seeded pick from those.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ocpp_chaos.fileformat import LocatedError, OneOrMany
from ocpp_chaos.rules.model import Duration, Rule, SignedDuration

__all__ = [
    "CHECKS",
    "Check",
    "FleetGroup",
    "Pick",
    "ReferenceCsms",
    "RulesSection",
    "Scenario",
    "Step",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


# -- fleet -------------------------------------------------------------------------------


class FleetGroup(_Model):
    """Chargers of one kind. Their ids come from `id_pattern` (n = 1..count)."""

    name: str = Field(
        "chargers", min_length=1, max_length=50, pattern=_NAME, description="the group's name"
    )
    count: int = Field(1, ge=1, le=100_000, description="how many chargers")
    protocol: Literal["1.6", "2.0.1", "mixed"] = Field(
        "1.6", description="OCPP version (a template sets its own)"
    )
    template: str | None = Field(
        None, description="a charger template file, relative to the scenario file"
    )
    id_pattern: str | None = Field(
        None, description="charger ids, Python format with n (default '<name>-{n:03}')"
    )
    ramp: float = Field(50.0, gt=0, description="chargers started per second")
    connectors: int = Field(1, ge=1, le=16)
    sessions: bool = Field(
        False, description="let drivers bring random EVs (off: only the timeline acts)"
    )
    autostart: bool = Field(True, description="start the chargers when the run starts")
    call_timeout: Duration = Field(
        30.0, gt=0, description="how long a charger waits for an answer before giving up"
    )
    config: dict[str, str] = Field(
        default_factory=dict,
        description="1.6 configuration keys or 2.0.1 Component.Variable settings",
    )

    @field_validator("config", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()
            }
        return value

    def pattern(self) -> str:
        return self.id_pattern or f"{self.name}-{{n:03}}"

    def charger_ids(self) -> list[str]:
        try:
            return [self.pattern().format(n=n) for n in range(1, self.count + 1)]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"id_pattern {self.pattern()!r}: {exc}") from None


class RulesSection(_Model):
    """Fault rules the proxy loads before the run (they act when enabled)."""

    files: Annotated[list[str], OneOrMany] = Field(
        default_factory=list, description="rule files, relative to the scenario file"
    )
    inline: list[Rule] = Field(default_factory=list, description="rules written here")


class ReferenceCsms(_Model):
    """How the embedded reference CSMS behaves (ignored when the run has a target: set up
    your CSMS the same way)."""

    boot: Literal["Accepted", "Pending", "Rejected"] = Field(
        "Accepted",
        description="the answer to each charger's boots for `accept_after` after its first "
        "one (then Accepted); until a charger's boot is Accepted, its other CALLs get "
        "CALLERROR SecurityError",
    )
    accept_after: Duration = Field(
        10.0, description="Pending / Rejected: how long after a charger's first boot"
    )

    def options(self) -> dict[str, Any]:
        """Keyword arguments for `ReferenceCSMS`."""
        from ocpp_chaos.csms.boot import BootPolicy

        return {"boot": BootPolicy(self.boot, self.accept_after)}


# -- selecting chargers -----------------------------------------------------------------


class Pick(_Model):
    """A seeded choice among the selected chargers."""

    count: int | None = Field(None, ge=1)
    percent: float | None = Field(None, gt=0, le=100)

    @model_validator(mode="after")
    def _one(self) -> Pick:
        if (self.count is None) == (self.percent is None):
            raise ValueError("give exactly one of count, percent")
        return self


Chargers = Annotated[list[str], OneOrMany]
"""`all`, fleet group names and charger ids."""


class _Targets(_Model):
    chargers: Chargers = Field(
        default_factory=lambda: ["all"],
        description="'all', group names or charger ids (default all)",
    )
    pick: Pick | None = Field(None, description="a seeded choice among them")


# -- conditions and checks --------------------------------------------------------------

CHECKS: dict[str, str] = {
    "all_accepted": "every selected charger is booted and online (at least `fraction`)",
    "all_connected": "every selected charger has a live connection to the proxy",
    "all_offline": "no selected charger is connected",
    "queues_empty": "no selected charger has transaction messages waiting to be sent",
    "transactions": "the selected chargers started / ended at least `started` / `ended`",
    "findings": "the oracle found at least `min` findings of `kinds` (any error if none)",
    "no_findings": "the oracle found no finding of `kinds` (any error finding if none)",
    "max_findings": "the oracle found at most `max` findings of `kinds`",
    "response_time": "the CSMS's `percentile` response time for `actions` is at most `max`",
    "every_call_answered": "every CALL to the CSMS got an answer (no unanswered_call)",
    "transactions_complete": "every transaction started was accepted and ended",
    "queued_acknowledged": "every transaction message was acknowledged, in order",
    "metric": "a run metric is within `min` / `max`",
}
"""What a condition or an expectation can check (the runner evaluates them)."""

CheckKind = Literal[
    "all_accepted",
    "all_connected",
    "all_offline",
    "queues_empty",
    "transactions",
    "findings",
    "no_findings",
    "max_findings",
    "response_time",
    "every_call_answered",
    "transactions_complete",
    "queued_acknowledged",
    "metric",
]
assert set(get_args(CheckKind)) == set(CHECKS)

Metric = Literal[
    "transactions_started",
    "transactions_ended",
    "calls_to_csms",
    "findings",
    "error_findings",
    "chargers_accepted",
    "boots",
    "reconnects",
    "replayed",
]
METRICS: tuple[str, ...] = get_args(Metric)


class Check(_Model):
    """A condition (steps wait for it) or an expectation (the verdict asks it)."""

    check: CheckKind = Field(
        description="; ".join(f"{name}: {text}" for name, text in CHECKS.items())
    )
    name: str | None = Field(None, description="how the verdict calls it (default: generated)")
    chargers: Chargers = Field(default_factory=lambda: ["all"])
    fraction: float = Field(1.0, gt=0, le=1, description="all_*: the share that must hold")
    started: int | None = Field(None, ge=0)
    ended: int | None = Field(None, ge=0)
    kinds: Annotated[list[str], OneOrMany] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    actions: Annotated[list[str], OneOrMany] = Field(
        default_factory=lambda: ["*"], description="response_time: actions ('*': all)"
    )
    percentile: float = Field(99.0, gt=0, le=100)
    metric: Metric | None = None

    @model_validator(mode="after")
    def _needs(self) -> Check:
        c = self.check
        if c == "transactions" and self.started is None and self.ended is None:
            raise ValueError("transactions needs started or ended")
        if c == "max_findings" and self.max is None:
            raise ValueError("max_findings needs max")
        if c == "response_time" and self.max is None:
            raise ValueError("response_time needs max (a duration, e.g. 2s)")
        if c == "metric" and (self.metric is None or (self.min is None and self.max is None)):
            raise ValueError("metric needs metric and min or max")
        return self

    @field_validator("max", "min", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        # response_time limits are durations ('2s', '500ms'); numbers stay numbers
        if isinstance(value, str):
            from ocpp_chaos.rules.model import parse_duration

            return parse_duration(value)
        return value

    def label(self) -> str:
        if self.name:
            return self.name
        parts: list[str] = [self.check]
        if self.kinds:
            parts.append(",".join(self.kinds))
        if self.started is not None:
            parts.append(f"started>={self.started}")
        if self.ended is not None:
            parts.append(f"ended>={self.ended}")
        if self.metric:
            parts.append(self.metric)
            if self.min is not None:
                parts.append(f">={self.min:g}")
            if self.max is not None:
                parts.append(f"<={self.max:g}")
        if self.check == "response_time":
            parts.append(f"p{self.percentile:g}<={self.max:g}s")
        if self.chargers != ["all"]:
            parts.append(",".join(self.chargers))
        return " ".join(parts)


# -- steps -------------------------------------------------------------------------------


class _Step(_Targets):
    name: str | None = Field(None, max_length=100, description="shown in progress and reports")
    at: Duration | None = Field(None, description="not before this long after the start")
    after: Check | None = Field(None, description="not before this condition holds")
    timeout: Duration = Field(60.0, description="how long `after` (or wait_for) may take")
    on_timeout: Literal["error", "continue"] = Field(
        "error",
        description="when the wait times out: end the run as an error, or go on and let "
        "the expectations judge",
    )


class StartChargers(_Step):
    do: Literal["start_chargers"]


class StopChargers(_Step):
    do: Literal["stop_chargers"]


class PlugIn(_Step):
    do: Literal["plug_in"]
    connector: int = Field(1, ge=1)


class Unplug(_Step):
    do: Literal["unplug"]
    connector: int = Field(1, ge=1)


class Authorize(_Step):
    do: Literal["authorize"]
    id_tag: str = Field("SIM-TAG", min_length=1, max_length=36)


class StartTransaction(_Step):
    do: Literal["start_transaction"]
    connector: int = Field(1, ge=1)
    id_tag: str = Field("SIM-TAG", min_length=1, max_length=36)


class StopTransaction(_Step):
    do: Literal["stop_transaction"]
    connector: int = Field(1, ge=1)
    reason: str = "Local"


class SendRaw(_Step):
    """A made-up frame from the proxy to the CSMS (as if from the charger) or back."""

    do: Literal["send_raw"]
    frame: str = Field(min_length=1, description="the exact text")
    to: Literal["csms", "charger"] = "csms"


class EnableRule(_Step):
    do: Literal["enable_rule"]
    rule: Annotated[list[str], OneOrMany]


class DisableRule(_Step):
    do: Literal["disable_rule"]
    rule: Annotated[list[str], OneOrMany]


class Fire(_Step):
    """Fire a fault at the selected chargers now (a session fault: signal_loss, disconnect,
    blackhole, flap, inject, csms_outage ...)."""

    do: Literal["fire"]
    fault: dict[str, Any] = Field(description="a fault, as in a rule file")

    @field_validator("fault")
    @classmethod
    def _fault(cls, value: dict[str, Any]) -> dict[str, Any]:
        from pydantic import TypeAdapter

        from ocpp_chaos.rules.model import Fault

        TypeAdapter(Fault).validate_python(value)
        return value


class Reboot(_Step):
    do: Literal["reboot"]
    kind: Literal["Soft", "Hard"] = "Hard"


class PowerLoss(_Step):
    do: Literal["power_loss"]
    keep_queue: bool = True


class ClockDrift(_Step):
    do: Literal["clock_drift"]
    offset: SignedDuration = Field(description="how far the clock jumps (negative: behind)")
    ppm: float = Field(0.0, description="how fast it drifts from then on")


class ConnectorFault(_Step):
    do: Literal["connector_fault"]
    connector: int = Field(1, ge=1)
    error_code: str = "GroundFailure"


class ClearConnectorFault(_Step):
    do: Literal["clear_connector_fault"]
    connector: int = Field(1, ge=1)


class RestartConnection(_Step):
    """Close the selected chargers' connections; they reconnect (no new boot)."""

    do: Literal["restart_connection"]


class Wait(_Step):
    do: Literal["wait"]
    duration: Duration


class WaitFor(_Step):
    do: Literal["wait_for"]
    condition: Check


class CheckSteadyState(_Step):
    """Evaluate the steady-state expectations now (also done at start and end)."""

    do: Literal["check_steady_state"]


Step = Annotated[
    StartChargers
    | StopChargers
    | PlugIn
    | Unplug
    | Authorize
    | StartTransaction
    | StopTransaction
    | SendRaw
    | EnableRule
    | DisableRule
    | Fire
    | Reboot
    | PowerLoss
    | ClockDrift
    | ConnectorFault
    | ClearConnectorFault
    | RestartConnection
    | Wait
    | WaitFor
    | CheckSteadyState,
    Field(discriminator="do"),
]


class Expectations(_Model):
    steady_state: list[Check] = Field(
        default_factory=list,
        description="held before the first step, during the run (each second) and at the end",
    )
    end: list[Check] = Field(default_factory=list, description="asked once the timeline is done")


class Scenario(_Model):
    """One scenario file."""

    name: str = Field(min_length=1, max_length=100, pattern=_NAME)
    description: str = ""
    tags: Annotated[list[str], OneOrMany] = Field(
        default_factory=list, description="spec clauses, test-case ids, anything"
    )
    seed: int = 1
    target: str | None = Field(
        None, description="the CSMS URL (--target overrides; none: the embedded reference CSMS)"
    )
    reference_csms: ReferenceCsms = Field(
        default_factory=lambda: ReferenceCsms(),
        description="how the embedded reference CSMS behaves (not used with a target)",
    )
    duration: Duration = Field(300.0, gt=0, description="the whole run's limit")
    settle: Duration = Field(
        2.0, description="after the timeline, how long to let answers arrive before end checks"
    )
    fleet: list[FleetGroup] = Field(min_length=1)
    rules: RulesSection = Field(default_factory=lambda: RulesSection())
    timeline: list[Step] = Field(default_factory=list)
    expectations: Expectations = Field(default_factory=lambda: Expectations())
    abort: list[Check] = Field(
        default_factory=list, description="stop the run early (error) when one of these holds"
    )
    oracle: dict[str, Duration] = Field(
        default_factory=dict,
        description="oracle thresholds: slow (default 2s), unanswered (default 30s)",
    )

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        groups = [g.name for g in self.fleet]
        if len(set(groups)) != len(groups):
            raise ValueError("two fleet groups have the same name")
        ids: list[str] = []
        for group in self.fleet:
            ids.extend(group.charger_ids())
        if len(set(ids)) != len(ids):
            raise ValueError("two chargers get the same id: give groups distinct id_pattern")
        known = {"all", *groups, *ids}
        bad: list[tuple[tuple[Any, ...], str]] = []
        for i, step in enumerate(self.timeline):
            for j, selector in enumerate(step.chargers):
                if selector not in known:
                    bad.append(
                        (("timeline", i, "chargers", j), f"{selector!r} is no group or charger id")
                    )
        if bad:
            raise LocatedError(bad)
        unknown = set(self.oracle) - {"slow", "unanswered"}
        if unknown:
            raise ValueError(f"oracle: unknown thresholds {sorted(unknown)} (slow, unanswered)")
        return self

    def charger_ids(self) -> list[str]:
        out: list[str] = []
        for group in self.fleet:
            out.extend(group.charger_ids())
        return out
