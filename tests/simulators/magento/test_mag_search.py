"""searchCriteria: OR within a group, AND across groups, condition types, sorting, paging, both spellings."""

from __future__ import annotations

import pytest
from mag_support import create_order, sc


@pytest.fixture
def three_orders(api):
    return [create_order(api, ext_order_id=e, customer_email=m, status=s, items=[("WATER2809", q, 20.0)])
            for e, m, s, q in (("SO1", "a@x.com", "pending", 1), ("SO2", "b@x.com", "processing", 2),
                               ("SO3", "c@y.com", "pending", 3))]


def _ext(resp):
    assert resp.status_code == 200, resp.text
    return sorted(o["ext_order_id"] for o in resp.json()["items"])


def test_filters_in_a_group_are_ored(api, three_orders):
    # Given three orders
    # When one group holds two ext_order_id filters
    resp = api.get("/orders", sc([("ext_order_id", "SO1", "eq"), ("ext_order_id", "SO3", "eq")]))
    # Then both match
    assert _ext(resp) == ["SO1", "SO3"]


def test_groups_are_anded(api, three_orders):
    # Given three orders
    # When status=pending AND email like %@x.com
    resp = api.get("/orders", sc([("status", "pending", "eq")], [("customer_email", "%@x.com", "like")]))
    # Then only SO1 satisfies both
    assert _ext(resp) == ["SO1"]
    assert resp.json()["total_count"] == 1


@pytest.mark.parametrize(("field", "value", "ctype", "expected"), [
    ("ext_order_id", "SO2", None, ["SO2"]),
    ("ext_order_id", "SO2", "neq", ["SO1", "SO3"]),
    ("customer_email", "%@y.com", "like", ["SO3"]),
    ("customer_email", "%@y.com", "nlike", ["SO1", "SO2"]),
    ("ext_order_id", "SO1,SO3", "in", ["SO1", "SO3"]),
    ("ext_order_id", "SO1,SO3", "nin", ["SO2"]),
    ("total_qty_ordered", "2", "gt", ["SO3"]),
    ("total_qty_ordered", "2", "gteq", ["SO2", "SO3"]),
    ("total_qty_ordered", "2", "moreq", ["SO2", "SO3"]),
    ("total_qty_ordered", "2", "lt", ["SO1"]),
    ("total_qty_ordered", "2", "lteq", ["SO1", "SO2"]),
    ("total_qty_ordered", "2", "from", ["SO2", "SO3"]),
    ("total_qty_ordered", "2", "to", ["SO1", "SO2"]),
    ("customer_note", "", "null", ["SO1", "SO2", "SO3"]),
    ("customer_note", "", "notnull", []),
    ("ext_order_id", "so2", "eq", ["SO2"]),  # MySQL collation: case-insensitive
])
def test_condition_types(api, three_orders, field, value, ctype, expected):
    # Given three orders
    # When filtering with one condition type
    resp = api.get("/orders", sc([(field, value, ctype)]))
    # Then exactly the expected orders match
    assert _ext(resp) == expected


def test_finset_and_nfinset(api):
    # Given an order whose custom column holds a comma set
    create_order(api, ext_order_id="F1", x_tags="a,b,c")
    create_order(api, ext_order_id="F2", x_tags="d")
    # When filtering with finset / nfinset
    # Then the set membership decides
    assert _ext(api.get("/orders", sc([("x_tags", "b", "finset")]))) == ["F1"]
    assert _ext(api.get("/orders", sc([("x_tags", "b", "nfinset")]))) == ["F2"]


def test_camel_case_spelling_and_echo(api, three_orders):
    # Given the schema's camelCase names
    params = sc([("ext_order_id", "SO2", "eq")], camel=True)
    # When searching
    resp = api.get("/orders", params)
    # Then it works and search_criteria is echoed in snake_case
    assert _ext(resp) == ["SO2"]
    assert resp.json()["search_criteria"]["filter_groups"] == [
        {"filters": [{"field": "ext_order_id", "value": "SO2", "condition_type": "eq"}]}]


def test_sort_and_paging(api, three_orders):
    # Given three orders
    # When sorting by ext_order_id DESC with page size 2
    p1 = api.get("/orders", sc(sort=[("ext_order_id", "DESC")], page_size=2, page=1)).json()
    p2 = api.get("/orders", sc(sort=[("ext_order_id", "DESC")], page_size=2, page=2)).json()
    p3 = api.get("/orders", sc(sort=[("ext_order_id", "DESC")], page_size=2, page=3)).json()
    # Then pages split the sorted list, total_count is the full count, an out-of-range page is empty
    assert [o["ext_order_id"] for o in p1["items"]] == ["SO3", "SO2"]
    assert [o["ext_order_id"] for o in p2["items"]] == ["SO1"]
    assert p1["total_count"] == p2["total_count"] == 3
    assert p3["items"] == []
    assert p1["search_criteria"]["page_size"] == 2 and p1["search_criteria"]["current_page"] == 1


