"""Customers Magento -> Acumatica: the mapper (pure) and the exporter (one Acumatica customer per Magento customer).

The queued request is only a hint: the customer is read again from Magento, so a late or repeated message always
carries the latest data, and the Magento ``updated_at`` the binding keeps refuses anything older.

binder first (Magento id -> CustomerID) -> update the Magento-owned fields that differ | not bound: validate ->
look up the connector's own CustomerID (an earlier attempt may have created it and lost the answer) -> the e-mail
against Acumatica customers' main contact (a match is bound, not changed) -> create under the create lease with
the deterministic CustomerID (a keyed PUT: a repeat cannot make a second customer) -> bind at once.
docs/customers.md says which side owns which field: on update only Magento-owned fields are ever sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from amsync.adapters.errors import FatalError, NotFound
from amsync.models.log import DIRECTION_M2A, Action, Group, LogEntry, Result
from amsync.models.magento import MagentoAddress, MagentoCustomer
from amsync.models.messages import SyncRequest
from amsync.models.settings import CustomerClassMapping, CustomerSyncPreferences, OrderSyncPreferences
from amsync.services.exporting import AlreadyBound, Binding, LeaseHeld, NotReady
from amsync.services.log_rows import customer_entity_key, now, sync_row
from amsync.services.order_writer import OrderBinder

KIND = "customer"
ORIGIN_MAGENTO = "magento"  # binding x_origin: the connector created the Acumatica customer from Magento
ORIGIN_MATCHED = "matched"  # bound to an Acumatica customer found by e-mail (Acumatica's name stays)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
DERIVED = ("ShippingAddressOverride",)  # sent with ShippingContactOverride, never compared on its own


class CustomerDataError(Exception):
    """The Magento customer cannot become an Acumatica customer as it is: names the field to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# ---------------------------------------------------------------------------------------------- the mapper (pure)
def customer_id_for(magento_id: int, prefs: CustomerSyncPreferences) -> str:
    """The CustomerID rule: prefix + the Magento id zero-padded (MAG + 7 digits: 102 -> MAG0000102)."""
    return f"{prefs.customer_id_prefix}{magento_id:0{prefs.customer_id_digits}d}"


def customer_class_for(customer: MagentoCustomer, mappings: list[CustomerClassMapping], default: str) -> str:
    """The most specific mapping wins: group + website, then group, then website, then the default class."""
    best: tuple[int, str] | None = None
    for m in mappings:
        if m.magento_group_id not in (None, customer.group_id):
            continue
        if m.magento_website_id not in (None, customer.website_id):
            continue
        score = (2 if m.magento_group_id is not None else 0) + (1 if m.magento_website_id is not None else 0)
        if best is None or score > best[0]:
            best = (score, m.customer_class)
    return best[1] if best else default


def validate(customer: MagentoCustomer) -> None:
    """What Acumatica would refuse or the matching cannot work with, named by Magento field."""
    if not customer.lastname:
        raise CustomerDataError("lastname", "the customer has no last name (Acumatica's contact needs one)")
    if not customer.email or not _EMAIL.match(customer.email):
        raise CustomerDataError("email", f"{customer.email or '(empty)'!r} is not a valid e-mail address")


def _w(value: Any) -> dict[str, Any]:
    """An Acumatica field value; a missing text is sent as "" (the contract has no null strings: "" clears)."""
    return {"value": "" if value is None else value}


def _address(a: MagentoAddress) -> dict[str, Any]:
    return {"AddressLine1": _w(a.street[0] if a.street else None), "AddressLine2": _w(", ".join(a.street[1:]) or None),
            "City": _w(a.city), "State": _w(a.region_code), "PostalCode": _w(a.postcode),
            "Country": _w(a.country_id.upper() if a.country_id else None)}


def _contact(customer: MagentoCustomer, address: MagentoAddress | None, *, email: bool) -> dict[str, Any]:
    contact: dict[str, Any] = {"FirstName": _w(customer.firstname), "LastName": _w(customer.lastname)}
    if email:
        contact["Email"] = _w(customer.email)
    phone = address.telephone if address is not None and address.telephone else customer.phone
    if phone:
        contact["Phone1"] = _w(phone)
    if address is not None:
        if address.company:
            contact["CompanyName"] = _w(address.company)
        contact["Address"] = _address(address)
    return contact


