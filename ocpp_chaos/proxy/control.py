"""Runtime control of rules while traffic flows: `proxy.rules.enable("name")`.

The engine decides (pure); this carries its decisions to the live sessions.
The control API, the console and scenarios will call these same methods.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from ocpp_chaos.aio import spawn
from ocpp_chaos.rules.decisions import Action
from ocpp_chaos.rules.engine import RuleEngine
from ocpp_chaos.rules.model import Rule

if TYPE_CHECKING:
    from ocpp_chaos.proxy.server import SessionRegistry

__all__ = ["RulesController"]

log = structlog.get_logger("ocpp_chaos.rules")


class RulesController:
    """The operations on rules that every face (Python, API, console, scenario) uses."""

    def __init__(self, engine: RuleEngine, sessions: SessionRegistry) -> None:
        self.engine = engine
        self._sessions = sessions

    def describe(self) -> list[dict[str, Any]]:
        """Every loaded rule with its state and counters."""
        out = []
        for rule in self.engine.rules:
            stats = self.engine.stats(rule.name)
            out.append(
                {
                    "name": rule.name,
                    "fault": rule.fault.type,
                    "enabled": self.engine.is_enabled(rule.name),
                    "matched": stats.matched,
                    "hits": stats.hits,
                    "decisions": dict(stats.decisions),
                }
            )
        return out

    def add(self, rule: Rule) -> None:
        """Load one rule (replacing one of the same name); it acts at once if enabled."""
        self._dispatch(self.engine.add(rule, time.monotonic()))
        log.info("rule_added", rule=rule.name, fault=rule.fault.type, enabled=rule.enabled)

    def load(self, path: str | Path) -> list[str]:
        """Load a rule file; returns the names of its rules."""
        from ocpp_chaos.rules.loader import load_rule_file

        names = []
        for rule in load_rule_file(path).rules:
            self.add(rule)
            names.append(rule.name)
        return names

    def enable(self, name: str) -> None:
        self._dispatch(self.engine.enable(name, time.monotonic()))
        log.info("rule_enabled", rule=name)

    def disable(self, name: str) -> None:
        """Switch a rule off; frames it holds are delivered, not lost (unless it drops)."""
        self._dispatch(self.engine.disable(name, time.monotonic()))
        log.info("rule_disabled", rule=name)

    def remove(self, name: str) -> None:
        self._dispatch(self.engine.remove(name, time.monotonic()))
        log.info("rule_removed", rule=name)

    def fire(self, fault: Mapping[str, Any], charger_id: str) -> str:
        """Fire a fault at one charger now (e.g. `{"type": "signal_loss", "duration": 30}`)."""
        name, actions = self.engine.fire(dict(fault), charger_id, time.monotonic())
        self._dispatch(actions)
        log.info("fault_fired", rule=name, fault=fault.get("type"), charger_id=charger_id)
        return name

    def _dispatch(self, by_session: Mapping[str, list[Action]]) -> None:
        for session_id, actions in by_session.items():
            session = self._sessions.get(session_id)
            if session is not None and actions:
                spawn(session.execute(actions), name=f"rule-actions-{session_id}")
