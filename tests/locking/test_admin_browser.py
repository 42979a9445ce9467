from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import django
import pytest

from tests.locking.models import Note
from tests.services import services_required

CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.urls("tests.locking.urls"), pytest.mark.slow]


def _need_browser() -> None:
    problem = None
    if importlib.util.find_spec("playwright") is None:
        problem = "needs playwright (pip install playwright)"
    elif shutil.which(CHROMIUM) is None:
        problem = f"needs a Chromium executable at {CHROMIUM}"
    if problem and services_required():
        pytest.fail(f"PRODKIT_REQUIRE_SERVICES=1 but the test {problem}")
    if problem:
        pytest.skip(problem)


def test_two_editors_in_a_browser_the_second_save_is_refused(
    live_server: Any, settings: Any, django_user_model: Any, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    settings.STATIC_ROOT = str(Path(django.__file__).parent / "contrib/admin/static")
    django_user_model.objects.create_superuser("admin", password="s3cret-pass")
    note = Note.objects.create(text="Opening hours: 9 to 5")
    change = f"{live_server.url}/admin/locking_tests/note/{note.pk}/change/"

    # No ORM calls from here on: Playwright's sync API runs an event loop here.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"]
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            first = context.new_page()
            first.goto(f"{live_server.url}/admin/login/")
            first.fill("#id_username", "admin")
            first.fill("#id_password", "s3cret-pass")
            first.click("input[type=submit]")
            # Both editors open the note before either saves.
            first.goto(change)
            second = context.new_page()
            second.goto(change)
            second.fill("#id_text", "Opening hours: 8 to 6")
            second.click("input[name=_save]")
            expect(second.locator(".messagelist")).to_contain_text("was changed")

            first.fill("#id_text", "Opening hours: 10 to 4")
            first.click("input[name=_save]")
            error = first.locator(".errornote, .errorlist.nonfield")
            expect(error.last).to_contain_text(
                "was changed by someone else since you opened it"
            )
            expect(first.locator("#id_text")).to_have_value("Opening hours: 10 to 4")
            first.screenshot(path=tmp_path / "stale-admin-save.png", full_page=True)
            first.get_by_role("link", name="Reload it").click()
            expect(first.locator("#id_text")).to_have_value("Opening hours: 8 to 6")
        finally:
            browser.close()
    assert Note.objects.values_list("text", "version").get(pk=note.pk) == (
        "Opening hours: 8 to 6",
        2,
    )