def map_customer(customer: MagentoCustomer, customer_id: str, *, customer_class: str | None,
                 owns_name: bool) -> dict[str, Any]:
    """The Acumatica Customer PUT body (``{"value": ...}`` fields) with every field Magento owns.

    ``customer_class`` is sent on create only (Acumatica owns the class once set); ``owns_name``: the customer
    came from Magento, so its CustomerName follows the Magento name (a customer matched by e-mail keeps its own).
    Addresses are sent only when Magento has a default billing / shipping address: none never clears Acumatica's.
    """
    validate(customer)
    body: dict[str, Any] = {"CustomerID": _w(customer_id)}
    if owns_name:
        body["CustomerName"] = _w(customer.full_name)
    if customer_class is not None:
        body["CustomerClass"] = _w(customer_class)
    billing, shipping = customer.billing_address, customer.shipping_address
    body["MainContact"] = _contact(customer, billing, email=True)
    if shipping is not None:
        separate = billing is None or not shipping.same_place(billing)
        body["ShippingContactOverride"] = _w(separate)
        body["ShippingAddressOverride"] = _w(separate)
        if separate:
            body["ShippingContact"] = _contact(customer, shipping, email=False)
    return body


def _plain(value: Any) -> Any:
    v = value.get("value") if isinstance(value, dict) else value
    if isinstance(v, str):
        v = v.strip() or None
    return v


def flatten(body: dict[str, Any], path: str = "") -> dict[str, Any]:
    """``{"MainContact": {"Address": {"City": {"value": "X"}}}}`` -> ``{"MainContact/Address/City": "X"}``."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if isinstance(value, dict) and "value" not in value:
            out.update(flatten(value, f"{path}{key}/"))
        elif not isinstance(value, list):
            out[f"{path}{key}"] = _plain(value)
    return out


def _differs(path: str, a: Any, b: Any) -> bool:
    if path.endswith("Override"):
        return bool(a) != bool(b)
    if isinstance(a, str) and isinstance(b, str) and path.rsplit("/", 1)[-1] in ("Email", "Country", "State"):
        return a.casefold() != b.casefold()
    return bool(a != b)


def changed_fields(wanted: dict[str, Any], current: dict[str, Any],
                   last_synced: dict[str, Any] | None = None) -> list[str]:
    """Paths of the mapped body ``wanted`` to send: they differ from the Acumatica record ``current`` and, when
    the binding remembers what was synced last, they changed in Magento since (an Acumatica edit of a field that
    did not change in Magento stays)."""
    have = flatten(current)
    out = []
    for path, value in flatten(wanted).items():
        if path in ("CustomerID", *DERIVED) or not _differs(path, value, have.get(path)):
            continue
        if last_synced is not None and path in last_synced and not _differs(path, value, last_synced[path]):
            continue
        out.append(path)
    return out


def update_body(wanted: dict[str, Any], changed: list[str]) -> dict[str, Any]:
    """Only what changed, keyed by CustomerID; an address is sent whole when any of its fields changed."""
    body: dict[str, Any] = {"CustomerID": wanted["CustomerID"]}
    for path in changed:
        parts = path.split("/")
        src: Any = wanted
        dst = body
        for i, part in enumerate(parts):
            if part == "Address":
                dst["Address"] = src["Address"]
                break
            if i == len(parts) - 1:
                dst[part] = src[part]
            else:
                src = src[part]
                dst = dst.setdefault(part, {})
    if any(p.startswith("Shipping") for p in changed) and "ShippingAddressOverride" in wanted:
        body["ShippingAddressOverride"] = wanted["ShippingAddressOverride"]
        body["ShippingContactOverride"] = wanted["ShippingContactOverride"]
    return body


# ---------------------------------------------------------------------------------------------- the exporter
class MagentoCustomers(Protocol):
    def customer(self, customer_id: int) -> dict[str, Any]: ...
    def customers_by_email(self, email: str) -> list[dict[str, Any]]: ...


class AcumaticaCustomers(Protocol):
    def customer_by_id(self, customer_id: str) -> dict[str, Any] | None: ...
    def customers_by_email(self, email: str) -> list[dict[str, Any]]: ...
    def save_customer(self, body: dict[str, Any], update_only: bool = False) -> dict[str, Any]: ...


class CustomerSettings(Protocol):
    def customer_sync(self, fresh: bool = False) -> CustomerSyncPreferences: ...
    def order_sync(self, fresh: bool = False) -> OrderSyncPreferences: ...
    def mappings(self, kind: str, fresh: bool = False) -> list[Any]: ...


class CustomerBinder(OrderBinder, Protocol):
    """The writer's binder, plus the reverse look-up (Magento customer id -> Acumatica CustomerID)."""

    def by_magento_id(self, kind: str, entity_id: int) -> Binding | None: ...


