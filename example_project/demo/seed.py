"""Demo data for ``manage.py seed_demo``; every step can run any number of times."""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.utils import timezone

from demo import failures
from demo.models import Note, Order
from django_prodkit import errors
from django_prodkit.health.history import record
from django_prodkit.models import ErrorGroup

ADMIN_USERNAME = "admin"


@dataclasses.dataclass(frozen=True)
class Login:
    username: str
    password: str


def admin_login(username: str = ADMIN_USERNAME) -> Login:
    """Create or update a superuser and give it a new random password."""
    user_model = get_user_model()
    lookup = {user_model.USERNAME_FIELD: username}
    user = user_model._default_manager.filter(**lookup).first() or user_model(**lookup)
    user.is_active = user.is_staff = user.is_superuser = True
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save()
    return Login(username, password)


def health_history() -> str:
    """Run every health check once and record the results, as the cron job would."""
    runs = record()
    statuses = Counter(run.status for run in runs)
    summary = ", ".join(
        f"{count} {status}" for status, count in sorted(statuses.items())
    )
    return f"Recorded {len(runs)} health check results ({summary})."


NOTES = [
    "Opening hours: Monday to Friday, 9 to 17.",
    "The spare keys are in the blue box behind reception.",
    "Order more coffee beans before Friday.",
]
ORDERS = [("coffee beans", 3), ("paper cups", 200), ("oat milk", 12)]


def notes() -> str:
    """A few notes to edit from two browser tabs, or to PUT with a stale version."""
    created = sum(Note.objects.get_or_create(text=text)[1] for text in NOTES)
    return f"Notes: {created} created, {Note.objects.count()} in all."


def orders() -> str:
    created = sum(
        Order.objects.get_or_create(item=item, defaults={"quantity": quantity})[1]
        for item, quantity in ORDERS
    )
    return f"Orders: {created} created, {Order.objects.count()} in all."


# Marks the groups this step records, in the context of their last occurrence.
SEEDED = {"seeded_by": "seed_demo"}


def _capture(failure: Callable[[], object], severity: str) -> str:
    try:
        failure()
    except Exception as exc:
        return errors.capture_exception(exc, severity=severity, context=SEEDED) or ""
    raise AssertionError(f"{failure} did not fail")


def _low_stock(item: str, left: int) -> str:
    message = f"stock of {item!r} is low: {left} left"
    return errors.capture_message(message, severity="warning", context=SEEDED) or ""


def error_groups() -> str:
    """Error groups of every severity and status, recorded through prodkit's public API.

    Once only: the occurrences are real captures, and a second run would add to their
    counts and reopen the resolved group.
    """
    seeded = ErrorGroup.objects.filter(context__seeded_by=SEEDED["seeded_by"])
    if seeded.exists():
        return (
            f"Error groups: the demo's {seeded.count()} exist already, "
            f"{ErrorGroup.objects.count()} in all."
        )
    keys = [
        *(_capture(lambda: failures.average_line_total([]), "error") for _ in "123"),
        _capture(lambda: failures.exchange_rate("XYZ"), "warning"),
        _capture(lambda: failures.exchange_rate("GBP"), "warning"),
        _capture(lambda: failures.charge_card(1042), "critical"),
        _low_stock("oat milk", 2),
        _low_stock("paper cups", 15),
        _capture(lambda: failures.decode_legacy_link(b"/caf\xe9/"), "warning"),
    ]
    resolved = _capture(lambda: failures.send_receipt(1041), "error")
    regressed = _capture(lambda: failures.export_orders("/srv/exports/a.csv"), "error")
    if not all(keys) or not resolved or not regressed:
        return 'Error groups: none recorded, error capture is off (PRODKIT["ERRORS"]).'
    if not errors.flush():
        return "Error groups: not stored within 10 s, see the log."
    ErrorGroup.objects.filter(fingerprint__in=[resolved, regressed]).update(
        status=ErrorGroup.Status.RESOLVED, resolved_at=timezone.now()
    )
    ErrorGroup.objects.filter(fingerprint=keys[-1]).update(
        status=ErrorGroup.Status.IGNORED
    )
    # It fails again after it was resolved: the writer reopens it as a regression.
    _capture(lambda: failures.export_orders("/srv/exports/b.csv"), "error")
    if not errors.flush():
        return "Error groups: not stored within 10 s, see the log."
    groups = list(seeded.values_list("severity", "status", "times_regressed"))
    severities = Counter(severity for severity, _status, _times in groups)
    statuses = Counter(status for _severity, status, _times in groups)
    by_severity = ", ".join(
        f"{severities[name]} {name}" for name in ErrorGroup.Severity.values
    )
    return (
        f"Error groups: {len(groups)} recorded ({by_severity}), "
        f"{statuses[ErrorGroup.Status.RESOLVED]} resolved, "
        f"{sum(1 for *_rest, times in groups if times)} regressed, "
        f"{statuses[ErrorGroup.Status.IGNORED]} ignored; "
        f"{ErrorGroup.objects.count()} in all."
    )


# Each step creates or updates one kind of demo data and returns a summary line. The
# capabilities that bring demo models append their step here.
STEPS: list[Callable[[], str]] = [health_history, notes, orders]
# Steps whose rows another thread writes run after STEPS' transaction has committed:
# prodkit stores error groups from its writer thread, on a connection of its own, which
# would wait for that transaction's locks while the step waited for the writer.
STEPS_AFTER_COMMIT: list[Callable[[], str]] = [error_groups]
