"""Constants and run-time configuration of the Acumatica simulator (one place for credentials and names)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

# -- seeded credentials ---------------------------------------------------------------------------------------
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "setup-admin-pw"
TENANT = "Company"
BRANCH = "PRODWHOLE"  # the login's default branch, and a new order's
# Branches (CS101500) an order may name in Branch; an unknown one is refused as Acumatica's selector does.
BRANCHES: frozenset[str] = frozenset({BRANCH, "PRODRETAIL"})
OAUTH_CLIENT_ID = "4c3b1c1e-amsync@Company"  # Acumatica client ids carry the "@<Tenant>" suffix
OAUTH_CLIENT_SECRET = "amsync-client-secret"

USERS: dict[str, str] = {ADMIN_USERNAME: ADMIN_PASSWORD}
OAUTH_CLIENTS: dict[str, str] = {OAUTH_CLIENT_ID: OAUTH_CLIENT_SECRET}

ENDPOINT_NAME = "Default"
ENDPOINT_VERSIONS = ("24.200.001", "23.200.001")
DEFAULT_VERSION = "24.200.001"
BUILD_VERSION = "24.207.0015"

# Fields the 23.200.001 contract does not have (derived from the two swagger files).
FIELDS_ABSENT_IN_23: dict[str, frozenset[str]] = {
    "Shipment": frozenset({"UnlimitedPackages"}),
    "SalesInvoice": frozenset({"BillToAddress", "BillToAddressOverride", "BillToContact", "BillToContactOverride",
                               "CreatedDate", "ExternalRef", "LastModifiedDate", "ShipToAddress",
                               "ShipToAddressOverride", "ShipToContact", "ShipToContactOverride", "TaxCalcMode"}),
    "StockItem": frozenset({"LastModifiedDateTime"}),
}

# -- business tables ----------------------------------------------------------------------------------------------
# Taxes of the tax zone (TX205000, rates in %) and the tax categories (TX205500) carrying them; a line's tax
# category picks its taxes, the order's FreightTaxCategory the freight's (pricing.py).
TAXES: dict[str, Decimal] = {"CASALES": Decimal("8.25"), "CITYLOCAL": Decimal("1.5"), "REDUCED": Decimal("5")}
TAX_CATEGORIES: dict[str, tuple[str, ...]] = {"EXEMPT": (), "TAXABLE": ("CASALES",),
                                              "CITYTAX": ("CASALES", "CITYLOCAL"), "REDUCED": ("REDUCED",)}
TAX_RATES: dict[str, Decimal] = {c: sum((TAXES[t] for t in ts), Decimal("0")) for c, ts in TAX_CATEGORIES.items()}
# Currencies (CM202000) and the day's rates (CM301000): base (USD) per unit of the currency, Multiply.
BASE_CURRENCY = "USD"
CURRENCY_RATES: dict[str, Decimal] = {"USD": Decimal("1"), "EUR": Decimal("1.085"), "GBP": Decimal("1.271"),
                                      "CAD": Decimal("0.735")}
B2B_CLASSES: frozenset[str] = frozenset({"B2B", "WHOLESALE"})
STAFF_CLASSES: frozenset[str] = frozenset({"STAFF"})
CUSTOMER_CLASSES: frozenset[str] = frozenset({"DEFAULT", "B2B", "WHOLESALE", "STAFF", "RETAIL"})
COUNTRIES: frozenset[str] = frozenset({"US", "CA", "GB", "DE", "FR", "AU", "NL", "IT", "ES", "MX", "IE", "NZ", "IN"})
PAYMENT_METHODS: frozenset[str] = frozenset({"CHECK", "CASH", "CREDITCARD", "MAGENTO", "WIRE"})
# Sales order types (Order Types, SO201000) -> the numbering sequence each draws its numbers from (Numbering
# Sequences, CS201010). Acumatica numbers orders per type and keys them by (OrderType, OrderNbr): SO draws from
# SOORDER; ST, a custom type, from STORDER, a sequence of its own in SOORDER's format, so an ST order and an SO order
# can carry the same number (SOT00024) and are still two orders.
# RC: the return (RMA) order type, Receipt lines brought back through SalesOrderCreateReceipt (see returns.py).
# CR: the credit memo order type, Receipt lines billed at once by a credit memo (no receipt: see returns.py).
ORDER_TYPES: dict[str, str] = {"SO": "SOORDER", "ST": "STORDER", "RC": "RCORDER", "CR": "CRORDER"}
# Number formats per numbering key of the store (an order type, or a document kind).
NUMBER_FORMATS: dict[str, str] = {"SO": "SOT{:05d}", "ST": "SOT{:05d}", "RC": "RC{:06d}", "CR": "CR{:06d}",
                                  "shipment": "{:06d}",
                                  "invoice": "AR{:06d}",
                                  "payment": "{:06d}", "customer": "C{:09d}"}


@dataclass
class Limits:
    """Licence limits (SM604000). ``None`` disables a limit."""

    max_sessions: int | None = 2  # trial licence: 2 concurrent API sessions
    max_requests_per_minute: int | None = None
    max_queue: int = 20  # a request is declined (429) when the queue already holds more than this
    delay_scale: float = 1.0  # multiply throttling delays (0 disables sleeping, keeps the accounting)
    session_idle_seconds: int = 600
    token_lifetime_seconds: int = 3600
    refresh_token_lifetime_seconds: int = 30 * 24 * 3600

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PushFaults:
    """Chaos options for outgoing push notifications (drawn from a seeded RNG)."""

    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    split_pairs_rate: float = 0.0
    shuffle_window: int = 0  # >1: a new message may overtake up to window-1 queued ones
    split_same_id: bool = True  # split halves keep the transaction's Id (one DB transaction = one Id)
    seed: int = 1234

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PushSettings:
    """Delivery settings for push notifications."""

    max_attempts: int = 5
    timeout_seconds: float = 10.0
    backoff_seconds: float = 1.0  # sleep backoff*attempt between attempts
    failed_retention_seconds: int = 2 * 24 * 3600
    workers: int = 1  # >1 delivers concurrently (order then not guaranteed)


@dataclass
class SimConfig:
    """Everything configurable when building a simulator."""

    limits: Limits = field(default_factory=Limits)
    push: PushSettings = field(default_factory=PushSettings)
    push_faults: PushFaults = field(default_factory=PushFaults)
    seed: str = "walkthrough"
    fault_seed: int = 42
    hang_seconds: float = 30.0
    action_polls: int = 0  # number of 202 answers on the Location before the 204
    # check every transaction against the whole-store algorithm (oracle.py): O(store) per write, for tests
    verify_transactions: bool = field(default_factory=lambda: os.environ.get("ACUMATICA_SIM_VERIFY") == "1")
