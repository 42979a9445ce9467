"""The error group admin: changelist, detail page, status actions and permissions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from django_prodkit import errors
from django_prodkit.admin.errors import set_status
from django_prodkit.errors.models import ErrorGroup
from django_prodkit.scrub import MASK

CHANGELIST = "admin:prodkit_errorgroup_changelist"
TRACEBACK = """Traceback (most recent call last):
  File "/srv/shop/orders/views.py", line 42, in checkout
    order = load_order(pk)
            ^^^^^^^^^^^^^^
shop.orders.OrderMissing: order 7 does not exist
"""


def group(key, **fields):
    now = timezone.now()
    defaults = {
        "fingerprint": key * 64,
        "exception_type": "shop.orders.OrderMissing",
        "message": "order 7 does not exist\nlooked up by reference",
        "culprit": "shop.orders.views.checkout:42",
        "source": ErrorGroup.Source.REQUEST,
        "severity": ErrorGroup.Severity.ERROR,
        "count": 1,
        "first_seen": now - dt.timedelta(days=2),
        "last_seen": now,
    }
    return ErrorGroup.objects.create(**{**defaults, **fields})


@pytest.fixture
def rows(db):
    now = timezone.now()
    return [
        group(
            "a",
            count=41,
            request_method="POST",
            request_path="/checkout/7/",
            request_route="checkout/<int:pk>/",
            request_id="req-0a1b2c",
            user_id="1234",
            traceback=TRACEBACK,
            context={
                "request": {
                    "headers": {"User-Agent": "pytest-browser", "Cookie": MASK},
                    "query": {"coupon": "SPRING", "token": MASK},
                    "form": {"quantity": "2", "password": MASK},
                    "cookies": ["csrftoken", "sessionid"],
                },
                "frames": [
                    {
                        "function": "checkout",
                        "module": "shop.orders.views",
                        "line": 42,
                        "in_project": True,
                        "locals": {"pk": "7", "api_key": MASK},
                    }
                ],
            },
            sentry_event_id="0123456789abcdef0123456789abcdef",
        ),
        group(
            "b",
            exception_type="",
            message="payment provider timed out",
            culprit="shop.payments.charge",
            logger="shop.payments",
            source=ErrorGroup.Source.LOG,
            severity=ErrorGroup.Severity.CRITICAL,
            count=3,
            last_seen=now - dt.timedelta(hours=2),
        ),
        group(
            "c",
            exception_type="builtins.ZeroDivisionError",
            message="division by zero",
            culprit="shop.reports.tasks.totals:9",
            source=ErrorGroup.Source.TASK,
            severity=ErrorGroup.Severity.WARNING,
            status=ErrorGroup.Status.RESOLVED,
            resolved_at=now - dt.timedelta(days=1),
            last_seen=now - dt.timedelta(days=20),
            first_seen=now - dt.timedelta(days=30),
            context={
                "task": {
                    "name": "shop.reports.tasks.totals",
                    "id": "5c1d3f0e-task",
                    "retries": 3,
                    "args": "(17,)",
                    "kwargs": "{}",
                }
            },
        ),
    ]


def listed(response):
    return [row.fingerprint[0] for row in response.context["cl"].result_list]


def change_url(row):
    return reverse("admin:prodkit_errorgroup_change", args=[row.pk])


def status_url(row):
    return reverse("admin:prodkit_errorgroup_status", args=[row.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def staff(django_user_model, *codenames):
    user = django_user_model.objects.create_user("staff", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="prodkit", codename__in=codenames
        )
    )
    return user


class TestChangelist:
    def test_lists_groups_newest_first_with_title_badges_and_counts(
        self, admin_client, rows
    ):
        response = admin_client.get(reverse(CHANGELIST))

        assert response.status_code == 200
        assert listed(response) == ["a", "b", "c"]
        content = response.content.decode()
        # Type and the first line of the message, the culprit under it; dotted
        # paths may wrap after a dot.
        assert (
            "shop.<wbr>orders.<wbr>OrderMissing: order 7 does not exist"
            '<span class="prodkit-culprit">shop.<wbr>orders.<wbr>views.<wbr>'
            "checkout:42</span></a>"
        ) in content
        assert "looked up by reference" not in content
        assert "payment provider timed out" in content
        assert '<td class="field-occurrences">41</td>' in content
        assert (
            '<span class="prodkit-badge prodkit-unresolved">unresolved</span> '
            '<span class="prodkit-badge prodkit-critical">critical</span>'
        ) in content
        assert '<span class="prodkit-badge prodkit-resolved">resolved</span>' in content
        assert 'href="/static/prodkit/errors.css"' in content
        # The default datetime format would push the last columns off the screen.
        first_seen = timezone.localtime(rows[2].first_seen)
        assert (
            '<td class="field-first_seen_at"><span class="prodkit-nowrap">'
            f'{first_seen:%Y-%m-%d}</span> <span class="prodkit-nowrap">'
            f"{first_seen:%H:%M}</span></td>"
        ) in content

    def test_leaves_tracebacks_and_contexts_in_the_database(self, admin_client, rows):
        response = admin_client.get(reverse(CHANGELIST))

        for row in response.context["cl"].result_list:
            assert {"traceback", "context"} <= row.get_deferred_fields()

    def test_filters_show_how_many_groups_each_choice_has(self, admin_client, rows):
        content = admin_client.get(reverse(CHANGELIST)).content.decode()

        filters = content[content.index('id="changelist-filter"') :]
        for title in ("By status", "By severity", "By source", "By last seen"):
            assert title in filters
        assert re.search(r">\s*unresolved \(2\)\s*<", filters)
        assert re.search(r">\s*resolved \(1\)\s*<", filters)
        assert re.search(r">\s*critical \(1\)\s*<", filters)

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"status__exact": "unresolved"}, ["a", "b"]),
            ({"status__exact": "resolved"}, ["c"]),
            ({"severity__exact": "critical"}, ["b"]),
            ({"source__exact": "task"}, ["c"]),
            ({"source__exact": "log", "severity__exact": "critical"}, ["b"]),
        ],
    )
    def test_filters_by_status_severity_and_source(
        self, admin_client, rows, query, expected
    ):
        assert listed(admin_client.get(reverse(CHANGELIST), query)) == expected

    def test_filters_by_last_seen(self, admin_client, rows):
        week_ago = timezone.now() - dt.timedelta(days=7)
        query = {"last_seen__gte": str(week_ago)}
        assert listed(admin_client.get(reverse(CHANGELIST), query)) == ["a", "b"]

    def test_drills_down_by_last_seen_date(self, admin_client, rows):
        last_seen = timezone.localtime(rows[2].last_seen)
        query = {
            "last_seen__year": last_seen.year,
            "last_seen__month": last_seen.month,
            "last_seen__day": last_seen.day,
        }
        assert listed(admin_client.get(reverse(CHANGELIST), query)) == ["c"]

    @pytest.mark.parametrize(
        ("term", "expected"),
        [
            ("timed out", ["b"]),
            ("ZeroDivisionError", ["c"]),
            ("reports.tasks", ["c"]),
            ("b" * 20, ["b"]),
            ("/checkout/7", ["a"]),
            ("req-0a1b2c", ["a"]),
            ("1234", ["a"]),
        ],
    )
    def test_searches_message_type_culprit_fingerprint_path_request_and_user(
        self, admin_client, rows, term, expected
    ):
        response = admin_client.get(reverse(CHANGELIST), {"q": term})
        assert listed(response) == expected

    def test_fingerprint_search_matches_from_the_start_only(self, admin_client, db):
        group("x", fingerprint="x" * 10 + "abcdef" + "x" * 48)
        response = admin_client.get(reverse(CHANGELIST), {"q": "abcdef"})
        assert listed(response) == []

    def test_queries_do_not_grow_with_the_number_of_groups(
        self, admin_client, db, django_assert_max_num_queries
    ):
        def queries_for(rows):
            ErrorGroup.objects.bulk_create(
                ErrorGroup(fingerprint=f"{i:064x}", source="log", count=i)
                for i in range(len(ErrorGroup.objects.all()), rows)
            )
            with django_assert_max_num_queries(20) as captured:
                response = admin_client.get(reverse(CHANGELIST))
            assert response.status_code == 200
            return len(captured)

        assert queries_for(3) == queries_for(250)


class TestDetail:
    def test_shows_summary_last_request_traceback_and_locals(self, admin_client, rows):
        response = admin_client.get(change_url(rows[0]))

        assert response.status_code == 200
        content = response.content.decode()
        for heading in ("Summary", "Last request", "Traceback", "Local variables"):
            assert f'class="fieldset-heading">{heading}</h2>' in content
        assert 'class="fieldset-heading">Task</h2>' not in content
        assert "order 7 does not exist\nlooked up by reference</pre>" in content
        assert "checkout/&lt;int:pk&gt;/" in content
        assert "req-0a1b2c" in content
        assert '<th scope="row">User-Agent</th><td>pytest-browser</td>' in content
        assert '<th scope="row">coupon</th><td>SPRING</td>' in content
        assert '<th scope="row">quantity</th><td>2</td>' in content
        assert "csrftoken, sessionid" in content
        # Monospace, whitespace kept exactly.
        assert '<pre class="prodkit-pre prodkit-traceback">Traceback' in content
        assert (
            "line 42, in checkout\n    order = load_order(pk)\n"
            "            ^^^^^^^^^^^^^^\n" in content
        )
        assert "shop.orders.views.checkout <span>line 42 · project code</span>" in (
            content
        )
        assert '<th scope="row">pk</th><td>7</td>' in content

    def test_shows_the_task_of_a_task_failure(self, admin_client, rows):
        content = admin_client.get(change_url(rows[2])).content.decode()

        assert 'class="fieldset-heading">Task</h2>' in content
        assert '<th scope="row">name</th><td>shop.reports.tasks.totals</td>' in content
        assert '<th scope="row">retries</th><td>3</td>' in content
        for absent in ("Last request", "Traceback", "Local variables"):
            assert f'class="fieldset-heading">{absent}</h2>' not in content

    def test_masked_values_are_shown_masked(self, admin_client, rows):
        content = admin_client.get(change_url(rows[0])).content.decode()

        assert f'<th scope="row">Cookie</th><td>{MASK}</td>' in content
        assert f'<th scope="row">token</th><td>{MASK}</td>' in content
        assert f'<th scope="row">password</th><td>{MASK}</td>' in content
        assert f'<th scope="row">api_key</th><td>{MASK}</td>' in content

    def test_sentry_event_is_text_without_an_event_url(self, admin_client, rows):
        content = admin_client.get(change_url(rows[0])).content.decode()

        assert "0123456789abcdef0123456789abcdef" in content
        assert "sentry.example" not in content

    def test_sentry_event_links_to_the_configured_url(
        self, admin_client, rows, settings
    ):
        settings.PRODKIT = {
            "ERRORS": {"SENTRY_EVENT_URL": "https://sentry.example/?query={event_id}"}
        }
        content = admin_client.get(change_url(rows[0])).content.decode()

        assert (
            '<a href="https://sentry.example/?query=0123456789abcdef0123456789abcdef" '
            'rel="noopener noreferrer" target="_blank">0123456789abcdef'
        ) in content

    def test_nothing_is_editable(self, admin_client, rows):
        content = admin_client.get(change_url(rows[0])).content.decode()

        assert "<textarea" not in content
        assert not re.search(r'<input type="(text|number|datetime)', content)
        assert 'name="_save"' not in content
        assert 'name="_continue"' not in content

    def test_posting_the_form_changes_nothing(self, admin_client, rows):
        response = admin_client.post(
            change_url(rows[0]), {"message": "edited", "status": "resolved"}
        )

        assert response.status_code == 403
        row = ErrorGroup.objects.get(pk=rows[0].pk)
        assert (row.message, row.status) == (rows[0].message, "unresolved")

    def test_groups_cannot_be_added(self, admin_client, rows):
        response = admin_client.get(reverse("admin:prodkit_errorgroup_add"))
        assert response.status_code == 403

    def test_pages_have_no_inline_styles_or_scripts(self, admin_client, rows):
        for url in (reverse(CHANGELIST), change_url(rows[0]), change_url(rows[2])):
            content = admin_client.get(url).content.decode()
            assert " style=" not in content
            assert "<style" not in content
            assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", content))


@pytest.mark.django_db(transaction=True)
def test_a_captured_request_shows_its_secrets_masked(admin_client, rf):
    request = rf.post(
        "/checkout/7/?coupon=SPRING&access_token=tok-in-query",
        {"quantity": "2", "password": "hunter2-in-form"},
        HTTP_AUTHORIZATION="Bearer sk-live-in-header",
        HTTP_COOKIE="sessionid=cookie-value-in-header",
    )
    assert request.POST["quantity"] == "2"  # The view read the form.

    def charge(api_key):
        card_number = "4242 4242 4242 4242"
        raise RuntimeError(f"charge refused for {card_number[:4]}")

    with pytest.raises(RuntimeError) as raised:
        # Built here so that the traceback's source line does not quote it.
        charge("-".join(["ak", "live", "in", "locals"]))
    assert errors.capture_exception(raised.value, request=request)
    assert errors.flush()

    (row,) = ErrorGroup.objects.all()
    content = admin_client.get(change_url(row)).content.decode()
    assert "charge refused for 4242" in content
    assert "SPRING" in content
    for secret in (
        "tok-in-query",
        "hunter2-in-form",
        "sk-live-in-header",
        "cookie-value-in-header",
        "ak-live-in-locals",
    ):
        assert secret not in content
    assert content.count(MASK) >= 4


class TestActions:
    def act(self, client, action, rows):
        return client.post(
            reverse(CHANGELIST),
            {"action": action, "_selected_action": [row.pk for row in rows]},
            follow=True,
        )

    def test_resolve_sets_status_and_time_and_says_how_many(self, admin_client, rows):
        before = timezone.now()
        response = self.act(admin_client, "resolve", rows)

        assert "2 error groups were resolved." in messages_of(response)
        resolved = ErrorGroup.objects.get(pk=rows[0].pk)
        assert resolved.status == "resolved"
        assert resolved.resolved_at is not None
        assert resolved.resolved_at >= before
        # Already resolved: neither counted nor given a new time.
        assert ErrorGroup.objects.get(pk=rows[2].pk).resolved_at == rows[2].resolved_at

    def test_ignore(self, admin_client, rows):
        response = self.act(admin_client, "ignore", rows[:2])

        assert "2 error groups are now ignored." in messages_of(response)
        assert set(ErrorGroup.objects.values_list("status", flat=True)) == {
            "ignored",
            "resolved",
        }

    def test_reopen_clears_the_resolution_time(self, admin_client, rows):
        response = self.act(admin_client, "reopen", rows)

        assert "1 error group was reopened." in messages_of(response)
        reopened = ErrorGroup.objects.get(pk=rows[2].pk)
        assert (reopened.status, reopened.resolved_at) == ("unresolved", None)

    def test_an_action_that_changes_nothing_says_so(self, admin_client, rows):
        response = self.act(admin_client, "reopen", rows[:2])
        assert "0 error groups were reopened." in messages_of(response)

    def test_each_status_change_is_one_update(self, rows, django_assert_num_queries):
        with django_assert_num_queries(1) as captured:
            assert set_status(ErrorGroup.objects.all(), "ignored") == 3
        assert captured.captured_queries[0]["sql"].startswith("UPDATE")

    def test_detail_buttons_follow_the_status(self, admin_client, rows):
        unresolved = admin_client.get(change_url(rows[0])).content.decode()
        resolved = admin_client.get(change_url(rows[2])).content.decode()

        action = f'formaction="{status_url(rows[0])}"'
        assert 'name="_resolve"' in unresolved
        assert action in unresolved
        assert 'name="_ignore"' in unresolved
        assert 'name="_reopen"' not in unresolved
        assert 'name="_reopen"' in resolved
        assert 'name="_resolve"' not in resolved

    def test_detail_button_resolves_and_returns_to_the_group(self, admin_client, rows):
        response = admin_client.post(status_url(rows[0]), {"_resolve": "Resolve"})

        assert response.status_code == 302
        assert response.url == change_url(rows[0])
        assert ErrorGroup.objects.get(pk=rows[0].pk).status == "resolved"
        assert messages_of(response) == ["1 error group was resolved."]

    def test_detail_button_keeps_the_changelist_filters(self, admin_client, rows):
        filters = "_changelist_filters=status__exact%3Dunresolved"
        page = admin_client.get(f"{change_url(rows[1])}?{filters}").content.decode()
        assert f'formaction="{status_url(rows[1])}?{filters}"' in page

        response = admin_client.post(
            f"{status_url(rows[1])}?{filters}", {"_ignore": "Ignore"}
        )
        assert response.url == f"{change_url(rows[1])}?{filters}"
        assert ErrorGroup.objects.get(pk=rows[1].pk).status == "ignored"

    def test_status_view_refuses_get_unknown_groups_and_missing_status(
        self, admin_client, rows
    ):
        assert admin_client.get(status_url(rows[0])).status_code == 405
        assert admin_client.post(status_url(rows[0])).status_code == 400
        gone = reverse("admin:prodkit_errorgroup_status", args=[10**9])
        assert admin_client.post(gone, {"_resolve": "1"}).status_code == 404
        assert ErrorGroup.objects.get(pk=rows[0].pk).status == "unresolved"


class TestPermissions:
    def test_staff_without_permissions_is_refused(
        self, client, django_user_model, rows
    ):
        client.force_login(staff(django_user_model))
        assert client.get(reverse(CHANGELIST)).status_code == 403
        assert client.get(change_url(rows[0])).status_code == 403

    def test_view_permission_shows_groups_without_status_changes(
        self, client, django_user_model, rows
    ):
        client.force_login(staff(django_user_model, "view_errorgroup"))

        response = client.get(reverse(CHANGELIST))
        assert response.status_code == 200
        # No action at all: the three need the change permission, deleting its own.
        assert response.context["action_form"] is None
        detail = client.get(change_url(rows[0])).content.decode()
        assert "Traceback" in detail
        assert 'name="_resolve"' not in detail

        client.post(
            reverse(CHANGELIST),
            {"action": "resolve", "_selected_action": [rows[0].pk]},
        )
        assert client.post(status_url(rows[0]), {"_resolve": "1"}).status_code == 403
        assert ErrorGroup.objects.get(pk=rows[0].pk).status == "unresolved"

    def test_change_permission_allows_status_changes(
        self, client, django_user_model, rows
    ):
        client.force_login(
            staff(django_user_model, "view_errorgroup", "change_errorgroup")
        )

        response = client.post(
            reverse(CHANGELIST),
            {"action": "ignore", "_selected_action": [rows[0].pk]},
            follow=True,
        )
        assert "1 error group is now ignored." in messages_of(response)
        assert client.post(status_url(rows[0]), {"_reopen": "1"}).status_code == 302
        assert ErrorGroup.objects.get(pk=rows[0].pk).status == "unresolved"
        # Still nothing to edit, and no delete without the delete permission.
        detail = client.get(change_url(rows[0])).content.decode()
        assert 'name="_save"' not in detail
        assert "deletelink" not in detail

    def test_deleting_needs_the_delete_permission(self, admin_client, rows):
        url = reverse("admin:prodkit_errorgroup_delete", args=[rows[1].pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
        assert ErrorGroup.objects.count() == 2