@dataclass
class CustomerSyncPorts:
    magento: MagentoCustomers
    acumatica: AcumaticaCustomers
    settings: CustomerSettings
    binder: CustomerBinder
    log: Callable[[list[LogEntry]], None]
    create_lease_s: float = 60.0


@dataclass
class _Job:
    req: SyncRequest
    customer: MagentoCustomer
    prefs: CustomerSyncPreferences
    ports: CustomerSyncPorts
    started: Any
    # Magento's customer/account_share/scope (order sync preference account_share_scope): per website, one e-mail
    # may be an account on each website, each its own Acumatica customer
    per_website: bool = True

    def row(self, action: Action, result: Result, message: str, entity_id: str | None,
            details: dict[str, Any] | None = None) -> LogEntry:
        return sync_row(Group.CUSTOMER, action, result, notes=self.customer.email or f"#{self.customer.id}",
                        started=self.started, entity_id=entity_id, message=message, details=details,
                        entity_key=customer_entity_key(self.customer.id), correlation_id=self.req.correlation_id,
                        direction=DIRECTION_M2A)



def sync_customer(req: SyncRequest, ports: CustomerSyncPorts) -> str:
    """Handle one customer sync request; returns what happened (for metrics and tests)."""
    started = now()
    magento_id = int(req.key)
    try:
        customer = MagentoCustomer.from_api(ports.magento.customer(magento_id))
    except NotFound:
        ports.log([sync_row(Group.CUSTOMER, Action.UPDATE, Result.SKIPPED, notes=f"#{magento_id}", started=started,
                            message=f"Magento customer {magento_id} no longer exists", direction=DIRECTION_M2A,
                            entity_key=customer_entity_key(magento_id), correlation_id=req.correlation_id)])
        return "gone"
    job = _Job(req, customer, ports.settings.customer_sync(fresh=True), ports, started,
               ports.settings.order_sync().account_share_scope == "website")
    if job.prefs.website_ids and customer.website_id not in job.prefs.website_ids:
        return "ignored"
    binding = ports.binder.by_magento_id(KIND, magento_id)
    if binding is not None and binding.state == "bound":
        return _update(job, binding)
    try:
        validate(customer)
        _check_email_unique_in_magento(job)
    except CustomerDataError as exc:
        return _failed(job, Action.CREATE, None, f"{exc}; fix it in Magento: the customer syncs when it changes again")
    return _match_or_create(job)


def _failed(job: _Job, action: Action, customer_id: str | None, message: str,
            details: dict[str, Any] | None = None) -> str:
    job.ports.log([job.row(action, Result.FAILURE, message, customer_id, details)])
    return "failed"


def _check_email_unique_in_magento(job: _Job) -> None:
    """Two Magento accounts with one e-mail in one sharing scope cannot be told apart by Acumatica's e-mail match.
    Per-website scope: accounts on other websites are other customers, not a conflict (Magento allows them)."""
    c = job.customer
    others = [o for o in job.ports.magento.customers_by_email(c.email or "")
              if int(o["id"]) != c.id and str(o.get("email", "")).casefold() == (c.email or "").casefold()
              and not (job.per_website and int(o.get("website_id") or 0) != c.website_id)]
    if others:
        who = ", ".join(f"{o['id']} (website {o.get('website_id')})" for o in others)
        raise CustomerDataError("email", f"{c.email} is shared by Magento customers {c.id} (website {c.website_id}) "
                                         f"and {who}; Acumatica matches customers by e-mail, so neither is "
                                         f"synced until one address changes (or one is bound by hand)")


