"""Contract: every swagger operation the simulator serves was exercised with validated bodies (runs last)."""

from __future__ import annotations

from mag_support import SEEN_OPERATIONS, contract

SERVED = {
    "PostV1IntegrationAdminToken", "GetV1CustomersSearch", "GetV1CustomersCustomerId", "GetV1ProductsSku",
    "GetV1Products", "PutV1OrdersCreate", "GetV1Orders", "PostV1Orders", "GetV1OrdersId", "GetV1OrdersItems",
    "PostV1OrderOrderIdShip", "PostV1OrderOrderIdInvoice", "GetV1OrdersIdComments", "PostV1OrdersIdComments",
    "PostV1OrdersIdCancel", "PostV1OrdersIdHold", "PostV1OrdersIdUnhold", "GetV1OrdersIdStatuses",
    "GetV1Shipments", "GetV1ShipmentId", "PostV1ShipmentTrack", "GetV1Invoices", "GetV1InvoicesId",
    "GetV1InventorySourceitems", "PostV1InventorySourceitems", "PostV1InventorySourceitemsdelete",
    "GetV1InventorySources", "GetV1InventoryGetproductsalablequantitySkuStockId",
    "PutV1ProductsProductSkuStockItemsItemId", "GetV1StockItemsProductSku", "GetV1StoreStoreViews",
    "GetV1StoreStoreConfigs", "PostV1Customers", "PutV1CustomersCustomerId", "PostV1Guestcarts",
    "PostV1GuestcartsCartIdItems", "PostV1GuestcartsCartIdEstimateshippingmethods", "GetV1StoreWebsites",
    "GetV1StoreStoreGroups", "GetV1ConfigurableproductsSkuChildren", "GetV1ConfigurableproductsSkuOptionsAll",
    "GetV1BundleproductsSkuOptionsAll", "GetV1DirectoryCurrency",
    "PostV1OrderOrderIdRefund", "PostV1InvoiceInvoiceIdRefund", "GetV1Creditmemos", "GetV1CreditmemoId",
    "GetV1Returns", "PostV1Returns", "GetV1ReturnsId",
}


def test_every_served_operation_was_validated():
    # Given the behaviour tests ran through the contract-checking client (collected in SEEN_OPERATIONS)
    # When comparing with the operations the simulator serves
    missing = SERVED - SEEN_OPERATIONS
    # Then none was left unchecked (run the whole folder; a lone -k run skips this meaningfully)
    assert not missing or len(SEEN_OPERATIONS) < 10, f"never validated: {sorted(missing)}"


def test_bare_scalar_responses_validate():
    # Given bare int / bool / string / [] bodies
    # Then they match the declared types, and wrong ones are refused
    assert contract.validate_response("POST", "/rest/default/V1/order/1/ship", 200, 458)
    assert contract.validate_response("POST", "/V1/orders/{id}/cancel", 200, False)
    assert contract.validate_response("GET", "/V1/orders/5/statuses", 200, "pending")
    assert contract.validate_response("POST", "/rest/all/V1/inventory/source-items", 200, [])
    for method, path, body in (("POST", "/V1/order/1/ship", "458"), ("POST", "/V1/orders/1/cancel", "false"),
                               ("POST", "/V1/inventory/source-items", {})):
        try:
            contract.validate_response(method, path, 200, body)
        except contract.ContractError:
            continue
        raise AssertionError(f"{path} accepted {body!r}")


def test_request_validation_rejects_bad_bodies():
    # Given an order item without its required sku
    # When validating the request
    # Then the contract refuses it
    try:
        contract.validate_request("PUT", "/V1/orders/create", {"entity": {"items": [{}], "grand_total": 1,
                                                                            "base_grand_total": 1,
                                                                            "customer_email": "x@y"}})
    except contract.ContractError as exc:
        assert "sku" in str(exc)
    else:
        raise AssertionError("missing sku accepted")
