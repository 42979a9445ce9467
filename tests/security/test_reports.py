from __future__ import annotations

import json

import pytest

from django_prodkit.security.reports import BadReport, normalise_uri, parse


@pytest.mark.parametrize(
    ("uri", "normalised"),
    [
        ("https://a.example/p?q=1#f", "https://a.example/p"),
        ("https://user:pw@a.example:8443/p", "https://a.example:8443/p"),
        ("wss://a.example/socket?token=x", "wss://a.example/socket"),
        ("//a.example/x.js?v=1", "//a.example/x.js"),
        (
            "chrome-extension://abcdef/inject.js?x",
            "chrome-extension://abcdef/inject.js",
        ),
        ("data:image/png;base64,AAAA", "data"),
        ("blob:https://a.example/8f3c", "blob"),
        ("about:blank?x#y", "about:blank"),
        ("inline", "inline"),
        ("eval", "eval"),
        ("/relative/path?secret=1", "/relative/path"),
        ("https://[::1/broken?x", "https://[::1/broken"),
        ("  https://a.example/  ", "https://a.example/"),
        (None, ""),
        (42, ""),
    ],
)
def test_normalise_uri(uri, normalised):
    assert normalise_uri(uri) == normalised


def test_line_numbers_are_tolerant():
    def line(value):
        report = {
            "csp-report": {"effective-directive": "img-src", "line-number": value}
        }
        [violation] = parse("application/csp-report", json.dumps(report).encode())
        return violation.line_number

    assert [line(v) for v in (7, "7", -1, "x", True, 2**40, None)] == [
        7,
        7,
        None,
        None,
        None,
        None,
        None,
    ]


def test_fingerprint_ignores_what_is_not_grouped():
    def violation(**extra):
        report = {
            "effective-directive": "img-src",
            "blocked-uri": "https://a.example/i.png",
            "document-uri": "https://shop.example/",
            **extra,
        }
        return parse(
            "application/csp-report", json.dumps({"csp-report": report}).encode()
        )[0]

    base = violation()
    assert violation(**{"line-number": 9}).fingerprint == base.fingerprint
    assert violation(**{"blocked-uri": "https://a.example/i.png?v=2"}).fingerprint == (
        base.fingerprint
    )
    assert violation(**{"blocked-uri": "https://b.example/i.png"}).fingerprint != (
        base.fingerprint
    )
    assert violation(disposition="report").fingerprint != base.fingerprint


def test_sample_drops_nested_values_and_truncates_text():
    report = {
        "effective-directive": "img-src",
        "script-sample": "x" * 5000,
        "nested": {"a": 1},
        "password": "hunter2",
    }
    [violation] = parse(
        "application/csp-report", json.dumps({"csp-report": report}).encode()
    )
    assert violation.sample["script-sample"] == "x" * 1000
    assert "nested" not in violation.sample
    assert violation.sample["password"] == "********"


def test_bad_report_is_a_value_error():
    with pytest.raises(BadReport):
        parse("application/reports+json", b'{"not": "a list"}')
    assert issubclass(BadReport, ValueError)


@pytest.mark.django_db
def test_a_group_created_by_another_process_meanwhile_is_counted():
    """The first UPDATE finds nothing, another process INSERTs, our INSERT then fails."""
    from django.db import connection

    from django_prodkit.security.models import CSPReport
    from django_prodkit.security.reports import record

    report = {"csp-report": {"effective-directive": "img-src", "blocked-uri": "x"}}
    [violation] = parse("application/csp-report", json.dumps(report).encode())
    state = {"raced": False}

    def other_process_inserts(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("UPDATE") and not state["raced"]:
            state["raced"] = True
            CSPReport.objects.create(
                fingerprint=violation.fingerprint,
                directive="img-src",
                disposition="enforce",
                count=5,
            )
        return result

    with connection.execute_wrapper(other_process_inserts):
        assert record([violation]) == 1

    assert state["raced"]
    assert CSPReport.objects.get().count == 6