def _match_or_create(job: _Job) -> str:
    ports, c = job.ports, job.customer
    own_id = customer_id_for(c.id, job.prefs)
    existing = ports.acumatica.customer_by_id(own_id)
    if existing is not None:  # an earlier attempt created it and lost the answer, or someone used our ID
        if _email_of(existing) != (c.email or "").casefold():
            return _failed(job, Action.CREATE, own_id, f"CustomerID: {own_id} exists in Acumatica with another "
                           f"e-mail ({_email_of(existing) or 'none'}); change the customer ID prefix or the record")
        return _bind_and_update(job, own_id, existing, ORIGIN_MAGENTO, "found by its CustomerID (an earlier "
                                "attempt created it): bound")
    email = (c.email or "").casefold()
    matches = [m for m in ports.acumatica.customers_by_email(c.email or "") if _email_of(m) == email]
    if job.per_website and matches:
        # per-website accounts: an Acumatica customer already bound to this e-mail's account on another website is
        # that account's, not this one's
        matches = [m for m in matches if not _made_for_another(job, str(_v(m, "CustomerID")))
                   and not _bound_elsewhere(job, str(_v(m, "CustomerID")))]
        if not matches:
            return _create(job, own_id)
    if len(matches) > 1:
        ids = ", ".join(sorted(str(_v(m, "CustomerID")) for m in matches))
        return _failed(job, Action.UPDATE, None, f"email: {c.email} is the main contact e-mail of Acumatica "
                       f"customers {ids}; keep it on one of them, then change the Magento customer or resync")
    if matches:
        acu_id = str(_v(matches[0], "CustomerID"))
        return _bind_matched(job, acu_id)
    if job.prefs.missing_customer == "match_only":
        job.ports.log([job.row(Action.CREATE, Result.SKIPPED, "no Acumatica customer has this e-mail and the "
                               "customer sync only matches (missing_customer = match_only)", None)])
        return "skipped"
    return _create(job, own_id)


def _bind_matched(job: _Job, acu_id: str) -> str:
    try:
        seen = flatten(map_customer(job.customer, acu_id, customer_class=None, owns_name=False))
        bound = job.ports.binder.bind(KIND, acu_id, job.customer.id, None,
                                      extra=_version(job, ORIGIN_MATCHED, seen))
    except AlreadyBound as exc:
        other = exc.existing.magento_entity_id if exc.existing else "?"
        if job.per_website and _on_other_website(job, other):
            # the account of another website has this Acumatica customer: this website's account is its own
            return _create(job, customer_id_for(job.customer.id, job.prefs))
        return _failed(job, Action.UPDATE, acu_id, f"email: Acumatica customer {acu_id} has this e-mail but is bound "
                       f"to Magento customer {other} already (an e-mail shared by two Magento customers)")
    job.ports.log([job.row(Action.UPDATE, Result.SUCCESS, f"matched by e-mail: bound to {acu_id}, not duplicated "
                           "(Acumatica's data kept; later Magento changes update it)", bound.acumatica_key)])
    return "matched"


def _made_for_another(job: _Job, acu_id: str) -> bool:
    """A CustomerID the connector gives another Magento customer (prefix + that id): that account's, even before
    its binding is written (two accounts of one e-mail may sync at the same time)."""
    prefix, digits = job.prefs.customer_id_prefix, job.prefs.customer_id_digits
    own = re.fullmatch(re.escape(prefix) + r"(\d{" + str(digits) + ",})", acu_id.strip().upper())
    return own is not None and int(own.group(1)) != job.customer.id


def _bound_elsewhere(job: _Job, acu_id: str) -> bool:
    binding = job.ports.binder.get(KIND, acu_id)
    return binding is not None and binding.state == "bound" and _on_other_website(job, binding.magento_entity_id)


def _on_other_website(job: _Job, magento_id: Any) -> bool:
    if not isinstance(magento_id, int):
        return False
    try:
        other = MagentoCustomer.from_api(job.ports.magento.customer(magento_id))
    except NotFound:
        return False
    return other.website_id != job.customer.website_id


def _create(job: _Job, own_id: str) -> str:
    ports, c = job.ports, job.customer
    try:
        ports.binder.mark_creating(KIND, own_id, ports.create_lease_s)
    except AlreadyBound as exc:  # another attempt bound it meanwhile
        assert exc.existing is not None
        return _update(job, exc.existing)
    except LeaseHeld as exc:
        raise NotReady(str(exc), retry_after=exc.retry_after) from exc
    mappings = [m for m in ports.settings.mappings("customerclass") if isinstance(m, CustomerClassMapping)]
    cls = customer_class_for(c, mappings, job.prefs.default_customer_class)
    body = map_customer(c, own_id, customer_class=cls, owns_name=True)
    try:
        ports.acumatica.save_customer(body)
    except FatalError as exc:
        ports.binder.release_creating(KIND, own_id)
        return _failed(job, Action.CREATE, own_id, f"Acumatica refused the customer: {exc.remote_message}",
                       {"request": body, "response": exc.body})
    except Exception:
        ports.binder.release_creating(KIND, own_id)  # outcome unknown: the retry looks the CustomerID up first
        raise
    bound = ports.binder.bind(KIND, own_id, c.id, None, extra=_version(job, ORIGIN_MAGENTO, flatten(body)))
    ports.log([job.row(Action.CREATE, Result.SUCCESS, f"created with class {cls}", bound.acumatica_key,
                       {"request": body})])
    return "created"


