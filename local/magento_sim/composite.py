"""Product seeding (simple, virtual, configurable, bundle) and the configurable/bundle read routes.

``Magento\\ConfigurableProduct`` (LinkManagement::getChildren, OptionRepository::getList) and ``Magento\\Bundle``
(OptionRepository::getList). A configurable keeps ``extension_attributes.configurable_product_options`` and
``configurable_product_links`` (child ids); a bundle keeps ``extension_attributes.bundle_product_options``.
Callers hold ``state.lock``.
"""

from __future__ import annotations

import copy
from typing import Any

from magento_sim import errors as E
from magento_sim.errors import MagentoError
from magento_sim.state import State, now

MSG_NOT_CONFIGURABLE = 'This is implemented for the "%1" configurable product only.'
MSG_NOT_BUNDLE = "This is implemented for bundle products only."
PRODUCT_TYPES = ("simple", "virtual", "configurable", "bundle")
#: Attribute ids of the default attribute set's usual configurable attributes (color/size as a sample store has).
ATTRIBUTE_IDS = {"color": 93, "size": 144}


def _product_or_404(state: State, sku: str) -> dict[str, Any]:
    product = state.products.get(sku)
    if product is None:
        raise MagentoError(404, E.MSG_NO_PRODUCT)
    return product


# -- REST reads ------------------------------------------------------------------------------------------------
def configurable_children(state: State, sku: str) -> list[dict[str, Any]]:
    """GET /V1/configurable-products/{sku}/children: [] for a product that is not configurable. The children are
    data objects populated from their attributes only (no extension attributes, options or media)."""
    product = _product_or_404(state, sku)
    if product["type_id"] != "configurable":
        return []
    ids = (product.get("extension_attributes") or {}).get("configurable_product_links") or []
    by_id = {p["id"]: p for p in state.products.values()}
    out = []
    for pid in ids:
        child = by_id.get(pid)
        if child is not None:
            out.append({k: copy.deepcopy(v) for k, v in child.items()
                        if k not in ("extension_attributes", "options", "media_gallery_entries")})
    return out


def configurable_options(state: State, sku: str) -> list[dict[str, Any]]:
    """GET /V1/configurable-products/{sku}/options/all."""
    product = _product_or_404(state, sku)
    if product["type_id"] != "configurable":
        raise MagentoError(400, MSG_NOT_CONFIGURABLE, [sku])
    return copy.deepcopy((product.get("extension_attributes") or {}).get("configurable_product_options") or [])


def bundle_options(state: State, sku: str) -> list[dict[str, Any]]:
    """GET /V1/bundle-products/{sku}/options/all."""
    product = _product_or_404(state, sku)
    if product["type_id"] != "bundle":
        raise MagentoError(400, MSG_NOT_BUNDLE)
    return copy.deepcopy((product.get("extension_attributes") or {}).get("bundle_product_options") or [])


# -- control API: POST /_sim/products ----------------------------------------------------------------------------
def _custom_attributes(data: dict[str, Any], extra: dict[str, Any]) -> list[dict[str, Any]]:
    attrs: dict[str, Any] = {"url_key": str(data["sku"]).lower(), "tax_class_id": str(data.get("tax_class_id", "2"))}
    sent = data.get("custom_attributes") or {}
    if isinstance(sent, list):
        sent = {a["attribute_code"]: a.get("value") for a in sent if isinstance(a, dict)}
    attrs.update(extra)
    attrs.update(sent)
    return [{"attribute_code": k, "value": v} for k, v in attrs.items()]


