"""The error group admin in a real browser: layout, styles loaded, the resolve button."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import django
import pytest
from django.urls import reverse
from django.utils import timezone

import django_prodkit
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.scrub import MASK
from tests.locking.test_admin_browser import CHROMIUM, _need_browser

pytestmark = pytest.mark.slow

SCREENSHOTS = Path("/tmp")
TRACEBACK = """Traceback (most recent call last):
  File "/srv/shop/orders/views.py", line 42, in checkout
    order = load_order(pk)
            ^^^^^^^^^^^^^^
  File "/srv/shop/orders/models.py", line 17, in load_order
    raise OrderMissing(f"order {pk} does not exist (looked up by {reference!r})")
shop.orders.OrderMissing: order 7 does not exist (looked up by 'ref-7')
"""


def _static_root(tmp_path: Path) -> str:
    """The admin's static files and prodkit's, as collectstatic would gather them.

    tests.settings has no django.contrib.staticfiles, so the live server serves
    STATIC_ROOT.
    """
    root = tmp_path / "static"
    root.mkdir()
    (root / "admin").symlink_to(
        Path(django.__file__).parent / "contrib/admin/static/admin"
    )
    (root / "prodkit").symlink_to(
        Path(django_prodkit.__file__).parent / "static/prodkit"
    )
    return str(root)


def _groups() -> list[ErrorGroup]:
    now = timezone.now()
    request_group = ErrorGroup.objects.create(
        fingerprint="a" * 64,
        exception_type="shop.orders.OrderMissing",
        message="order 7 does not exist (looked up by 'ref-7')",
        culprit="shop.orders.models.load_order:17",
        source="request",
        severity="error",
        count=41,
        first_seen=now - dt.timedelta(days=3),
        last_seen=now,
        request_method="POST",
        request_path="/checkout/7/",
        request_route="checkout/<int:pk>/",
        user_id="1234",
        request_id="0b9e6c1f3d2a4e5f",
        traceback=TRACEBACK,
        sentry_event_id="0123456789abcdef0123456789abcdef",
        context={
            "request": {
                "headers": {
                    "Accept": "text/html",
                    "Authorization": MASK,
                    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
                },
                "query": {"coupon": "SPRING"},
                "form": {"quantity": "2", "password": MASK},
                "cookies": ["csrftoken", "sessionid"],
            },
            "frames": [
                {
                    "function": "load_order",
                    "module": "shop.orders.models",
                    "line": 17,
                    "in_project": True,
                    "locals": {"pk": "7", "reference": "'ref-7'", "api_key": MASK},
                },
                {
                    "function": "checkout",
                    "module": "shop.orders.views",
                    "line": 42,
                    "in_project": True,
                    "locals": {"request": "<WSGIRequest: POST '/checkout/7/'>"},
                },
            ],
        },
    )
    ErrorGroup.objects.create(
        fingerprint="b" * 64,
        message="payment provider timed out after 30 s",
        culprit="shop.payments.charge",
        logger="shop.payments",
        source="log",
        severity="critical",
        count=3,
        last_seen=now - dt.timedelta(hours=2),
    )
    ErrorGroup.objects.create(
        fingerprint="c" * 64,
        exception_type="builtins.ZeroDivisionError",
        message="division by zero",
        culprit="shop.reports.tasks.totals:9",
        source="task",
        severity="warning",
        status="resolved",
        resolved_at=now - dt.timedelta(days=1),
        count=7,
        first_seen=now - dt.timedelta(days=30),
        last_seen=now - dt.timedelta(days=2),
    )
    return [request_group]


def test_changelist_and_detail_in_a_browser(
    live_server: Any, settings: Any, django_user_model: Any, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    settings.STATIC_ROOT = _static_root(tmp_path)
    django_user_model.objects.create_superuser("admin", password="s3cret-pass")
    (group,) = _groups()
    changelist = f"{live_server.url}{reverse('admin:prodkit_errorgroup_changelist')}"
    detail = f"{live_server.url}{reverse('admin:prodkit_errorgroup_change', args=[group.pk])}"

    # No ORM calls from here on: Playwright's sync API runs an event loop here.
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        try:
            for scheme in ("light", "dark"):
                suffix = "" if scheme == "light" else "-dark"
                page = browser.new_page(
                    viewport={"width": 1280, "height": 800}, color_scheme=scheme
                )
                page.on(
                    "response",
                    lambda r: failed.append(r.url) if r.status >= 400 else None,
                )
                page.goto(f"{live_server.url}{reverse('admin:login')}")
                page.fill("#id_username", "admin")
                page.fill("#id_password", "s3cret-pass")
                page.click("input[type=submit]")

                page.goto(changelist)
                table = page.locator("#result_list")
                title = "shop.orders.OrderMissing: order 7 does not exist"
                expect(table.get_by_role("link", name=title)).to_be_visible()
                expect(table.get_by_text("41", exact=True)).to_be_visible()
                expect(table.get_by_text("critical", exact=True)).to_be_visible()
                filters = page.locator("#changelist-filter")
                for heading in (
                    "By status",
                    "By severity",
                    "By source",
                    "By last seen",
                ):
                    expect(filters.get_by_text(heading, exact=True)).to_be_visible()
                expect(
                    filters.get_by_role("link", name="unresolved (2)")
                ).to_be_visible()
                # The badge colours come from the stylesheet, so it was loaded.
                badge = table.locator(".prodkit-badge.prodkit-critical")
                background = badge.evaluate("e => getComputedStyle(e).backgroundColor")
                assert background not in ("", "rgba(0, 0, 0, 0)", "transparent")
                page.screenshot(
                    path=SCREENSHOTS / f"prodkit-errors-changelist{suffix}.png",
                    full_page=True,
                )

                page.goto(detail)
                traceback = page.locator("pre.prodkit-traceback")
                expect(traceback).to_contain_text("    order = load_order(pk)")
                expect(page.get_by_role("heading", name="Last request")).to_be_visible()
                expect(page.get_by_text("checkout/<int:pk>/")).to_be_visible()
                expect(
                    page.get_by_role("heading", name="Local variables")
                ).to_be_visible()
                assert (
                    traceback.evaluate("e => getComputedStyle(e).whiteSpace") == "pre"
                )
                page.screenshot(
                    path=SCREENSHOTS / f"prodkit-errors-detail{suffix}.png",
                    full_page=True,
                )
                page.close()

            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{live_server.url}{reverse('admin:login')}")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "s3cret-pass")
            page.click("input[type=submit]")
            page.goto(detail)
            page.get_by_role("button", name="Resolve").click()
            expect(page.locator(".messagelist")).to_contain_text(
                "1 error group was resolved."
            )
            expect(page.get_by_role("button", name="Reopen")).to_be_visible()
        finally:
            browser.close()
    assert failed == []
    assert ErrorGroup.objects.get(pk=group.pk).status == "resolved"
