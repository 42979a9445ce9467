"""Demo data for ``manage.py seed_demo``; every step can run any number of times."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable

from django.contrib.auth import get_user_model

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


# Each step creates or updates one kind of demo data and returns a summary line. The
# capabilities that bring demo models (notes, orders, ...) append their step here.
STEPS: list[Callable[[], str]] = []
