"""The control API's request bodies, defined once: they validate requests (unknown fields
are refused) and make the OpenAPI document's schemas."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ocpp_chaos.rules.model import BlastRadius, Duration

__all__ = ["FaultRequest", "FleetAddRequest", "RuleLoadRequest", "ScenarioStartRequest"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleLoadRequest(_Body):
    """Load a rule file that the engine can read (its rules replace ones of the same name)."""

    path: str = Field(min_length=1, description="a rule file (YAML or JSON) on the engine's host")


class FaultRequest(_Body):
    """Fire a fault at chargers now."""

    fault: dict[str, Any] = Field(
        description="a fault as in a rule file, e.g. {type: signal_loss, duration: 30s}"
    )
    chargers: list[str] = Field(default_factory=list, description="charger ids")
    select: str | None = Field(
        None,
        description="a filter expression choosing chargers (e.g. 'charger:CP-1*'), as in the "
        "console's filter line; adds to `chargers`",
    )
    radius: BlastRadius | None = Field(
        None, description="hit only some of them: {count: N} or {percent: P}, seeded"
    )
    duration: Duration | None = Field(
        None,
        description="frame faults (latency, delay, corrupt, drop...): hit every matching frame "
        "for this long; without it only each charger's next matching frame",
    )

    @field_validator("fault")
    @classmethod
    def _fault(cls, value: dict[str, Any]) -> dict[str, Any]:
        from pydantic import TypeAdapter

        from ocpp_chaos.rules.model import Fault

        TypeAdapter(Fault).validate_python(value)
        return value


class FleetAddRequest(_Body):
    """Add virtual chargers that connect through the proxy (they start at once)."""

    count: int = Field(1, ge=1, le=20_000)
    protocol: Literal["1.6", "2.0.1", "mixed"] = "1.6"
    connectors: int = Field(1, ge=1, le=16)
    id_pattern: str = Field("SIM-{n:05}", min_length=1, description="'{n}' is the number")
    sessions: bool = Field(False, description="drive EVs through charging sessions by themselves")
    config: dict[str, str] = Field(
        default_factory=dict, description="1.6 configuration keys / 2.0.1 variables"
    )
    template: str | None = Field(None, description="a charger template file on the engine's host")


class ScenarioStartRequest(_Body):
    """Run a scenario file through the engine's proxy."""

    path: str = Field(min_length=1, description="a scenario file on the engine's host")
    seed: int | None = None
    scale: float = Field(1.0, gt=0, le=100)
