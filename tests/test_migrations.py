from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_have_no_missing_migrations():
    out = StringIO()

    call_command("makemigrations", "prodkit", "--check", "--dry-run", stdout=out)

    assert "No changes detected" in out.getvalue()
