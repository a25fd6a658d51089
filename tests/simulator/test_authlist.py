"""Local authorization: the Local Authorization List (SendLocalList, GetLocalListVersion) and
the Authorization Cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocpp_chaos.simulator.authlist import AuthCache, IdTagInfo, LocalAuthList

NOW = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def entry(id_tag: str, status: str | None = "Accepted", **info: Any) -> dict[str, Any]:
    """A snake_case SendLocalList entry; status None leaves out id_tag_info (a removal)."""
    if status is None:
        return {"id_tag": id_tag}
    return {"id_tag": id_tag, "id_tag_info": {"status": status, **info}}


def test_new_list_is_empty_at_version_zero() -> None:
    auth = LocalAuthList()
    assert auth.version == 0
    assert len(auth) == 0
    assert auth.lookup("ABC", NOW) is None


def test_full_update_replaces_the_list() -> None:
    auth = LocalAuthList()
    assert auth.send(3, "Full", [entry("A"), entry("B", "Blocked")]) == "Accepted"
    assert auth.version == 3
    assert (auth.lookup("A", NOW), auth.lookup("B", NOW)) == ("Accepted", "Blocked")
    # A Full update may carry any version, even a lower one, and replaces everything.
    assert auth.send(2, "Full", [entry("C", "Invalid")]) == "Accepted"
    assert auth.version == 2
    assert auth.lookup("A", NOW) is None
    assert auth.lookup("C", NOW) == "Invalid"


def test_full_update_without_entries_empties_the_list() -> None:
    auth = LocalAuthList()
    auth.send(1, "Full", [entry("A")])
    assert auth.send(0, "Full", None) == "Accepted"
    assert (auth.version, len(auth)) == (0, 0)
    auth.send(1, "Full", [entry("A")])
    assert auth.send(5, "Full", []) == "Accepted"
    assert auth.version == 0  # §5.10: 0 means the list is empty


def test_differential_adds_updates_and_removes() -> None:
    auth = LocalAuthList()
    auth.send(1, "Full", [entry("A"), entry("B"), entry("C")])
    result = auth.send(2, "Differential", [entry("A", "Blocked"), entry("B", None), entry("D")])
    assert result == "Accepted"
    assert auth.version == 2
    assert [auth.lookup(tag, NOW) for tag in "ABCD"] == ["Blocked", None, "Accepted", "Accepted"]
    # Removing an id tag that is not listed is no error.
    assert auth.send(3, "Differential", [entry("Z", None)]) == "Accepted"
    assert len(auth) == 3


def test_differential_with_an_old_version_is_a_version_mismatch() -> None:
    auth = LocalAuthList()
    auth.send(5, "Full", [entry("A")])
    assert auth.send(5, "Differential", [entry("B")]) == "VersionMismatch"
    assert auth.send(4, "Differential", [entry("B")]) == "VersionMismatch"
    assert auth.lookup("B", NOW) is None
    assert auth.version == 5


def test_reserved_versions_fail() -> None:
    auth = LocalAuthList()
    assert auth.send(-1, "Full", [entry("A")]) == "Failed"
    assert auth.send(0, "Full", [entry("A")]) == "Failed"
    assert auth.send(0, "Differential", []) == "Failed"
    assert len(auth) == 0


def test_invalid_updates_fail_and_change_nothing() -> None:
    auth = LocalAuthList()
    auth.send(1, "Full", [entry("A")])
    failing: list[tuple[str, list[dict[str, Any]]]] = [
        ("Full", [entry("B", None)]),  # Full entries need id_tag_info
        ("Differential", [entry("B", "Maybe")]),  # unknown status
        ("Differential", [entry("B"), entry("b")]),  # duplicate (id tags are case-insensitive)
        ("Differential", [entry("X" * 21)]),  # longer than CiString20
        ("Differential", [entry("B", expiry_date="soon")]),
        ("Differential", [{"id_tag_info": {"status": "Accepted"}}]),
    ]
    for update_type, entries in failing:
        assert auth.send(2, update_type, entries) == "Failed", entries  # type: ignore[arg-type]
    assert auth.version == 1
    assert auth.lookup("A", NOW) == "Accepted"
    assert auth.lookup("B", NOW) is None


def test_too_many_entries_fail() -> None:
    auth = LocalAuthList(max_entries=3)
    entries = [entry(f"T{i}") for i in range(5)]
    assert auth.send(1, "Full", entries, max_length=4) == "Failed"  # SendLocalListMaxLength
    assert auth.send(1, "Full", entries[:4], max_length=4) == "Failed"  # LocalAuthListMaxLength
    assert auth.send(1, "Full", entries[:3], max_length=4) == "Accepted"
    assert auth.send(2, "Differential", [entry("T9")]) == "Failed"
    assert auth.send(2, "Differential", [entry("T0", None), entry("T9")]) == "Accepted"
    assert len(auth) == 3


def test_disabled_list_is_not_supported() -> None:
    auth = LocalAuthList(enabled=False)
    assert auth.version == -1
    assert auth.send(1, "Full", [entry("A")]) == "NotSupported"


def test_lookup_honours_expiry_and_case() -> None:
    auth = LocalAuthList()
    auth.send(
        1,
        "Full",
        [
            entry("old", expiry_date="2025-03-10T07:00:00Z"),
            entry("new", expiry_date="2025-03-10T09:00:00+00:00", parent_id_tag="FLEET"),
            entry("blocked", "Blocked", expiry_date="2025-01-01T00:00:00Z"),
        ],
    )
    assert auth.lookup("OLD", NOW) == "Expired"
    assert auth.lookup("new", NOW) == "Accepted"
    assert auth.lookup("new", NOW + timedelta(hours=1)) == "Expired"
    assert auth.lookup("blocked", NOW) == "Blocked"  # expiry does not unblock or re-label
    info = auth.get("NEW")
    assert info == IdTagInfo("Accepted", datetime(2025, 3, 10, 9, tzinfo=UTC), "FLEET")
    assert info.to_payload() == {
        "status": "Accepted",
        "expiry_date": "2025-03-10T09:00:00Z",
        "parent_id_tag": "FLEET",
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        auth.lookup("new", datetime(2025, 3, 10))


# --- the Authorization Cache --------------------------------------------------------------


def test_cache_stores_and_expires() -> None:
    cache = AuthCache()
    cache.store("A", {"status": "Accepted", "expiry_date": "2025-03-10T08:30:00Z"})
    cache.store("B", {"status": "Invalid"})
    assert cache.lookup("a", NOW) == "Accepted"
    assert cache.lookup("A", NOW + timedelta(minutes=30)) == "Expired"
    assert cache.lookup("B", NOW) == "Invalid"
    assert cache.lookup("C", NOW) is None
    cache.store("A", {"status": "Blocked"})  # a newer answer replaces the entry
    assert cache.lookup("A", NOW) == "Blocked"
    assert len(cache) == 2


def test_cache_evicts_the_least_recently_used() -> None:
    cache = AuthCache(max_entries=2)
    cache.store("A", {"status": "Accepted"})
    cache.store("B", {"status": "Accepted"})
    assert cache.lookup("A", NOW) == "Accepted"  # A is now more recent than B
    cache.store("C", {"status": "Accepted"})
    assert len(cache) == 2
    assert cache.lookup("B", NOW) is None
    assert cache.lookup("A", NOW) == "Accepted"
    assert cache.lookup("C", NOW) == "Accepted"


def test_cache_clear_and_invalid_input() -> None:
    cache = AuthCache()
    cache.store("A", {"status": "Accepted"})
    cache.clear()
    assert len(cache) == 0
    assert cache.lookup("A", NOW) is None
    with pytest.raises(ValueError, match="status"):
        cache.store("A", {"status": "Sure"})
    with pytest.raises(ValueError):
        AuthCache(max_entries=0)
