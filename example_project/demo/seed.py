"""Demo data for ``manage.py seed_demo``; every step can run any number of times."""

from __future__ import annotations

import dataclasses
import secrets
from collections import Counter
from collections.abc import Callable

from django.contrib.auth import get_user_model

from demo.models import Note, Order
from django_prodkit.health.history import record

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


# Each step creates or updates one kind of demo data and returns a summary line. The
# capabilities that bring demo models append their step here.
STEPS: list[Callable[[], str]] = [health_history, notes, orders]
