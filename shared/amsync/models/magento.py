"""Typed Magento records the connector reads (REST JSON of Magento 2.4, `customer-data-customer-interface`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class MagentoAddress(BaseModel):
    """`customer-data-address-interface`: one address of a customer's address book."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use (cold start)

    id: int | None = None
    firstname: str | None = None
    lastname: str | None = None
    company: str | None = None
    street: list[str] = Field(default_factory=list)
    city: str | None = None
    region_code: str | None = None
    postcode: str | None = None
    country_id: str | None = None
    telephone: str | None = None
    default_billing: bool = False
    default_shipping: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MagentoAddress:
        region = data.get("region")
        region_code = region.get("region_code") if isinstance(region, dict) else region
        street = data.get("street")
        lines = [s for s in (street if isinstance(street, list) else [street]) if _text(s)]
        return cls(id=int(data["id"]) if data.get("id") is not None else None,
                   firstname=_text(data.get("firstname")), lastname=_text(data.get("lastname")),
                   company=_text(data.get("company")), street=[str(s).strip() for s in lines],
                   city=_text(data.get("city")), region_code=_text(region_code), postcode=_text(data.get("postcode")),
                   country_id=_text(data.get("country_id")), telephone=_text(data.get("telephone")),
                   default_billing=bool(data.get("default_billing")),
                   default_shipping=bool(data.get("default_shipping")))

    def same_place(self, other: MagentoAddress) -> bool:
        """The same postal address and recipient (two address-book entries may hold the same data)."""
        keys = ("firstname", "lastname", "company", "street", "city", "region_code", "postcode", "country_id",
                "telephone")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


class MagentoCustomer(BaseModel):
    """`customer-data-customer-interface` as GET /V1/customers/{id} and customers/search return it."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use (cold start)

    id: int
    email: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    group_id: int = 1
    website_id: int = 1
    store_id: int = 1
    created_at: str = ""
    updated_at: str = ""  # "YYYY-MM-DD HH:MM:SS" UTC, one-second resolution: the version the binding keeps
    default_billing: str | None = None
    default_shipping: str | None = None
    addresses: list[MagentoAddress] = Field(default_factory=list)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MagentoCustomer:
        return cls(id=int(data["id"]), email=_text(data.get("email")), firstname=_text(data.get("firstname")),
                   lastname=_text(data.get("lastname")), group_id=int(data.get("group_id") or 0),
                   website_id=int(data.get("website_id") or 0), store_id=int(data.get("store_id") or 0),
                   created_at=str(data.get("created_at") or ""), updated_at=str(data.get("updated_at") or ""),
                   default_billing=_text(data.get("default_billing")),
                   default_shipping=_text(data.get("default_shipping")),
                   addresses=[MagentoAddress.from_api(a) for a in data.get("addresses") or []
                              if isinstance(a, dict)])

    def _default(self, ref: str | None, flag: str) -> MagentoAddress | None:
        for a in self.addresses:
            if (ref is not None and a.id is not None and str(a.id) == ref) or getattr(a, flag):
                return a
        return None

    @property
    def billing_address(self) -> MagentoAddress | None:
        return self._default(self.default_billing, "default_billing")

    @property
    def shipping_address(self) -> MagentoAddress | None:
        return self._default(self.default_shipping, "default_shipping")

    @property
    def phone(self) -> str | None:
        """Magento keeps telephones on addresses: the default billing one, else the default shipping one."""
        for a in (self.billing_address, self.shipping_address):
            if a is not None and a.telephone:
                return a.telephone
        return None

    @property
    def full_name(self) -> str:
        return " ".join(x for x in (self.firstname, self.lastname) if x)


class MagentoOrderItemRef(BaseModel):
    """An order item's ids: which Acumatica line it came from (``ext_order_item_id``) and its parent item."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use (cold start)

    item_id: int
    ext_order_item_id: str | None = None
    parent_item_id: int | None = None


class MagentoOrderSummary(BaseModel):
    """`sales-data-order-interface`: what the reconciler's sweep reads of an order in GET /V1/orders."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use (cold start)

    entity_id: int
    increment_id: str | None = None
    ext_order_id: str | None = None
    state: str | None = None
    status: str | None = None
    created_at: str = ""  # "YYYY-MM-DD HH:MM:SS" UTC
    comments: tuple[str, ...] = ()  # the order's status history comments, newest first
    store_id: int | None = None
    grand_total: Decimal | None = None
    customer_email: str | None = None
    items: tuple[MagentoOrderItemRef, ...] = ()

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MagentoOrderSummary:
        histories = data.get("status_histories") or []
        store, total = data.get("store_id"), data.get("grand_total")
        return cls(entity_id=int(data["entity_id"]), increment_id=_text(data.get("increment_id")),
                   ext_order_id=_text(data.get("ext_order_id")), state=_text(data.get("state")),
                   status=_text(data.get("status")), created_at=str(data.get("created_at") or ""),
                   comments=tuple(str(h.get("comment") or "") for h in histories if isinstance(h, dict)),
                   store_id=None if store is None or store == "" else int(store),
                   grand_total=Decimal(str(total)) if total not in (None, "") else None,
                   customer_email=_text(data.get("customer_email")),
                   items=tuple(MagentoOrderItemRef(
                       item_id=int(i["item_id"]), ext_order_item_id=_text(i.get("ext_order_item_id")),
                       parent_item_id=int(i["parent_item_id"]) if i.get("parent_item_id") else None)
                       for i in data.get("items") or [] if isinstance(i, dict) and i.get("item_id")))

    def summary(self) -> dict[str, Any]:
        """What a connector log row keeps of it (JSON-safe; the amount as text, exact)."""
        return {"entity_id": self.entity_id, "increment_id": self.increment_id, "ext_order_id": self.ext_order_id,
                "state": self.state, "status": self.status,
                "grand_total": None if self.grand_total is None else str(self.grand_total),
                "customer_email": self.customer_email}


class MagentoOrderPage(BaseModel):
    """One page of a GET /V1/orders search and the count of all that match."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use (cold start)

    items: list[MagentoOrderSummary] = Field(default_factory=list)
    total_count: int = 0

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MagentoOrderPage:
        return cls(items=[MagentoOrderSummary.from_api(o) for o in data.get("items") or [] if isinstance(o, dict)],
                   total_count=int(data.get("total_count") or 0))
