"""Order sync Acumatica -> Magento through the whole local world (walkthrough steps 1-8 and the faults)."""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from e2e_support import E2E

from amsync.composition import publish_requests
from amsync.config import Settings
from amsync.data.settings_store import CACHE_S
from amsync.models.log import Result
from amsync.models.messages import Kind, SyncRequest
from amsync.models.settings import OrderMappingPreferences, ProductMapping, ShipViaMapping
from amsync_local import fidelity
from amsync_local.walkthrough import val


def _resync(e2e: E2E, order_nbr: str) -> None:
    settings = Settings.from_env(e2e.runtime.functions["WebhookFunction"].env)
    publish_requests(settings, [SyncRequest(kind=Kind.ORDER, key=f"SO/{order_nbr}", source="resync",
                                            correlation_id=f"SO/{order_nbr}", timestamp=time.time_ns())])


def _paid_order(e2e: E2E, **kw: Any) -> str:
    nbr = e2e.acu.create_order(**kw)
    e2e.acu.record_payment(nbr)
    return nbr


def test_walkthrough_order_is_skipped_until_paid_then_synced_once_with_acumatica_totals(e2e: E2E) -> None:
    # Given Alta Ace's order (2 x WATER2809, Ship Via LOCAL), unpaid
    nbr = e2e.acu.create_order()
    e2e.settle()
    # Then it is skipped with the reason, and not in Magento
    skipped = [r for r in e2e.rows(nbr) if r.result == Result.SKIPPED]
    assert skipped and "unpaid balance is 40.00" in skipped[-1].message
    assert e2e.mag.orders_for(nbr) == []
    # When the payment brings the unpaid balance to 0.00
    e2e.acu.record_payment(nbr)
    e2e.settle()
    # Then exactly one Magento order carries the Acumatica number and Acumatica's totals
    orders = e2e.mag.orders_for(nbr)
    assert len(orders) == 1
    order = orders[0]
    assert order["ext_order_id"] == nbr and order["state"] == "new" and order["status"] == "pending"
    assert Decimal(str(order["grand_total"])) == Decimal("40.00")
    assert order["shipping_description"] == "Free Shipping - Free"
    assert [(i["sku"], Decimal(str(i["qty_ordered"])), Decimal(str(i["price"]))) for i in order["items"]] == [
        ("WATER2809", Decimal("2"), Decimal("20.00"))]
    assert order["customer_email"] == "ap@altaace.com" and order["customer_is_guest"] in (0, False)
    # and Acumatica got the Magento number back
    assert val(e2e.acu.order(nbr, "Totals"), "ExternalRef") == order["increment_id"]
    # and the log reads like the walkthrough's: Publisher rows, then Create / Success with Magento's entity id
    creates = [r for r in e2e.rows(nbr) if r.action and r.action.value == "Create"]
    assert [(r.result, r.entity_id, r.notes) for r in creates] == [
        (Result.SUCCESS, str(order["entity_id"]), nbr)]
    assert any(r.action and r.action.value == "Publisher" for r in e2e.rows(nbr))
    assert creates[0].details["request"]["entity"]["ext_order_id"] == nbr


def test_duplicate_and_shuffled_pushes_give_one_order_each(e2e: E2E) -> None:
    # Given Acumatica delivers every push twice and out of order
    e2e.world.acumatica.set_push_faults(duplicate_rate=1.0, shuffle_window=3, seed=7)
    try:
        nbrs = [_paid_order(e2e) for _ in range(3)]
        e2e.settle()
    finally:
        e2e.world.acumatica.set_push_faults(duplicate_rate=0.0, shuffle_window=0)
    # Then each order exists once in Magento
    for nbr in nbrs:
        assert len(e2e.mag.orders_for(nbr)) == 1, nbr
    # When one is resynced by hand later (a replay), nothing new is created
    _resync(e2e, nbrs[0])
    e2e.settle()
    assert len(e2e.mag.orders_for(nbrs[0])) == 1


