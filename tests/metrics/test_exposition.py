from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from django_prodkit.health import Result
from django_prodkit.metrics.exposition import render

ODD_ROUTE = '/^say/"hi"\\there\n$'


def test_label_values_are_escaped_and_parse_back():
    totals = {
        f"http.requests|{ODD_ROUTE}|GET|2xx": 2,
        f"http.duration_us|{ODD_ROUTE}|GET": 1_500,
        f"http.bucket|{ODD_ROUTE}|GET|5": 2,
    }
    text = render(totals)
    assert 'route="/^say/\\"hi\\"\\\\there\\n$"' in text
    [family] = [
        f
        for f in text_string_to_metric_families(text)
        if f.name == "prodkit_http_requests"
    ]
    [sample] = family.samples
    assert sample.labels == {"route": ODD_ROUTE, "method": "GET", "status": "2xx"}


def test_a_route_with_bars_is_split_from_the_right():
    text = render({"http.requests|/^(a|b)/$|GET|2xx": 1})
    assert (
        'prodkit_http_requests_total{route="/^(a|b)/$",method="GET",status="2xx"} 1'
        in text
    )


def test_histogram_lines_are_cumulative_with_sum_and_count():
    totals = {
        "http.requests|/x/|GET|2xx": 3,
        "http.duration_us|/x/|GET": 2_750_000,
        "http.bucket|/x/|GET|5": 1,
        "http.bucket|/x/|GET|250": 1,
        "http.bucket|/x/|GET|inf": 1,
    }
    lines = [
        line
        for line in render(totals).splitlines()
        if line.startswith("prodkit_http_request_duration_seconds")
    ]
    labels = 'route="/x/",method="GET"'
    assert lines == [
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.005"}} 1',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.01"}} 1',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.025"}} 1',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.05"}} 1',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.1"}} 1',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.25"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="0.5"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="1.0"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="2.5"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="5.0"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="10.0"}} 2',
        f'prodkit_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} 3',
        f"prodkit_http_request_duration_seconds_sum{{{labels}}} 2.75",
        f"prodkit_http_request_duration_seconds_count{{{labels}}} 3",
    ]


def test_every_family_has_help_and_type_even_when_empty():
    text = render({})
    for name, kind in (
        ("prodkit_http_requests_total", "counter"),
        ("prodkit_http_request_duration_seconds", "histogram"),
        ("prodkit_slow_queries_total", "counter"),
        ("prodkit_ratelimit_blocked_total", "counter"),
        ("prodkit_errors_total", "counter"),
        ("prodkit_locking_retries_total", "counter"),
    ):
        assert f"# TYPE {name} {kind}\n" in text
        assert f"# HELP {name} " in text
    assert "prodkit_locking_retries_total 0\n" in text
    assert "prodkit_health" not in text
    assert list(text_string_to_metric_families(text))


def test_health_results_become_gauges():
    results = [
        Result(name="database", status="ok", latency_ms=1.5, critical=True),
        Result(name="broker", status="fail", latency_ms=1000.0, critical=False),
    ]
    text = render({}, results)
    assert 'prodkit_health_check_status{check="broker"} 0.0\n' in text
    assert 'prodkit_health_check_status{check="database"} 1.0\n' in text
    assert 'prodkit_health_check_latency_seconds{check="database"} 0.0015\n' in text


def test_unrelated_roll_ups_are_left_out():
    text = render({"errors": 5, "cache.hits.default": 9, "http.requests": 4})
    assert " 5\n" not in text
    assert " 9\n" not in text
    assert " 4\n" not in text
