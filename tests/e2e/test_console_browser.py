"""`amsync console` in a real browser: Debian's Chromium driven by Playwright, against the whole local world, with
the console started as an operator starts it (`amsync --local console --port 0`, in a folder whose
.local/endpoints.json points at this module's world).

Grid -> filter to the walkthrough's order -> View details -> the order's timeline; a Ship Via mapping changed in the
console and used by the next order; a DLQ message replayed from the console and synced; a POST without the CSRF
token refused with 403. Screenshots of the grid and the timeline go to a temporary folder, or to docs/ with
AMSYNC_CONSOLE_SCREENSHOTS=docs (docs/console-grid.png, docs/console-timeline.png).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import E2E

from amsync.data import queues
from amsync.data.settings_store import CACHE_S
from amsync.models.log import Side

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency: "
                                     "pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
# Chromium's own background services try to reach Google: refused on a closed network, so switched off.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
GRID_COLUMNS = ["Log Id", "Start Time", "Complete Time", "Group", "Action", "Sync Direction", "Result", "Entity Id",
                "Notes", "View"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("AMSYNC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def console_url(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console, started by `amsync --local console --port 0` with the local world's root key, as the CLI runs."""
    folder = tmp_path_factory.mktemp("console")
    e2e.world.write_endpoints(folder / ".local" / "endpoints.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "amsync_cli.main", "--local", "console", "--port", "0"], cwd=folder,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    url = None
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            seen.append(lines.get(timeout=0.5))
        except queue.Empty:
            continue
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", seen[-1])
        url = m.group(1) if m else None
    try:
        assert url, f"the console did not print its URL: {''.join(seen)[-2000:]}"
        yield url.rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = _chromium()
    if path is None:
        pytest.fail("no Chromium found (/usr/bin/chromium, or AMSYNC_CHROMIUM): install Debian's package with "
                    "`apt-get install -y chromium` (`make test` does); Playwright's own browser download is not used")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    yield pg
    context.close()
    # Then the browser saw no script error and no Content-Security-Policy violation (htmx runs under the CSP)
    assert not [p for p in problems if "403" not in p and "422" not in p], problems


def _screenshot_dir(tmp_path: Path) -> Path:
    return ROOT / "docs" if os.environ.get("AMSYNC_CONSOLE_SCREENSHOTS") == "docs" else tmp_path


def _texts(locator: Any) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def test_grid_filtered_to_the_walkthrough_order_its_view_details_and_its_timeline(
        e2e: E2E, console_url: str, page: Any, tmp_path: Path) -> None:
    expect = playwright_api.expect
    # Given the walkthrough's order: placed (skipped as unpaid), paid, synced
    nbr = e2e.acu.create_order()
    e2e.settle()
    e2e.acu.record_payment(nbr)
    e2e.settle()
    [order] = e2e.mag.orders_for(nbr)
    mine = sorted((r.log_id for r in e2e.rows(nbr) if r.side is Side.MAGENTO), reverse=True)
    # When the console opens: the connector log grid with the walkthrough's columns
    page.goto(console_url + "/")
    assert page.url.endswith("/logs")
    assert _texts(page.locator("#log-grid thead th")) == GRID_COLUMNS
    # and it is filtered to the order
    page.fill("#filters input[name=entity]", nbr)
    page.click("#apply")
    expect(page.locator("#log-grid tbody tr")).to_have_count(len(mine))
    # Then the grid lists the order's rows, newest first, and the address bar keeps the filter
    assert _texts(page.locator("#log-grid tbody td:first-child")) == mine
    assert set(_texts(page.locator("#log-grid tbody td:nth-child(9)"))) == {nbr}
    assert f"entity={nbr}" in page.url
    assert {"Skipped", "Success"} <= set(_texts(page.locator("#log-grid tbody td.result")))
    shots = _screenshot_dir(tmp_path)
    page.screenshot(path=str(shots / "console-grid.png"))
    # When narrowed to the Create that succeeded
    page.select_option("#filters select[name=group]", "Order")
    page.select_option("#filters select[name=action]", "Create")
    page.select_option("#filters select[name=result]", "Success")
    page.click("#apply")
    expect(page.locator("#log-grid tbody tr")).to_have_count(1)
    # Then one row: Magento's entity id, the order number
    cells = _texts(page.locator("#log-grid tbody tr td"))
    assert cells[3:9] == ["Order", "Create", "Acumatica to Magento", "Success", str(order["entity_id"]), nbr]
    # When its View details are opened
    page.click("#log-grid a.view")
    details = page.locator("#details pre[data-part=request]")
    expect(details).to_contain_text(f'"ext_order_id": "{nbr}"')
    # Then the request shows, with the customer's e-mail masked
    shown = page.inner_text("#details")
    assert order["customer_email"] not in shown and "a***@altaace.com" in shown
    # When the order's timeline is opened from the grid
    page.click("#timeline-link")
    expect(page.locator("#steps")).to_be_visible(timeout=60_000)
    # Then it tells the order's story in both systems
    steps = _texts(page.locator("#steps tbody td:nth-child(3)"))
    assert "skipped" in steps and "created in Magento" in steps
    assert page.inner_text("#stuck-at") == "in step"
    assert str(order["increment_id"]) in page.inner_text("#now-magento")
    page.screenshot(path=str(shots / "console-timeline.png"), full_page=True)
    for name in ("console-grid.png", "console-timeline.png"):
        assert (shots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (shots / name).stat().st_size > 20_000


def test_a_ship_via_mapping_changed_in_the_console_is_used_by_the_next_order(
        e2e: E2E, console_url: str, page: Any) -> None:
    expect = playwright_api.expect
    page.goto(console_url + "/mappings")
    form = page.locator("#form-shipvia")
    # When LOCAL gets a mapping of its own for the default store view, first without a title
    for name, value in (("ship_via", "LOCAL"), ("store_view", "default"), ("carrier_code", "flatrate"),
                        ("method_code", "flatrate"), ("title", "")):
        form.locator(f"input[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    # Then the form comes back with the error, what was typed, and nothing saved
    expect(page.locator("#form-shipvia em.error[data-field=title]")).to_contain_text("Field required")
    assert page.locator("#form-shipvia input[name=carrier_code]").input_value() == "flatrate"
    assert e2e.store.ship_via("LOCAL", "default", fresh=True).store_view == "all"  # the All Store Views row
    # When the title is given
    page.locator("#form-shipvia input[name=title]").fill("Flat Rate - Fixed")
    page.locator("#form-shipvia button[type=submit]").click()
    # Then it is saved and listed beside the All Store Views row
    expect(page.locator("#saved")).to_contain_text("shipvia:LOCAL#default")
    expect(page.locator('#table-shipvia tr[data-key="LOCAL#default"]')).to_be_visible()
    try:
        # and the next LOCAL order syncs with the new method (once the functions' settings cache has turned)
        time.sleep(CACHE_S + 0.5)
        _, synced = e2e.paid_order()
        assert synced["shipping_description"] == "Flat Rate - Fixed"
    finally:
        # When the row is removed, the console asks first
        page.locator('#table-shipvia tr[data-key="LOCAL#default"] button').click()
        expect(page.locator("#confirm-what")).to_contain_text("LOCAL#default")
        page.click("#confirm")
        expect(page.locator("#removed")).to_contain_text("shipvia:LOCAL#default")
    assert e2e.store.ship_via("LOCAL", "default", fresh=True).store_view == "all"


def test_a_message_in_a_dlq_is_replayed_from_the_console_and_syncs(e2e: E2E, console_url: str, page: Any) -> None:
    expect = playwright_api.expect
    # Given Magento fails every create until the write lands in MagentoOrderDLQ
    dlq = e2e.runtime.stack.physical_ids["MagentoOrderDLQ"]
    e2e.world.magento.faults.add({"path": r"/orders/create$", "method": "PUT", "error_rate": 1.0,
                                  "error_status": 500})
    try:
        nbr = e2e.acu.create_order()
        e2e.acu.record_payment(nbr)
        deadline = time.monotonic() + 120
        while queues.depth(dlq)["visible"] == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        e2e.world.magento.faults.clear()  # the cause is fixed
    assert queues.depth(dlq)["visible"] == 1 and e2e.mag.orders_for(nbr) == []
    # When the DLQ page lists it with its last error, and its replay is asked for and confirmed
    page.goto(console_url + "/dlq")
    row = page.locator(f'#dlq-MagentoOrderDLQ tr[data-entity="{nbr}"]')
    expect(row).to_contain_text("Internal Error")
    row.locator("button.replay").click()
    expect(page.locator("#confirm-what")).to_contain_text(f"the messages about {nbr} in MagentoOrderDLQ")
    page.click("#confirm")
    # Then it went back to its queue, and the order synced, once
    expect(page.locator("#done")).to_have_text("replayed 1 message(s) from MagentoOrderDLQ to MagentoOrderQueue")
    e2e.settle()
    assert len(e2e.mag.orders_for(nbr)) == 1
    page.goto(f"{console_url}/logs?entity={nbr}&action=Create&result=Success")
    expect(page.locator("#log-grid tbody tr")).to_have_count(1)
    page.goto(console_url + "/status")
    expect(page.locator('#queues tr[data-queue="MagentoOrderDLQ"] td:nth-child(2)')).to_have_text("0")
    assert "none reported" in page.inner_text("#alarms")


def test_a_post_without_the_csrf_token_is_refused_with_403(e2e: E2E, console_url: str, page: Any) -> None:
    page.goto(console_url + "/preferences")
    form = {"ship_via": "NOCSRF", "carrier_code": "flatrate", "method_code": "flatrate", "title": "Flat Rate"}
    # When the browser posts a change without the page's token (another site's form, a script)
    refused = page.request.post(console_url + "/mappings/shipvia", form=form, max_redirects=0)
    by_script = page.evaluate("""async () => (await fetch('/preferences/order-sync', {method: 'POST',
        body: new URLSearchParams({sync_if_paid: 'false'})})).status""")
    # Then both are refused with 403, and nothing changed
    assert refused.status == 403 and "CSRF token" in refused.text()
    assert by_script == 403
    assert e2e.store.ship_via("NOCSRF", "all", fresh=True) is None
    assert e2e.store.order_sync(fresh=True).sync_if_paid is True
    # while the same post with the page's token is done
    token = page.locator("input[name=csrf_token]").first.input_value()
    done = page.request.post(console_url + "/mappings/shipvia", form={**form, "csrf_token": token}, max_redirects=0)
    assert done.status == 303 and e2e.store.ship_via("NOCSRF", "all", fresh=True) is not None
    assert e2e.store.delete_mapping("shipvia", "NOCSRF#all")


def test_preview_and_audit_of_the_walkthrough_order(e2e: E2E, console_url: str, page: Any) -> None:
    expect = playwright_api.expect
    # Given a paid, synced order
    nbr, order = e2e.paid_order()
    # When it is previewed
    page.goto(console_url + "/preview")
    page.fill("input[name=order_nbr]", nbr)
    page.click("#run-preview")
    # Then the console says it is eligible and already in Magento (a sync now updates, it does not create)
    expect(page.locator("#eligible")).to_contain_text("Eligible", timeout=60_000)
    assert f"SO/{nbr}" in page.inner_text("#preview") and str(order["increment_id"]) in page.inner_text("#preview")
    # When today is audited
    page.goto(console_url + "/audit")
    page.click("#run-audit")
    # Then the report shows its summary, and the order is not among the differences
    expect(page.locator("#audit")).to_be_visible(timeout=120_000)
    assert "acumatica_orders" in page.inner_text("#audit")
    assert nbr not in page.inner_text("#audit")
