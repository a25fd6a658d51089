"""The transparent chaos proxy: the IO edge around the frame layer."""

from ocpp_chaos.proxy.monitor import FrameRecord, SessionMonitor
from ocpp_chaos.proxy.server import (
    DEFAULT_MAX_FRAME_SIZE,
    ProxyConfig,
    ProxyServer,
    SessionRegistry,
)
from ocpp_chaos.proxy.session import Session, SessionEvent
from ocpp_chaos.proxy.tape import Tape

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "FrameRecord",
    "ProxyConfig",
    "ProxyServer",
    "Session",
    "SessionEvent",
    "SessionMonitor",
    "SessionRegistry",
    "Tape",
]
