"""The embedded reference CSMS (OCPP 1.6, 2.0.1, 2.1) built on the `ocpp` library."""

from ocpp_chaos.csms.boot import BootPolicy
from ocpp_chaos.csms.records import Received, TransactionRecord, ocpp_timestamp
from ocpp_chaos.csms.server import ReferenceCSMS, charger_id_from_path, run_csms

__all__ = [
    "BootPolicy",
    "Received",
    "ReferenceCSMS",
    "TransactionRecord",
    "charger_id_from_path",
    "ocpp_timestamp",
    "run_csms",
]
