"""The slow-query admin in a real browser: the list sorted by total time, sorting by
another column, and the detail page with its SQL and plan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_prodkit.queries.models import SlowQuery
from tests.errors.test_admin_browser import SCREENSHOTS, _static_root
from tests.locking.test_admin_browser import CHROMIUM, _need_browser

pytestmark = pytest.mark.slow

PLAN = """Hash Join  (cost=33.38..62.56 rows=10 width=72)
  Hash Cond: (o.customer_id = c.id)
  ->  Seq Scan on shop_order o  (cost=0.00..25.88 rows=6 width=40)
        Filter: ((status)::text = '?'::text)
  ->  Hash  (cost=20.70..20.70 rows=1070 width=36)
        ->  Seq Scan on shop_customer c  (cost=0.00..20.70 rows=1070 width=36)"""


def _queries() -> SlowQuery:
    now = timezone.now()
    report = SlowQuery.objects.create(
        alias="default",
        fingerprint="a" * 32,
        sql=(
            "SELECT o.id, o.total, c.name FROM shop_order o JOIN shop_customer c "
            "ON o.customer_id = c.id WHERE o.status = ? ORDER BY o.total DESC"
        ),
        count=120,
        total_ms=98_400.0,
        max_ms=2_310.5,
        first_seen=now - dt.timedelta(days=2),
        last_seen=now - dt.timedelta(minutes=3),
        last_route="/reports/orders/",
        last_request_id="0b9e6c1f3d2a4e5f",
        plan=PLAN,
        plan_at=now - dt.timedelta(minutes=3),
    )
    SlowQuery.objects.create(
        alias="replica",
        fingerprint="b" * 32,
        sql="SELECT pg_sleep(?)",
        count=3,
        total_ms=9_050.0,
        max_ms=4_000.0,
        last_seen=now - dt.timedelta(hours=5),
        last_route="/demo/slow/",
    )
    return report


def test_changelist_and_detail_in_a_browser(
    live_server: Any, settings: Any, django_user_model: Any, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    settings.STATIC_ROOT = _static_root(tmp_path)
    django_user_model.objects.create_superuser("admin", password="s3cret-pass")
    report = _queries()
    changelist = f"{live_server.url}{reverse('admin:prodkit_slowquery_changelist')}"
    detail = f"{live_server.url}{reverse('admin:prodkit_slowquery_change', args=[report.pk])}"

    # No ORM calls from here on: Playwright's sync API runs an event loop here.
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on(
                "response", lambda r: failed.append(r.url) if r.status >= 400 else None
            )
            page.goto(f"{live_server.url}{reverse('admin:login')}")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "s3cret-pass")
            page.click("input[type=submit]")

            page.goto(changelist)
            rows = page.locator("#result_list tbody tr")
            expect(rows).to_have_count(2)
            # Sorted by total time: the report's 98 s before the replica's 9 s.
            expect(rows.nth(0)).to_contain_text("shop_order")
            expect(rows.nth(1)).to_contain_text("pg_sleep")
            page.screenshot(
                path=SCREENSHOTS / "prodkit-slow-queries-changelist.png",
                full_page=True,
            )
            # Sorting by count (ascending first) puts the replica's 3 runs first.
            page.locator("#result_list th.column-count .text a").click()
            expect(rows.nth(0)).to_contain_text("pg_sleep")

            page.goto(detail)
            plan = page.locator("pre").filter(has_text="Hash Join")
            expect(plan).to_be_visible()
            assert plan.evaluate("e => getComputedStyle(e).whiteSpace") == "pre"
            expect(page.get_by_text("/reports/orders/")).to_be_visible()
            expect(page.get_by_text("0b9e6c1f3d2a4e5f")).to_be_visible()
            page.screenshot(
                path=SCREENSHOTS / "prodkit-slow-queries-detail.png", full_page=True
            )
        finally:
            browser.close()
    assert failed == []
