"""How the reference CSMS registers chargers: its BootNotification answers, and what a
charger whose boot it has not (yet) accepted may send.

By default every boot is Accepted and every charger is served, whether or not it booted
on this connection (a charger that reconnects does not boot again, OCPP-J 2.0.1 Part 4
§5.3). With `BootPolicy("Pending", hold)` (or "Rejected") the CSMS is one that is not
ready for a charger yet: each charger's boots are answered so for `hold` seconds after
its first one, with the time left as the interval, then Accepted. Until a charger's boot
is Accepted every other CALL from it gets CALLERROR SecurityError (OCPP 2.0.1 B02.FR.09,
B03.FR.07, test case TC_B_30_CSMS; OCPP 1.6 §4.2 does not let the charger send them and
has the same error code), except, while Pending, what the CSMS asked for (a
TriggerMessage's message, the NotifyReports of a GetBaseReport/GetReport).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BootPolicy", "BootStatus", "requested_by"]

BootStatus = Literal["Accepted", "Pending", "Rejected"]

# TriggerMessage values whose message has another action name (2.0.1 / 2.1).
_TRIGGERED = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}


@dataclass(frozen=True)
class BootPolicy:
    """How the CSMS answers BootNotification (see the module docstring)."""

    status: BootStatus = "Accepted"
    """The answer to a charger's boots during `hold`; "Accepted": no hold at all."""
    hold: float = 0.0
    """Seconds after a charger's first boot during which its boots get `status`."""

    def __post_init__(self) -> None:
        if self.status not in ("Accepted", "Pending", "Rejected"):
            raise ValueError(f"boot status {self.status!r}: Accepted, Pending or Rejected")
        if not math.isfinite(self.hold) or self.hold < 0:
            raise ValueError(f"boot hold {self.hold!r}: a number of seconds, not negative")

    @property
    def enforced(self) -> bool:
        """Whether chargers are kept out until their boot is Accepted."""
        return self.status != "Accepted"

    def answer(self, first_boot: float, now: float, heartbeat_interval: int) -> tuple[str, int]:
        """(status, interval) for a boot at `now` of a charger that first booted at
        `first_boot` (monotonic seconds)."""
        left = self.hold - (now - first_boot)
        if not self.enforced or left <= 0:
            return "Accepted", heartbeat_interval
        return self.status, max(1, math.ceil(left))


def requested_by(request: Any) -> str | None:
    """The action a charger may send while Pending because the CSMS sends `request` (an
    `ocpp` library request): a TriggerMessage's message, a report's NotifyReport."""
    name = type(request).__name__
    if name == "TriggerMessage":
        requested = getattr(request, "requested_message", None)
        value = getattr(requested, "value", requested)
        return _TRIGGERED.get(value, value) if isinstance(value, str) else None
    if name in ("GetBaseReport", "GetReport"):
        return "NotifyReport"
    return None
