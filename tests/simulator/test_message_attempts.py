"""TransactionMessageAttempts / TransactionMessageRetryInterval over real sockets: a
transaction message the CSMS answers with a CALLERROR is sent again after the interval,
the configured number of times, then given up so the queue moves on (1.6 §4.7)."""

from __future__ import annotations

from ocpp_chaos.csms import ReferenceCSMS
from ocpp_chaos.rules.model import Rule
from ocpp_chaos.simulator.charger import ChargerState
from tests.simulator.test_charger import Running, fast_charger, until

ERR_STOP = {
    "name": "err-stop",
    "match": {"direction": "up", "message": "call", "action": "StopTransaction"},
    "fault": {"type": "reply_error", "code": "InternalError"},
}


async def test_a_refused_stop_is_tried_the_configured_times_then_dropped(make_proxy) -> None:
    config = {
        "HeartbeatInterval": "60",
        "MeterValueSampleInterval": "60",
        "TransactionMessageAttempts": "3",
        "TransactionMessageRetryInterval": "1",
    }
    async with ReferenceCSMS(port=0, heartbeat_interval=60) as csms:
        proxy = await make_proxy(csms.url)
        proxy.rules.add(Rule.model_validate(ERR_STOP))
        async with Running(fast_charger("TMA-1", proxy.url, config=config)) as charger:
            await until(lambda: charger.state == ChargerState.ACCEPTED)
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-1")
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(charger.queue) == 0, timeout=20)
            (stats,) = [r for r in proxy.rules.describe() if r["name"] == "err-stop"]
            # the next transaction's messages go through: the queue was not stuck
            proxy.rules.remove("err-stop")
            await charger.unplug(1)
            await charger.plug_in(1)
            assert await charger.start_transaction(1, "TAG-2")
            await charger.stop_transaction(1, "Local")
            await until(lambda: len(charger.queue) == 0, timeout=20)
    assert stats["hits"] == 3  # TransactionMessageAttempts: three CALLs, three CALLERRORs
    assert charger.counters.call_errors >= 3
    actions = csms.received_actions("TMA-1")
    assert actions.count("StartTransaction") == 2
    assert actions.count("StopTransaction") == 1  # only the second transaction's
