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

from django_prodkit.health.models import HealthCheckRun
from tests.services import services_required

CHANGELIST = "admin:prodkit_healthcheckrun_changelist"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def rows(db):
    now = timezone.now()
    return HealthCheckRun.objects.bulk_create(
        [
            HealthCheckRun(
                name="database:default",
                status="ok",
                critical=True,
                latency_ms=1.234,
                created_at=now,
            ),
            HealthCheckRun(
                name="payments-api",
                status="fail",
                critical=False,
                latency_ms=2000.0,
                message="timed out: no answer within 2 s",
                created_at=now - dt.timedelta(minutes=1),
            ),
            HealthCheckRun(
                name="queue",
                status="warn",
                critical=False,
                latency_ms=12.5,
                message="queue is 80% full",
                created_at=now - dt.timedelta(minutes=2),
            ),
        ]
    )


def listed(response):
    return sorted(row.name for row in response.context["cl"].result_list)


def test_changelist_shows_recorded_runs(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert listed(response) == ["database:default", "payments-api", "queue"]
    content = response.content.decode()
    assert "1.23 ms" in content
    assert "2000.00 ms" in content
    assert 'src="/static/admin/img/icon-no.svg" alt="fail"' in content
    assert 'src="/static/admin/img/icon-alert.svg" alt="warn"' in content


def test_changelist_filters_by_status(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST), {"status__exact": "fail"})

    assert listed(response) == ["payments-api"]


def test_changelist_filters_by_check_name(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST), {"name": "queue"})

    assert listed(response) == ["queue"]
    assert "payments-api" in response.content.decode()  # Still offered as a choice.


def test_changelist_searches_messages(admin_client, rows):
    response = admin_client.get(reverse(CHANGELIST), {"q": "80%"})

    assert listed(response) == ["queue"]


def test_add_view_is_forbidden_even_for_superusers(admin_client, db):
    response = admin_client.get(reverse("admin:prodkit_healthcheckrun_add"))

    assert response.status_code == 403


def test_change_view_is_read_only(admin_client, rows):
    run = rows[1]
    url = reverse("admin:prodkit_healthcheckrun_change", args=[run.pk])

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"name": "edited", "status": "ok"})

    assert response.status_code == 403
    run.refresh_from_db()
    assert (run.name, run.status) == ("payments-api", "fail")


def test_superuser_can_delete_runs_by_hand(admin_client, rows):
    url = reverse("admin:prodkit_healthcheckrun_delete", args=[rows[0].pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not HealthCheckRun.objects.filter(pk=rows[0].pk).exists()


def test_staff_without_permission_is_forbidden(client, django_user_model, rows):
    user = django_user_model.objects.create_user("staff", is_staff=True)
    client.force_login(user)

    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_staff_with_view_permission_sees_the_changelist(
    client, django_user_model, rows
):
    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="prodkit", codename="view_healthcheckrun"
        )
    )
    client.force_login(user)

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert listed(response) == ["database:default", "payments-api", "queue"]


def _browser_problem():
    if importlib.util.find_spec("playwright") is None:
        return "needs playwright (pip install playwright)"
    if shutil.which(CHROMIUM) is None:
        return f"needs a Chromium executable at {CHROMIUM}"
    return None


@pytest.mark.slow
def test_changelist_in_a_browser(live_server, settings, django_user_model, tmp_path):
    if problem := _browser_problem():
        if services_required():
            pytest.fail(f"PRODKIT_REQUIRE_SERVICES=1 but the test {problem}")
        pytest.skip(problem)
    from playwright.sync_api import expect, sync_playwright

    # tests.settings has no django.contrib.staticfiles, so the live server serves
    # STATIC_ROOT: point it at the admin's own files to get a styled page.
    settings.STATIC_ROOT = str(Path(django.__file__).parent / "contrib/admin/static")
    django_user_model.objects.create_superuser("admin", password="s3cret-pass")
    HealthCheckRun.objects.bulk_create(
        [
            HealthCheckRun(
                name="database:default", status="ok", critical=True, latency_ms=1.5
            ),
            HealthCheckRun(
                name="payments-api",
                status="fail",
                critical=False,
                latency_ms=2000.0,
                message="timed out",
            ),
        ],
    )

    # No ORM calls from here on: Playwright's sync API runs an event loop in this
    # thread, and Django refuses synchronous queries while one is running.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(f"{live_server.url}{reverse('admin:login')}")
            page.fill("#id_username", "admin")
            page.fill("#id_password", "s3cret-pass")
            page.click("input[type=submit]")
            page.goto(f"{live_server.url}{reverse(CHANGELIST)}")

            expect(page.get_by_role("heading", name="Filter")).to_be_visible()
            table = page.locator("#result_list")
            expect(table.get_by_text("payments-api")).to_be_visible()
            expect(table.get_by_text("database:default")).to_be_visible()
            expect(table.get_by_text("2000.00 ms")).to_be_visible()
            filters = page.locator("#changelist-filter")
            for title in ("By status", "By critical", "By check", "By checked at"):
                expect(filters.get_by_text(title, exact=True)).to_be_visible()
            expect(filters.get_by_role("link", name="fail")).to_be_visible()
            page.screenshot(path=tmp_path / "health-history.png", full_page=True)
        finally:
            browser.close()