def _settings_turn() -> None:
    """A settings change reaches a push's sync once the warm containers' cache turns (within CACHE_S: a push reads
    the cached settings, a resync or replay reads them fresh; data/settings_store.py)."""
    time.sleep(CACHE_S + 0.5)


def test_unmapped_ship_via_fails_clearly_then_syncs_after_mapping_and_resync(e2e: E2E) -> None:
    # Given WILLCALL has no Magento shipping method
    assert e2e.settings.delete_mapping("shipvia", "WILLCALL#all")
    _settings_turn()
    nbr = _paid_order(e2e, ship_via="WILLCALL")
    e2e.settle()
    # Then the order fails with a message that says what to map, and is not in Magento
    failures = [r for r in e2e.rows(nbr) if r.result == Result.FAILURE]
    assert failures and "WILLCALL" in failures[-1].message and "map it" in failures[-1].message
    assert e2e.mag.orders_for(nbr) == []
    # When the mapping is added and the order resynced
    e2e.settings.put_mapping("shipvia", ShipViaMapping(ship_via="WILLCALL", carrier_code="flatrate",
                                                       method_code="flatrate", title="Flat Rate - Fixed"))
    _resync(e2e, nbr)
    e2e.settle()
    # Then it syncs, once, with the mapped method
    orders = e2e.mag.orders_for(nbr)
    assert len(orders) == 1 and orders[0]["shipping_description"] == "Flat Rate - Fixed"


def test_magento_5xx_and_429_are_retried_until_created_once(e2e: E2E) -> None:
    # Given Magento answers 503 then 429 to the next two creates
    e2e.world.magento.faults.add({"path": r"/orders/create$", "method": "PUT", "error_rate": 1.0,
                                  "error_statuses": [503, 429], "remaining": 2, "retry_after": 1})
    nbr = _paid_order(e2e)
    e2e.settle(timeout=90)
    # Then the order is created exactly once, after two logged retryable failures
    assert len(e2e.mag.orders_for(nbr)) == 1
    results = [r.result for r in e2e.rows(nbr) if r.action and r.action.value == "Create"]
    assert results.count(Result.FAILURE) == 2 and results[-1] == Result.SUCCESS


def _captured_create(e2e: E2E, nbr: str) -> Any:
    """Pay ``nbr`` with the order-sync stage's output captured instead of forwarded: the writer's message."""
    return e2e.captured_create(lambda: e2e.acu.record_payment(nbr))


def test_business_refusal_is_not_retried(e2e: E2E) -> None:
    from amsync.data import queues

    # Given one create request on the writer's queue, and Magento refusing every create with a 400
    nbr = e2e.acu.create_order()
    e2e.settle()
    msg = _captured_create(e2e, nbr)
    rule = e2e.world.magento.faults.add({"path": r"/orders/create$", "method": "PUT", "error_rate": 1.0,
                                         "error_status": 400, "remaining": 5})
    queues.send(e2e.runtime.stack.physical_ids["MagentoOrderQueue"], msg, group_id=msg.order_key,
                dedup_key="refusal-test")
    e2e.settle()
    # Then Magento was asked once: one Failure row with Magento's words, no order, nothing left queued
    assert rule.remaining == 4
    e2e.world.magento.faults.clear()
    creates = [r for r in e2e.rows(nbr) if r.action and r.action.value == "Create"]
    assert [r.result for r in creates] == [Result.FAILURE]
    assert "Magento refused the order" in creates[0].message
    assert e2e.mag.orders_for(nbr) == []
    # and a resync after the cause is fixed creates it
    _resync(e2e, nbr)
    e2e.settle()
    assert len(e2e.mag.orders_for(nbr)) == 1


def test_lost_response_after_magento_committed_gives_one_order(e2e: E2E) -> None:
    # Given Magento commits the next create but the answer never arrives (the connector times out)
    e2e.world.magento.faults.add({"path": r"/orders/create$", "method": "PUT", "drop_after_commit_rate": 1.0,
                                  "remaining": 1})
    nbr = _paid_order(e2e)
    e2e.settle(timeout=120)
    # Then the retry finds the committed order by ext_order_id and binds it: one order, no double
    orders = e2e.mag.orders_for(nbr)
    assert len(orders) == 1
    messages = [r.message for r in e2e.rows(nbr) if r.result == Result.SUCCESS]
    assert any("found in Magento" in m for m in messages)
    assert val(e2e.acu.order(nbr, "Totals"), "ExternalRef") == orders[0]["increment_id"]


