from __future__ import annotations

import datetime as dt
import importlib.util
import shutil
from pathlib import Path

import django
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from django_prodkit.security.csp import recommended_policy
from django_prodkit.security.models import CSPReport
from tests.security.conftest import PACKAGE_CSP, SECURITY_HEADERS
from tests.services import services_required

CHANGELIST = "admin:prodkit_cspreport_changelist"
CHROMIUM = "/usr/bin/chromium"


def report(fingerprint, **fields):
    now = timezone.now()
    defaults = {
        "fingerprint": fingerprint * 64,
        "directive": "script-src-elem",
        "blocked_uri": "inline",
        "document_uri": "https://shop.example/",
        "disposition": "report",
        "count": 1,
        "first_seen": now - dt.timedelta(days=1),
        "last_seen": now,
    }
    return CSPReport(**{**defaults, **fields})


@pytest.fixture
def rows(db):
    now = timezone.now()
    return CSPReport.objects.bulk_create(
        [
            report("a", count=41, document_uri="https://shop.example/cart/"),
            report(
                "b",
                directive="img-src",
                blocked_uri="https://tracker.example/pixel.gif",
                disposition="enforce",
                count=3,
                last_seen=now - dt.timedelta(hours=2),
            ),
            report(
                "c",
                directive="style-src-attr",
                document_uri="https://shop.example/admin/",
                last_seen=now - dt.timedelta(hours=5),
            ),
        ]
    )


def listed(response):
    return [row.directive for row in response.context["cl"].result_list]


def test_changelist_lists_groups_newest_first(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert listed(response) == ["script-src-elem", "img-src", "style-src-attr"]
    content = response.content.decode()
    assert "https://tracker.example/pixel.gif" in content
    assert "https://shop.example/cart/" in content
    assert '<td class="field-count">41</td>' in content


def test_changelist_filters_by_directive_and_disposition(admin_client, rows):
    url = reverse(CHANGELIST)
    assert listed(admin_client.get(url, {"directive": "img-src"})) == ["img-src"]
    response = admin_client.get(url, {"disposition__exact": "report"})
    assert listed(response) == ["script-src-elem", "style-src-attr"]


def test_changelist_searches_uris(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST), {"q": "tracker"})
    assert listed(response) == ["img-src"]


def test_add_and_change_are_forbidden(admin_client, rows):
    assert admin_client.get(reverse("admin:prodkit_cspreport_add")).status_code == 403
    url = reverse("admin:prodkit_cspreport_change", args=[rows[0].pk])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"directive": "x"}).status_code == 403


def test_groups_can_be_deleted(admin_client, rows):
    url = reverse("admin:prodkit_cspreport_delete", args=[rows[1].pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert CSPReport.objects.count() == 2


def test_staff_needs_the_view_permission(client, django_user_model, rows):
    user = django_user_model.objects.create_user("staff", is_staff=True)
    client.force_login(user)
    assert client.get(reverse(CHANGELIST)).status_code == 403

    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="prodkit", codename="view_cspreport"
        )
    )
    assert client.get(reverse(CHANGELIST)).status_code == 200


def _browser_problem():
    if importlib.util.find_spec("playwright") is None:
        return "needs playwright (pip install playwright)"
    if shutil.which(CHROMIUM) is None:
        return f"needs a Chromium executable at {CHROMIUM}"
    return None


@pytest.mark.slow
def test_changelist_in_a_browser_under_the_baseline_policy(
    start_server, settings, django_user_model, tmp_path
):
    if problem := _browser_problem():
        if services_required():
            pytest.fail(f"PRODKIT_REQUIRE_SERVICES=1 but the test {problem}")
        pytest.skip(problem)
    from playwright.sync_api import expect, sync_playwright

    settings.STATIC_ROOT = str(Path(django.__file__).parent / "contrib/admin/static")
    # The admin, with prodkit's headers and the baseline policy enforced by django-csp.
    settings.MIDDLEWARE = [SECURITY_HEADERS, PACKAGE_CSP, *settings.MIDDLEWARE]
    settings.CONTENT_SECURITY_POLICY = recommended_policy(
        strict=False, report_uri="/csp-report/", backend="django-csp"
    )
    live_server = start_server()
    django_user_model.objects.create_superuser("admin", password="s3cret-pass")
    CSPReport.objects.bulk_create(
        [
            report("a", count=41, document_uri="https://shop.example/cart/"),
            report(
                "b",
                directive="img-src",
                blocked_uri="https://tracker.example/pixel.gif",
                disposition="enforce",
                count=3,
            ),
        ]
    )

    # No ORM calls from here on: Playwright's sync API runs an event loop in this
    # thread, and Django refuses synchronous queries while one is running.
    violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 720})
            page.on(
                "console",
                lambda message: (
                    violations.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            page.goto(f"{live_server.url}{reverse('admin:login')}")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "s3cret-pass")
            page.click("input[type=submit]")
            response = page.goto(f"{live_server.url}{reverse(CHANGELIST)}")

            assert response is not None
            assert "default-src 'self'" in response.headers["content-security-policy"]
            assert response.headers["cross-origin-resource-policy"] == "same-origin"
            expect(page.get_by_role("heading", name="Filter")).to_be_visible()
            table = page.locator("#result_list")
            expect(
                table.get_by_text("https://tracker.example/pixel.gif")
            ).to_be_visible()
            expect(table.get_by_text("41", exact=True)).to_be_visible()
            filters = page.locator("#changelist-filter")
            for title in ("By directive", "By disposition", "By last seen"):
                expect(filters.get_by_text(title, exact=True)).to_be_visible()
            page.screenshot(path=tmp_path / "csp-reports.png", full_page=True)
        finally:
            browser.close()
    assert violations == []