def test_out_of_range_page_returns_last_page_option(sim, api, three_orders):
    # Given the old-store quirk switched on
    sim.configure(out_of_range_returns_last_page=True)
    # When asking for page 9 of size 2
    resp = api.get("/orders", sc(sort=[("ext_order_id", "ASC")], page_size=2, page=9)).json()
    # Then the last page comes back again
    assert [o["ext_order_id"] for o in resp["items"]] == ["SO3"]


def test_input_limits_page_size(sim, api, three_orders):
    # Given Web API input limits on
    sim.configure(input_limits=True)
    # When pageSize exceeds 300, and when it is missing
    too_big = api.get("/orders", sc(page_size=301))
    default = api.get("/orders", sc())
    # Then the first is refused and the second defaults to 20
    assert too_big.status_code == 400
    assert too_big.json()["message"] == "Maximum SearchCriteria pageSize is %max"
    assert default.status_code == 200 and default.json()["total_count"] == 3


def test_no_match_is_empty_200(api):
    # Given no customer with that email
    # When searching
    resp = api.get("/customers/search", sc([("email", "nobody@example.com", "eq")]))
    # Then 200 with no items, not 404
    assert resp.status_code == 200
    assert resp.json()["items"] == [] and resp.json()["total_count"] == 0


def test_searching_stored_records_answers_as_filtering_every_view() -> None:
    # Given stored orders whose REST view differs from the record (a derived extension attribute, a private field)
    from magento_sim.config import SimConfig
    from magento_sim.search import Filter, SearchCriteria, search_records, search_result

    def view(r: dict) -> dict:
        v = {k: x for k, x in r.items() if not k.startswith("_")}
        v["extension_attributes"] = {"carrier": r["_carrier"]}
        return v

    records = [{"entity_id": i, "increment_id": f"{i:09d}", "ext_order_id": f"SO{i % 7}", "grand_total": i * 1.5,
                "is_virtual": i % 3 == 0, "state": "new" if i % 2 else "Processing", "_carrier": f"c{i % 4}"}
               for i in range(1, 60)]
    criteria = [
        [[Filter("ext_order_id", "so3", "eq")]],
        [[Filter("grand_total", "15", "eq")]],
        [[Filter("grand_total", "15.0", "eq")], [Filter("state", "processing", None)]],
        [[Filter("increment_id", "12", "eq")]],
        [[Filter("is_virtual", "1", "eq")], [Filter("extension_attributes.carrier", "c2", "eq")]],
        [[Filter("ext_order_id", "SO1", "eq"), Filter("ext_order_id", "SO2", "eq")]],
        [[Filter("_carrier", "c1", "eq")]],
        [[Filter("entity_id", "10", "gt")], [Filter("state", "new", "eq")]],
    ]
    sorts = [[("grand_total", "DESC")], [("extension_attributes.carrier", "ASC"), ("entity_id", "DESC")]]
    for groups in criteria:
        for sort in sorts:
            for page in (None, 2):
                sc = SearchCriteria(groups=groups, sort_orders=sort, page_size=page and 3, current_page=page)
                # When searched through the stored records and through every view
                got = search_records(records, view, sc, SimConfig(), frozenset({"extension_attributes"}))
                want = search_result([view(r) for r in records], sc, SimConfig())
                # Then the answers are the same
                assert got == want, (groups, sort)


def test_a_page_filtered_and_sorted_on_stored_fields_views_only_its_records() -> None:
    # Given 10,000 stored orders (the chaos run's sweep pages through them a hundred at a time)
    from magento_sim.config import SimConfig
    from magento_sim.search import Filter, SearchCriteria, search_records

    viewed: list[int] = []

    def view(r: dict) -> dict:
        viewed.append(r["entity_id"])
        return dict(r)

    records = [{"entity_id": i, "ext_order_id": f"SO{i}", "created_at": "2026-12-07 10:00:00"} for i in range(10_000)]
    sc = SearchCriteria(groups=[[Filter("created_at", "2026-12-07 00:00:00", "gteq")],
                                [Filter("ext_order_id", "", "notnull")]],
                        sort_orders=[("entity_id", "ASC")], page_size=100, current_page=3)
    # When one page is asked for
    got = search_records(records, view, sc, SimConfig(), frozenset({"extension_attributes"}))
    # Then only that page's records are viewed (the answer is still the full search's)
    assert [o["entity_id"] for o in got["items"]] == list(range(200, 300)) and got["total_count"] == 10_000
    assert viewed == list(range(200, 300))
