from __future__ import annotations

import pytest

from django_prodkit.scrub import MASK, is_sensitive_key, scrub_text, scrub_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "connection to postgres://app:hunter2@db:5432/x failed",
            f"connection to postgres://app:{MASK}@db:5432/x failed",
        ),
        ("redis://:pw0rd@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("dbname=x password=hunter2 host=db", f"dbname=x password={MASK} host=db"),
        ('{"api_key": "abc123"}', f'{{"api_key": "{MASK}"}}'),
        ("Authorization: Bearer eyJhbGciOi.x.y", f"Authorization: Bearer {MASK}"),
        ("Basic dXNlcjpwYXNz", f"Basic {MASK}"),
        ("nothing to hide here", "nothing to hide here"),
        ("http://example.com/path@x", "http://example.com/path@x"),
    ],
)
def test_scrub_text_masks_secrets(text, expected):
    assert scrub_text(text) == expected


def test_scrub_text_masks_given_secrets_and_the_secret_key(settings):
    settings.SECRET_KEY = "django-insecure-abcdefgh"
    text = "key django-insecure-abcdefgh and tok-123456 in text"
    assert scrub_text(text, "tok-123456", None, "") == f"key {MASK} and {MASK} in text"


def test_short_secrets_are_not_masked_everywhere():
    assert scrub_text("a b c", "a") == "a b c"


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("sessionid", True),
        ("Authorization", True),
        ("csrftoken", True),
        ("used_memory", False),
        ("path", False),
    ],
)
def test_sensitive_keys(key, sensitive):
    assert is_sensitive_key(key) is sensitive


def test_scrub_value_walks_nested_data():
    value = {
        "password": "hunter2",
        "nested": {"dsn": "amqp://u:pw9@h//", "token": 5},
        "items": ["Bearer abc", 3, None],
        1: "numeric key",
    }
    assert scrub_value(value) == {
        "password": MASK,
        "nested": {"dsn": f"amqp://u:{MASK}@h//", "token": MASK},
        "items": [f"Bearer {MASK}", 3, None],
        1: "numeric key",
    }
