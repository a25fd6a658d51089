"""OCPP 1.6 local authorization for a virtual charger (sans-IO): the list and the cache.

§3.5: a charger may authorize id tags without asking the CSMS, from the Local Authorization
List the CSMS manages (§5.15 SendLocalList, §5.10 GetLocalListVersion) and from the
Authorization Cache of IdTagInfos it has seen online (§3.5.3, cleared by ClearCache §5.4).

Entries are the `ocpp` library's snake_case dicts: {"id_tag": ..., "id_tag_info":
{"status": ..., "expiry_date": ..., "parent_id_tag": ...}}. Id tags are compared
case-insensitively (IdToken is a CiString20). Times are passed in, timezone-aware.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["STATUSES", "AuthCache", "IdTagInfo", "LocalAuthList"]

STATUSES = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
# Statuses an expiry_date in the past turns into Expired; Blocked and Invalid stay as they are.
_EXPIRABLE = ("Accepted", "ConcurrentTx")


@dataclass(frozen=True)
class IdTagInfo:
    """A validated IdTagInfo: status, optional expiry (UTC) and parent id tag."""

    status: str
    expiry_date: datetime | None = None
    parent_id_tag: str | None = None

    @classmethod
    def from_payload(cls, info: Any) -> IdTagInfo:
        """Validate a snake_case id_tag_info; ValueError names what is wrong."""
        if not isinstance(info, Mapping):
            raise ValueError("id_tag_info: expected an object")
        status = info.get("status")
        if not isinstance(status, str) or status not in STATUSES:
            raise ValueError(f"id_tag_info.status: {status!r} is not one of {STATUSES}")
        expiry = info.get("expiry_date")
        expiry_date = None if expiry is None else _parse_datetime(expiry)
        parent = info.get("parent_id_tag")
        if parent is not None and not isinstance(parent, str):
            raise ValueError("id_tag_info.parent_id_tag: expected a string")
        return cls(STATUSES[STATUSES.index(status)], expiry_date, parent)

    def status_at(self, now: datetime) -> str:
        """The status at `now`: Expired once expiry_date has passed (for usable statuses)."""
        if self.expiry_date is not None and self.status in _EXPIRABLE:
            if _aware(now) >= self.expiry_date:
                return "Expired"
        return self.status

    def to_payload(self) -> dict[str, Any]:
        """The snake_case id_tag_info, with ISO times, for an ocpp call."""
        payload: dict[str, Any] = {"status": self.status}
        if self.expiry_date is not None:
            payload["expiry_date"] = self.expiry_date.isoformat().replace("+00:00", "Z")
        if self.parent_id_tag is not None:
            payload["parent_id_tag"] = self.parent_id_tag
        return payload


def _parse_datetime(value: Any) -> datetime:
    """An ISO 8601 string or datetime as aware UTC (no offset means UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)  # ValueError on nonsense
    else:
        raise ValueError(f"expiry_date: expected a date-time string, got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aware(now: datetime) -> datetime:
    """`now` in UTC; naive datetimes are refused (times are passed in as aware UTC)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _key(id_tag: str) -> str:
    """The case-insensitive identity of an id tag."""
    return id_tag.casefold()


class LocalAuthList:
    """The Local Authorization List the CSMS sends with SendLocalList.

    `version` is what GetLocalListVersion answers: -1 when the list is not supported
    (`enabled=False`, i.e. LocalAuthListEnabled false or no feature profile), 0 when the
    list is empty (§5.10), else the version of the last accepted update. `max_entries`
    (LocalAuthListMaxLength) caps the list; `send`'s `max_length` (SendLocalListMaxLength)
    caps one message.
    """

    def __init__(self, *, enabled: bool = True, max_entries: int | None = None) -> None:
        self.enabled = enabled
        self.max_entries = max_entries
        self._version = 0
        self._entries: dict[str, IdTagInfo] = {}

    @property
    def version(self) -> int:
        """The list version (-1 not supported, 0 empty)."""
        if not self.enabled:
            return -1
        return self._version if self._entries else 0

    def __len__(self) -> int:
        return len(self._entries)

    def send(
        self,
        list_version: int,
        update_type: Literal["Full", "Differential"],
        entries: Sequence[Mapping[str, Any]] | None,
        *,
        max_length: int = 100,
    ) -> Literal["Accepted", "Failed", "NotSupported", "VersionMismatch"]:
        """SendLocalList (§5.15): apply the update atomically or say why not.

        Full replaces the list (no entries empties it). Differential adds or updates the
        entries that carry id_tag_info and removes those without; its list_version must be
        above the current version (else VersionMismatch). Failed: more than `max_length`
        entries, a list above `max_entries`, an invalid or duplicate entry, a Full entry
        without id_tag_info, a negative version (-1 means "not supported"), or version 0
        (reserved for the empty list) except for a Full update that empties the list.
        """
        if not self.enabled:
            return "NotSupported"
        if update_type not in ("Full", "Differential"):
            return "Failed"
        items = list(entries or ())
        if len(items) > max_length:
            return "Failed"
        if isinstance(list_version, bool) or not isinstance(list_version, int):
            return "Failed"
        if list_version < 0 or (list_version == 0 and (update_type != "Full" or items)):
            return "Failed"
        if update_type == "Differential" and list_version <= self.version:
            return "VersionMismatch"

        updates: dict[str, IdTagInfo | None] = {}
        for item in items:
            id_tag = item.get("id_tag") if isinstance(item, Mapping) else None
            if not isinstance(id_tag, str) or not 1 <= len(id_tag) <= 20:
                return "Failed"
            if _key(id_tag) in updates:
                return "Failed"
            info = item.get("id_tag_info")
            if info is None:
                if update_type == "Full":
                    return "Failed"
                updates[_key(id_tag)] = None
                continue
            try:
                updates[_key(id_tag)] = IdTagInfo.from_payload(info)
            except ValueError:
                return "Failed"

        result = {} if update_type == "Full" else dict(self._entries)
        for key, parsed in updates.items():
            if parsed is None:
                result.pop(key, None)
            else:
                result[key] = parsed
        if self.max_entries is not None and len(result) > self.max_entries:
            return "Failed"
        self._entries = result
        self._version = list_version
        return "Accepted"

    def get(self, id_tag: str) -> IdTagInfo | None:
        """The IdTagInfo listed for `id_tag`, or None."""
        return self._entries.get(_key(id_tag))

    def lookup(self, id_tag: str, now: datetime) -> str | None:
        """The status of `id_tag` at `now` (Expired past its expiry_date); None if unlisted."""
        info = self._entries.get(_key(id_tag))
        return None if info is None else info.status_at(now)


class AuthCache:
    """The Authorization Cache (§3.5.3): IdTagInfos from Authorize, Start/StopTransaction.

    Least recently used entries are evicted once `max_entries` is reached; a lookup counts
    as a use. ClearCache empties it.
    """

    def __init__(self, max_entries: int = 1000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, IdTagInfo] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def store(self, id_tag: str, id_tag_info: Mapping[str, Any]) -> None:
        """Remember the IdTagInfo the CSMS gave for `id_tag`; ValueError if it is invalid."""
        info = IdTagInfo.from_payload(id_tag_info)
        key = _key(id_tag)
        self._entries[key] = info
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get(self, id_tag: str) -> IdTagInfo | None:
        """The cached IdTagInfo for `id_tag` (marking it used), or None."""
        key = _key(id_tag)
        info = self._entries.get(key)
        if info is not None:
            self._entries.move_to_end(key)
        return info

    def lookup(self, id_tag: str, now: datetime) -> str | None:
        """The cached status of `id_tag` at `now` (Expired past expiry_date); None if absent."""
        info = self.get(id_tag)
        return None if info is None else info.status_at(now)

    def clear(self) -> None:
        """ClearCache (§5.4): forget every entry."""
        self._entries.clear()
