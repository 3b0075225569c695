"""The critical path's floor: the create path's unavoidable API calls at the simulated latency, plus what each SQS
hop of that path costs with nothing to do at its end (measured here, in the run).

The latency measured is the connector's own (the Create row's ``latency_ms``): from the webhook receiving the push
that made the order eligible to Magento answering the create. On that path the connector must:

- read the sales order from Acumatica once: the push row is a hint (eligibility needs the order as it is now:
  status, unpaid balance, lines) and the mapping needs its lines and addresses;
- create the order in Magento once.

Everything else on the path can be avoided in steady state: the login (a kept session), the customer and product
lookups (cacheable; a cold cache pays them), the ``ext_order_id`` lookup before the create (needed only when an
earlier attempt may have committed, which a first attempt under a fresh lease cannot have), the write-back (after
the create). Each of the two calls is counted in the floor only if the run saw the connector make it on the create
path (so the floor follows the code), and each queue hop the message takes is timed with a no-op handler swapped
in: send as the sending function's role -> the event source mapping receives -> the handler starts.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import uuid
from typing import Any

from bench.instruments import ORDER_CREATE, ORDER_READ, CallEvent

FLOOR_CALLS = [
    {"system": ORDER_READ[0], "operation": ORDER_READ[1], "by": "OrderSyncFunction",
     "why": "eligibility and mapping need the order as it is now (the push row is only a hint)"},
    {"system": ORDER_CREATE[0], "operation": ORDER_CREATE[1], "by": "MagentoWriterFunction",
     "why": "the create itself"},
]
HOPS = [("OrderQueue", "WebhookFunction", "OrderSyncFunction"),
        ("MagentoOrderQueue", "OrderSyncFunction", "MagentoWriterFunction")]


def floor_calls(events: list[CallEvent], order_nbrs: list[str]) -> list[dict[str, Any]]:
    """Each unavoidable call with the share of creates on whose path the run saw it (and how often per create)."""
    wanted = set(order_nbrs)
    out = []
    for call in FLOOR_CALLS:
        seen = [e for e in events if (e.system, e.operation) == (call["system"], call["operation"])
                and e.function == call["by"] and e.ref in wanted]
        out.append({**call, "share_of_creates": round(len({e.ref for e in seen}) / max(1, len(wanted)), 3),
                    "per_create": round(len(seen) / max(1, len(wanted)), 2)})
    return out


def measure_hops(world: Any, samples: int, seed: int) -> list[dict[str, Any]]:
    """Time ``samples`` messages through each hop of the create path, one at a time, with the receiving function's
    handler swapped for a no-op (the world must be idle)."""
    rng = random.Random(seed)
    return [_hop(world, queue, sender, receiver, samples, rng) for queue, sender, receiver in HOPS]


def _hop(world: Any, queue: str, sender: str, receiver: str, samples: int, rng: random.Random) -> dict[str, Any]:
    runtime = world.runtime
    url = runtime.stack.physical_ids[queue]
    fn = runtime.functions[receiver]
    client = runtime.boto("sqs", runtime.functions[sender].role)  # sent as the sending function sends it
    arrived: dict[str, float] = {}
    cond = threading.Condition()

    def no_op(event: dict[str, Any], context: Any) -> dict[str, Any]:
        t = time.perf_counter()
        with cond:
            for r in event.get("Records", []):
                arrived[json.loads(r["body"])["probe"]] = t
            cond.notify_all()
        return {"batchItemFailures": []}

    original = fn.handler
    fn.handler = no_op
    times: list[float] = []
    try:
        for k in range(samples + 1):  # the first warms the sending client's connection: not counted
            time.sleep(rng.uniform(0.05, 0.4))  # a random moment of the pollers' long poll
            probe = uuid.uuid4().hex
            t0 = time.perf_counter()
            client.send_message(QueueUrl=url, MessageBody=json.dumps({"probe": probe}), MessageGroupId=probe,
                                MessageDeduplicationId=probe)
            with cond:
                if not cond.wait_for(lambda p=probe: p in arrived, timeout=15):  # type: ignore[misc]
                    raise RuntimeError(f"probe {probe} did not reach {receiver} through {queue} within 15 s")
            if k:
                times.append((arrived[probe] - t0) * 1000)
    finally:
        fn.handler = original
        world.wait_settled(30)
    ordered = sorted(times)
    return {"queue": queue, "from": sender, "to": receiver, "samples": len(times),
            "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "mean_ms": round(statistics.fmean(ordered), 1)}
