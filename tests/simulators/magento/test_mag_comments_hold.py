"""Comments set the status label (never the state); cancel/hold/unhold rules."""

from __future__ import annotations

from mag_support import create_order

SHIP = "Shipment Document Validation Error(s):\n"


def _comment(oid, comment, status=None):
    h = {"comment": comment, "is_customer_notified": 0, "is_visible_on_front": 0, "parent_id": oid}
    if status is not None:
        h["status"] = status
    return {"statusHistory": h}


def test_comment_with_status_changes_status_not_state(api):
    # Given a new order
    oid = create_order(api)["entity_id"]
    # When a comment carries status "fraud_review_x"
    resp = api.post(f"/orders/{oid}/comments", _comment(oid, "credit hold", "fraud_review_x"))
    # Then true, the status label changed, the state did not
    got = api.get(f"/orders/{oid}").json()
    assert resp.json() is True
    assert (got["state"], got["status"]) == ("new", "fraud_review_x")
    assert got["status_histories"][0]["comment"] == "credit hold"


def test_comment_without_status_keeps_previous(api):
    # Given an order whose last comment set "on_review"
    oid = create_order(api)["entity_id"]
    api.post(f"/orders/{oid}/comments", _comment(oid, "first", "on_review"))
    # When a plain note without status is added
    api.post(f"/orders/{oid}/comments", _comment(oid, "note"))
    # Then the status is untouched and the entry got the previous status
    comments = api.get(f"/orders/{oid}/comments").json()
    assert api.get(f"/orders/{oid}/statuses").json() == "on_review"
    assert comments["total_count"] == 2 and comments["items"][0]["status"] == "on_review"


def test_comment_requires_status_history(api):
    # Given an order
    oid = create_order(api)["entity_id"]
    # When the body lacks statusHistory
    resp = api.post(f"/orders/{oid}/comments", {"comment": "x"}, check=False)
    # Then the required-argument error
    assert resp.status_code == 400 and resp.json()["parameters"] == {"fieldName": "statusHistory"}


def test_hold_blocks_ship_and_invoice_then_unhold_restores(api):
    # Given a processing order (partly invoiced)
    order = create_order(api)
    oid, item_id = order["entity_id"], order["items"][0]["item_id"]
    api.post(f"/order/{oid}/invoice", {"items": [{"order_item_id": item_id, "qty": 1}]})
    # When held
    assert api.post(f"/orders/{oid}/hold").json() is True
    ship = api.post(f"/order/{oid}/ship", {})
    inv = api.post(f"/order/{oid}/invoice", {})
    again = api.post(f"/orders/{oid}/hold")
    # Then ship/invoice name the holded status, a second hold is refused
    assert ship.json()["message"].startswith(SHIP + "A shipment cannot be created when an order has a status of holded")
    assert "An invoice cannot be created when an order has a status of holded" in inv.json()["message"]
    assert again.status_code == 400 and again.json() == {"message": "A hold action is not available."}
    # And unhold restores processing/processing; a second unhold is refused
    assert api.post(f"/orders/{oid}/unhold").json() is True
    got = api.get(f"/orders/{oid}").json()
    assert (got["state"], got["status"]) == ("processing", "processing")
    refused = api.post(f"/orders/{oid}/unhold")
    assert refused.status_code == 400 and refused.json() == {"message": "You cannot remove the hold."}


def test_cancel_new_order_and_false_when_fully_invoiced(sim, api):
    # Given one new order and one fully invoiced order
    new_id = create_order(api)["entity_id"]
    inv_id = create_order(api, ext_order_id="SO-2")["entity_id"]
    api.post(f"/order/{inv_id}/invoice", {})
    # When cancelling both
    ok = api.post(f"/orders/{new_id}/cancel")
    refused = api.post(f"/orders/{inv_id}/cancel")
    # Then the first is canceled (+qty reservation), the second is 200 false and untouched
    assert ok.status_code == 200 and ok.json() is True
    got = api.get(f"/orders/{new_id}").json()
    assert (got["state"], got["items"][0]["qty_canceled"]) == ("canceled", 2)
    assert refused.status_code == 200 and refused.json() is False
    assert api.get(f"/orders/{inv_id}").json()["state"] == "processing"
    assert any(r["metadata"]["event_type"] == "order_canceled" for r in sim.snapshot()["reservations"])


def test_cancel_on_hold_is_false_and_unknown_is_404(api):
    # Given a held order
    oid = create_order(api)["entity_id"]
    api.post(f"/orders/{oid}/hold")
    # When cancelling it, and cancelling an unknown order
    # Then false, and 404
    assert api.post(f"/orders/{oid}/cancel").json() is False
    assert api.post("/orders/777777/cancel").status_code == 404