def _configurable(state: State, product: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    links = []
    for child_sku in spec.get("children") or []:
        child = state.products.get(str(child_sku))
        if child is None:
            raise ValueError(f"configurable {product['sku']}: unknown child {child_sku} (seed it first)")
        if child["type_id"] not in ("simple", "virtual"):
            raise ValueError(f"configurable {product['sku']}: child {child_sku} is {child['type_id']}")
        links.append(child["id"])
    options = []
    for pos, opt in enumerate(spec.get("options") or []):
        code = str(opt.get("attribute_code") or "")
        attr_id = opt.get("attribute_id") or ATTRIBUTE_IDS.get(code)
        if not attr_id:
            raise ValueError(f"configurable {product['sku']}: option needs attribute_id or a known attribute_code")
        values = [{"value_index": int(v["value_index"] if isinstance(v, dict) else v)} for v in opt.get("values") or []]
        options.append({"id": state.next("configurable_option"), "attribute_id": str(attr_id),
                        "label": opt.get("label") or code.title(), "position": int(opt.get("position", pos)),
                        "values": values, "product_id": product["id"]})
    return {"configurable_product_options": options, "configurable_product_links": links}


def _bundle(state: State, product: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    options = []
    for pos, opt in enumerate(spec.get("options") or []):
        option_id = state.next("bundle_option")
        links = []
        for lpos, link in enumerate(opt.get("product_links") or opt.get("links") or []):
            child = state.products.get(str(link.get("sku")))
            if child is None:
                raise ValueError(f"bundle {product['sku']}: unknown selection {link.get('sku')} (seed it first)")
            links.append({"id": str(state.next("bundle_selection")), "sku": child["sku"], "option_id": option_id,
                          "qty": float(link.get("qty", 1)), "position": int(link.get("position", lpos)),
                          "is_default": bool(link.get("is_default", lpos == 0)),
                          "price": float(link.get("price", 0)), "price_type": int(link.get("price_type", 0)),
                          "can_change_quantity": int(link.get("can_change_quantity", 0))})
        options.append({"option_id": option_id, "title": opt.get("title") or f"Option {pos + 1}",
                        "required": bool(opt.get("required", True)), "type": opt.get("type") or "select",
                        "position": int(opt.get("position", pos + 1)), "sku": product["sku"], "product_links": links})
    return {"bundle_product_options": options}


def seed_product(state: State, data: dict[str, Any]) -> dict[str, Any]:
    """Create or replace one product (by SKU) with its source items. See README (Control API) for the shape."""
    sku = str(data.get("sku") or "").strip()
    if not sku:
        raise ValueError("a product needs a sku")
    type_id = str(data.get("type_id") or ("configurable" if data.get("configurable") else
                                          "bundle" if data.get("bundle") else "simple"))
    if type_id not in PRODUCT_TYPES:
        raise ValueError(f"{sku}: type_id must be one of {PRODUCT_TYPES}")
    old = state.products.get(sku)
    ts = now()
    extra: dict[str, Any] = {}
    bundle_spec = data.get("bundle") or {}
    if type_id == "bundle":  # dynamic (0) or fixed (1) price, SKU and weight; shipment together (0)
        dynamic = str(bundle_spec.get("price_type", "dynamic")) in ("dynamic", "0")
        extra = {"price_type": "0" if dynamic else "1", "sku_type": "0" if dynamic else "1",
                 "weight_type": "0" if dynamic else "1", "price_view": "0", "shipment_type": "0"}
    product: dict[str, Any] = {
        "id": old["id"] if old else int(data.get("id") or state.next("product")), "sku": sku,
        "name": data.get("name") or sku, "attribute_set_id": int(data.get("attribute_set_id", 4)),
        "price": float(data.get("price", 0)), "status": int(data.get("status", 1)),
        "visibility": int(data.get("visibility", 4)), "type_id": type_id,
        "created_at": old["created_at"] if old else (data.get("created_at") or ts),
        "updated_at": ts, "extension_attributes": {"website_ids": [int(w) for w in data.get("website_ids", [1])]},
        "product_links": [], "options": [], "media_gallery_entries": [], "tier_prices": [],
        "custom_attributes": _custom_attributes(data, extra)}
    if type_id in ("simple", "bundle") and data.get("weight") is not None:
        product["weight"] = float(data["weight"])
    elif type_id == "simple":
        product["weight"] = 1.0
    if type_id == "configurable":
        product["extension_attributes"].update(_configurable(state, product, data.get("configurable") or {}))
    if type_id == "bundle":
        product["extension_attributes"].update(_bundle(state, product, bundle_spec))
    state.products[sku] = product
    for source, qty in (data.get("sources") or {}).items():
        if source not in state.sources:
            raise ValueError(f"{sku}: unknown source {source}")
        state.source_items[(sku, source)] = {"sku": sku, "source_code": source, "quantity": float(qty),
                                             "status": 1 if float(qty) > 0 else 0}
    return copy.deepcopy(product)


def seed_products(state: State, data: dict[str, Any]) -> list[dict[str, Any]]:
    """``POST /_sim/products`` ``{"products": [...]}``: in order, so children come before their parents."""
    products = data.get("products")
    if not isinstance(products, list):
        raise ValueError('body: {"products": [...]}')
    return [seed_product(state, p) for p in products if isinstance(p, dict)]