def test_writer_crash_after_magento_committed_gives_one_order(e2e: E2E) -> None:
    # Given the writer function dies right after Magento committed its first create (before binding)
    clients = [m.ports.magento for m in e2e.runtime.functions["MagentoWriterFunction"].modules]
    crashed: list[int] = []

    def crashing(original: Any) -> Any:
        def create_then_crash(entity: dict[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = original(entity)
            if not crashed:
                crashed.append(1)
                raise RuntimeError("Lambda container killed after the create committed")
            return result
        return create_then_crash

    originals = [c.create_order for c in clients]
    for c, original in zip(clients, originals, strict=True):
        c.create_order = crashing(original)
    try:
        nbr = _paid_order(e2e)
        e2e.settle(timeout=120)
    finally:
        for c, original in zip(clients, originals, strict=True):
            c.create_order = original
    # Then the retry looks the order up and binds it instead of creating a second one
    assert crashed and len(e2e.mag.orders_for(nbr)) == 1


def test_concurrent_writers_for_one_order_create_it_once(e2e: E2E) -> None:
    # Given an eligible order already mapped, and two writers handed the same create at the same time
    from amsync.services.order_writer import write_order

    nbr = e2e.acu.create_order()
    e2e.settle()
    msg = _captured_create(e2e, nbr)
    writer = e2e.runtime.functions["MagentoWriterFunction"]
    ports = writer.module.ports
    e2e.world.magento.faults.add({"path": r"/orders/create$", "latency_ms": 1500, "remaining": 2})
    outcomes: list[str] = []

    def run(container_ports: Any) -> None:
        try:
            outcomes.append(write_order(msg, container_ports))
        except Exception as exc:  # the loser is told to come back later
            outcomes.append(type(exc).__name__)

    # (two warm containers of the writer, each with its own clients)
    threads = [threading.Thread(target=run, args=(m.ports,)) for m in writer.modules[:2]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then one created it and the other was held off (by the lease, or, on a slow machine where the first create
    # outlived its wait, told to retry); a later retry finds it bound
    done = [o for o in outcomes if o in ("created", "recovered")]
    held_off = [o for o in outcomes if o not in done]
    assert len(done) == 1 and len(held_off) == 1, outcomes
    assert held_off[0] in ("NotReady", "RetryableError", "TransportError", "ServerError"), outcomes
    e2e.world.magento.faults.clear()  # the loser may not have reached Magento: its slow create is not used up
    assert write_order(msg, ports) == "duplicate"
    assert len(e2e.mag.orders_for(nbr)) == 1


def test_a_create_magento_commits_after_the_writer_gave_up_is_not_made_twice(e2e: E2E) -> None:
    from amsync.adapters.errors import TransportError
    from amsync.consumer import NotReady
    from amsync.services.order_writer import write_order

    # Given an eligible order, and Magento taking longer over its create than the writer waits (it goes on, and
    # commits after the writer has given up)
    nbr = e2e.acu.create_order()
    e2e.settle()
    msg = _captured_create(e2e, nbr)
    ports = e2e.runtime.functions["MagentoWriterFunction"].module.ports
    options = e2e.world.options
    e2e.world.magento.faults.add({"path": r"/orders/create$", "latency_ms": (options.http_timeout_s + 2) * 1000,
                                  "remaining": 1})
    with pytest.raises(TransportError) as failed:
        write_order(msg, ports)
    # (and the record is told to come back once the doubt has passed)
    assert failed.value.retry_after == options.create_lease_s + 1
    # When a retry comes before Magento has committed
    # Then it does not create the order again: it waits out the doubt, and says how long that is
    with pytest.raises(NotReady, match="may still commit in Magento") as early:
        write_order(msg, ports)
    assert early.value.retry_after is not None and 1 < early.value.retry_after <= options.create_lease_s + 1
    assert e2e.mag.orders_for(nbr) == []
    # and once the doubt has passed, a retry finds the order Magento committed and binds it
    deadline = time.monotonic() + options.create_lease_s + 10
    outcome = ""
    while not outcome:
        try:
            outcome = write_order(msg, ports)
        except NotReady:
            assert time.monotonic() < deadline
            time.sleep(0.5)
    assert outcome == "recovered"
    assert len(e2e.mag.orders_for(nbr)) == 1


@pytest.mark.parametrize("lines", [[("WATER2809", 3), ("MUG500", 2)], [("JUICE100", 7)]])
def test_taxed_multi_line_orders_arrive_to_the_cent(e2e: E2E, lines: list[tuple[str, int]]) -> None:
    # Given an order with a taxable item and freight-free shipping
    nbr = _paid_order(e2e, lines=lines)
    e2e.settle()
    acu = e2e.acu.order(nbr, "Totals,Details")
    order = e2e.mag.orders_for(nbr)[0]
    # Then Magento holds Acumatica's totals exactly
    assert Decimal(str(order["grand_total"])) == Decimal(str(val(acu, "OrderTotal")))
    assert Decimal(str(order["tax_amount"])) == Decimal(str(val(acu["Totals"], "TaxTotal")))
    assert sum(Decimal(str(i["tax_amount"])) for i in order["items"]) == Decimal(str(order["tax_amount"]))


def test_generated_orders_of_every_shape_match_acumatica_to_the_cent(e2e: E2E) -> None:
    # Given the product mapping (JUICE100 by the CASE of 12), the currencies and Magento's virtual products the
    # generated shapes need (amsync_local.fidelity: `make fidelity` runs 1,000 of them)
    cats = fidelity.configure(e2e.world)
    _settings_turn()
    rng = random.Random(15)
    shapes = [fidelity.random_shape(rng) for _ in range(6)]
    try:
        # When they are entered in Acumatica and synced through the whole world
        report = fidelity.sync_and_compare(e2e.world, shapes, cats, workers=2)
    finally:
        for m in fidelity.PRODUCT_MAPPINGS:
            e2e.store.delete_mapping("product", f"{m['inventory_id']}#{m['uom']}")
        e2e.store.put_preferences("order-mapping", OrderMappingPreferences())
    # Then each Magento order is its Acumatica order to the cent (or waits when Magento cannot hold it exactly)
    assert report.failed == [] and report.mismatched == [], report.table()
    assert report.synced + report.waited == len(shapes) and report.synced >= 4


def test_a_configurables_child_arrives_as_the_configurable_with_its_child_linked(e2e: E2E) -> None:
    # Given MUG500 is, in Magento, the child of the configurable MUG (a product mapping says so)
    e2e.world.magento.seed_products([{"sku": "MUG", "name": "Mug", "type_id": "configurable",
                                      "configurable": {"options": [{"attribute_code": "color", "values": [49]}],
                                                       "children": ["MUG500"]}}])
    e2e.store.put_mapping("product", ProductMapping(inventory_id="MUG500", kind="configurable", parent_sku="MUG"))
    _settings_turn()
    try:
        # When an order for 2 x MUG500 syncs
        nbr = _paid_order(e2e, lines=[("MUG500", 2)])
        e2e.settle()
    finally:
        e2e.store.delete_mapping("product", "MUG500#*")
    order = e2e.mag.orders_for(nbr)[0]
    parent, child = order["items"]
    # Then Magento has the configurable's item (priced, the child's SKU) and the child, linked to it
    assert (parent["product_type"], parent["sku"], Decimal(str(parent["row_total"]))) == (
        "configurable", "MUG500", Decimal("25.98"))
    assert (child["product_type"], child["sku"], child["parent_item_id"]) == ("simple", "MUG500", parent["item_id"])
    assert Decimal(str(order["grand_total"])) == Decimal(str(val(e2e.acu.order(nbr, "Totals"), "OrderTotal")))
