"""Every key binding names an action its widget (or the app) has, and no key means two
things in one place."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode

from ocpp_chaos.console import ConsoleApp
from ocpp_chaos.console.panels import (
    FleetPanel,
    LogPanel,
    RulesPanel,
    ScenariosPanel,
    SessionsPanel,
)
from ocpp_chaos.console.screens import FaultsMenu, HelpScreen
from ocpp_chaos.console.widgets.frame_log import FrameLog

OWNERS: list[type[DOMNode]] = [
    ConsoleApp,
    SessionsPanel,
    LogPanel,
    FrameLog,
    RulesPanel,
    FleetPanel,
    ScenariosPanel,
    FaultsMenu,
    HelpScreen,
]


@pytest.mark.parametrize("owner", OWNERS, ids=lambda c: c.__name__)
def test_every_binding_names_an_action(owner: type[DOMNode]):
    keys: set[str] = set()
    for binding in owner.BINDINGS:
        assert isinstance(binding, Binding)
        name = binding.action.split("(", 1)[0]
        assert callable(getattr(owner, f"action_{name}", None)), f"{owner.__name__}: {name}"
        for key in binding.key.split(","):
            assert key not in keys, f"{owner.__name__}: {key} bound twice"
            keys.add(key)


def test_panel_keys_do_not_shadow_the_app_keys():
    """Keys of a panel win over the app's while it has the focus: none may take one of
    the app's (1-6, /, p, e, C, ?, q) away."""
    app_keys = {b.key for b in ConsoleApp.BINDINGS if isinstance(b, Binding)}
    for owner in (SessionsPanel, LogPanel, FrameLog, RulesPanel, FleetPanel, ScenariosPanel):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding)
            assert not set(binding.key.split(",")) & app_keys, (owner.__name__, binding.key)


def test_quit_is_the_apps_own():
    assert ConsoleApp.action_quit is App.action_quit
