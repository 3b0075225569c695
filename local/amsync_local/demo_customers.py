"""`make demo`, customers Magento -> Acumatica: a shopper registers in the store and becomes an Acumatica customer.

Magento Open Source has no outbound webhooks: the CustomerPollerFunction's schedule polls customers changed since
its watermark. The demo fires that schedule instead of waiting five minutes, then shows the new Acumatica customer
and the Customer rows of the connector log (Sync Direction "Magento to Acumatica").
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from rich.table import Table

from amsync.models.log import Group, Side
from amsync_local.walkthrough import val

if TYPE_CHECKING:
    from amsync_local.demo import Demo

SHOPPER_ADDRESS = {"firstname": "Riley", "lastname": "Rivera", "street": ["742 Pine St"], "city": "Portland",
                   "region": {"region_code": "OR", "region": "Oregon", "region_id": 49}, "region_id": 49,
                   "postcode": "97205", "country_id": "US", "telephone": "+1 (503) 555-0142",
                   "default_billing": True, "default_shipping": True}


def customer_table(record: dict[str, Any]) -> Table:
    t = Table(title=f"Acumatica customer {val(record, 'CustomerID')}")
    t.add_column("field")
    t.add_column("value")
    main = record.get("MainContact") or {}
    address = main.get("Address") or {}
    rows = [("Customer Name", val(record, "CustomerName")), ("Customer Class", val(record, "CustomerClass")),
            ("Terms (Acumatica's)", val(record, "Terms")), ("Status", val(record, "Status")),
            ("Main contact", f"{val(main, 'FirstName')} {val(main, 'LastName')} <{val(main, 'Email')}>"),
            ("Phone", val(main, "Phone1")),
            ("Address", ", ".join(str(val(address, f)) for f in ("AddressLine1", "City", "State", "PostalCode",
                                                                  "Country") if val(address, f)))]
    for k, v in rows:
        t.add_row(k, str(v))
    return t


def customers_step(demo: Demo) -> str:
    """Register a shopper in the Magento simulator, poll, and show the Acumatica customer and the log rows."""
    from amsync_local.demo import console, magento_log_table

    demo.step("C1", "a shopper registers in the Magento store")
    email = f"riley.rivera+{uuid.uuid4().hex[:4]}@example.com"
    shopper = demo.world.magento.register_customer({"email": email, "firstname": "Riley", "lastname": "Rivera",
                                                    "addresses": [SHOPPER_ADDRESS]})
    console.print(f"  Magento customer {shopper['id']}: {shopper['firstname']} {shopper['lastname']} <{email}>, "
                  f"group {shopper['group_id']}, website {shopper['website_id']}")
    demo.step("C2", "the customer poller's schedule fires (customers changed since the watermark)")
    assert demo.world.runtime is not None
    result = demo.world.runtime.fire_schedule("CustomerPollerFunction")
    console.print(f"  poll: {result.get('outcome')}, {result.get('published')} customer(s) queued, "
                  f"watermark {result.get('watermark')}")
    demo.settle()
    demo.step("C3", "the shopper is an Acumatica customer")
    rows = [e for e in demo.log.newest(Side.MAGENTO, limit=100) if e.group == Group.CUSTOMER]
    mine = [e for e in rows if e.notes == email and e.entity_id]
    if not mine:
        raise RuntimeError(f"no Customer row with an Acumatica CustomerID for {email}")
    customer_id = mine[0].entity_id or ""
    record = demo.acu.get("Customer", customer_id, expand="MainContact/Address")
    console.print(customer_table(record))
    demo.step("C4", "the connector log's Customer rows (Magento to Acumatica)")
    console.print(magento_log_table(rows[:20]))
    return customer_id