def _bind_and_update(job: _Job, acu_id: str, record: dict[str, Any], origin: str, how: str) -> str:
    try:
        binding = job.ports.binder.bind(KIND, acu_id, job.customer.id, None, extra={"origin": origin})
    except AlreadyBound as exc:
        other = exc.existing.magento_entity_id if exc.existing else "?"
        return _failed(job, Action.UPDATE, acu_id, f"CustomerID: {acu_id} is bound to Magento customer {other}")
    return _update(job, binding, record, how, compare_all=True)


def _update(job: _Job, binding: Binding, record: dict[str, Any] | None = None, how: str = "",
            compare_all: bool = False) -> str:
    """Send the Magento-owned fields that changed in Magento since the last sync and differ in Acumatica.

    A binding the order sync made (A->M found or created the Magento customer from Acumatica's data) has no
    last-synced values yet: the first visit records them and writes nothing, like a match by e-mail.
    """
    ports, c = job.ports, job.customer
    acu_id = binding.acumatica_key
    synced = str(binding.extra.get("x_magento_updated_at") or "")
    if synced and c.updated_at and c.updated_at < synced:
        return "stale"  # an older view than the one already synced: never overwrite newer data
    try:
        validate(c)
    except CustomerDataError as exc:
        return _failed(job, Action.UPDATE, acu_id, f"{exc}; fix it in Magento: the customer syncs when it changes "
                       "again")
    record = record if record is not None else ports.acumatica.customer_by_id(acu_id)
    if record is None:
        return _failed(job, Action.UPDATE, acu_id, f"bound Acumatica customer {acu_id} no longer exists")
    wanted = map_customer(c, acu_id, customer_class=None, owns_name=binding.extra.get("x_origin") == ORIGIN_MAGENTO)
    last = binding.extra.get("x_magento_fields")
    if not isinstance(last, dict) and not compare_all:
        ports.binder.touch(KIND, acu_id, magento_updated_at=c.updated_at, magento_fields=flatten(wanted))
        ports.log([job.row(Action.UPDATE, Result.SUCCESS, f"bound to {acu_id} by the order sync: Magento's values "
                           "recorded, Acumatica's data kept (later Magento changes update it)", acu_id)])
        return "baseline"
    changed = changed_fields(wanted, record, last if isinstance(last, dict) else None)
    if not changed:
        if synced != c.updated_at:
            ports.binder.touch(KIND, acu_id, magento_updated_at=c.updated_at, magento_fields=flatten(wanted))
            ports.log([job.row(Action.UPDATE, Result.SKIPPED if not how else Result.SUCCESS,
                               how or "nothing Acumatica keeps changed", acu_id)])
        return "unchanged"
    body = update_body(wanted, changed)
    try:
        ports.acumatica.save_customer(body, update_only=True)
    except FatalError as exc:
        return _failed(job, Action.UPDATE, acu_id, f"Acumatica refused the update: {exc.remote_message}",
                       {"request": body, "response": exc.body})
    ports.binder.touch(KIND, acu_id, magento_updated_at=c.updated_at, magento_fields=flatten(wanted))
    message = f"{how + '; ' if how else ''}updated {', '.join(changed)}"
    ports.log([job.row(Action.UPDATE, Result.SUCCESS, message, acu_id, {"request": body})])
    return "updated"


def _version(job: _Job, origin: str, synced: dict[str, Any]) -> dict[str, Any]:
    """What the binding keeps: who created the Acumatica side, the Magento version and values last synced."""
    return {"origin": origin, "magento_updated_at": job.customer.updated_at, "magento_fields": synced}


def _v(record: dict[str, Any], field: str) -> Any:
    v = record.get(field)
    return v.get("value") if isinstance(v, dict) else v


def _email_of(record: dict[str, Any]) -> str:
    main = record.get("MainContact")
    email = _v(main, "Email") if isinstance(main, dict) else None
    return str(email or _v(record, "Email") or "").strip().casefold()
