from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.urls import clear_script_prefix, set_script_prefix

from django_prodkit import conf
from django_prodkit.ratelimit.core import get_limiter
from django_prodkit.ratelimit.rules import (
    PRESETS,
    Rule,
    compile_rules,
    exempt_prefixes,
    parse_rate,
)
from tests.ratelimit.unit_helpers import ratelimit_options

HERE = __name__
NOT_CALLABLE = "a string"


def plan_rate(request):
    """A plan tier per request, as a project would look it up on the account."""
    return {
        "gold": "10/m",
        "silver": "strict",
        "bronze": (7, 30),
    }.get(request.META.get("HTTP_X_PLAN", ""))


def tenant_key(request):
    return request.META.get("HTTP_X_TENANT") or None


def compile_one(**rule: object) -> Rule:
    rules, problems = compile_rules(ratelimit_options(RULES=[{"NAME": "r", **rule}]))
    assert problems == []
    [compiled] = rules
    return compiled


def problems_of(*rules: dict[str, object], **section: object) -> list[str]:
    return compile_rules(ratelimit_options(RULES=list(rules), **section))[1]


# parse_rate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/m", (100, 60)),
        ("5/10s", (5, 10)),
        ("1/s", (1, 1)),
        ("3/h", (3, 3600)),
        ("2/d", (2, 86400)),
        ("10/2M", (10, 120)),
        (" 10 / 15 m ", (10, 900)),
        ("0/m", (0, 60)),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "text", ["", "lots", "100", "100/", "100/x", "/m", "-1/m", "1.5/m", "100/m/s"]
)
def test_parse_rate_refuses_what_is_not_a_rate(text):
    with pytest.raises(ValueError, match=r"is not a rate: write COUNT/PERIOD"):
        parse_rate(text)


def test_parse_rate_refuses_a_zero_period():
    with pytest.raises(ValueError, match=r"'5/0s' has a period of zero seconds"):
        parse_rate("5/0s")


# presets


def test_builtin_presets():
    assert {name: parse_rate(rate) for name, rate in PRESETS.items()} == {
        "strict": (10, 60),
        "standard": (100, 60),
        "lenient": (500, 60),
        "webhook": (1000, 60),
    }
    assert compile_one(RATE="lenient").rate == (500, 60)


def test_default_rate_is_the_standard_preset():
    assert compile_one().rate == (100, 60)


def test_presets_can_be_overridden_and_added():
    options = ratelimit_options(
        PRESETS={"strict": "3/m", "gold": "1000/h"},
        RULES=[
            {"NAME": "a", "RATE": "strict"},
            {"NAME": "b", "RATE": "gold"},
            {"NAME": "c", "RATE": "webhook"},
        ],
    )
    rules, problems = compile_rules(options)
    assert problems == []
    assert [rule.rate for rule in rules] == [(3, 60), (1000, 3600), (1000, 60)]


def test_bad_preset_is_a_problem():
    problems = problems_of(PRESETS={"gold": "lots"})
    assert problems == [
        "PRODKIT['RATELIMIT']['PRESETS']['gold']: 'lots' is not a rate: write "
        "COUNT/PERIOD such as '100/m' or '5/10s'."
    ]


# compile_rules problems


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ({"PATH": "/api/"}, "PRODKIT['RATELIMIT']['RULES'][0] has no NAME."),
        (
            {"NAME": "two words"},
            "NAME 'two words' must be 1-64 letters, digits, '_', '.' or '-'.",
        ),
        ({"NAME": "x" * 65}, "must be 1-64 letters"),
        ({"NAME": "r", "PATH": "api/"}, "PATH 'api/' must start with '/'."),
        ({"NAME": "r", "REGEX": "(unclosed"}, "REGEX '(unclosed' does not compile"),
        ({"NAME": "r", "KEY": "cookie"}, "KEY 'cookie' must be 'ip', 'user'"),
        (
            {"NAME": "r", "KEY": "header:"},
            "KEY 'header:' does not name an HTTP header.",
        ),
        (
            {"NAME": "r", "KEY": "header:X Api"},
            "KEY 'header:X Api' does not name an HTTP header.",
        ),
        (
            {"NAME": "r", "KEY": "nowhere.key_function"},
            "KEY 'nowhere.key_function' does not import",
        ),
        (
            {"NAME": "r", "KEY": f"{HERE}.NOT_CALLABLE"},
            f"KEY '{HERE}.NOT_CALLABLE' is not callable.",
        ),
        (
            {"NAME": "r", "RATE": "nowhere.rate_function"},
            "RATE 'nowhere.rate_function' does not import",
        ),
        (
            {"NAME": "r", "RATE": f"{HERE}.NOT_CALLABLE"},
            f"RATE '{HERE}.NOT_CALLABLE' is not callable.",
        ),
        (
            {"NAME": "r", "RATE": "lots"},
            "RATE 'lots' is neither a rate like '100/m', a preset (lenient, standard, strict, webhook) nor a dotted path",
        ),
        ({"NAME": "r", "RATE": "10/x"}, "RATE '10/x' is neither a rate"),
        ({"NAME": "r", "RATE": "1.5/m"}, "RATE '1.5/m' is neither a rate"),
    ],
)
def test_every_bad_field_is_a_problem(rule, problem):
    rules, problems = compile_rules(ratelimit_options(RULES=[rule]))
    assert rules == ()
    [found] = problems
    assert problem in found
    assert found.startswith("PRODKIT['RATELIMIT']['RULES'][0]")


def test_duplicate_name_is_a_problem_and_good_rules_survive():
    rules, problems = compile_rules(
        ratelimit_options(
            RULES=[
                {"NAME": "api", "PATH": "/api/"},
                {"NAME": "login", "PATH": "/login/"},
                {"NAME": "api", "PATH": "/v2/"},
            ]
        )
    )
    assert [rule.name for rule in rules] == ["api", "login"]
    assert problems == [
        "PRODKIT['RATELIMIT']['RULES'][2]: the name 'api' is used by an earlier rule."
    ]


def test_all_problems_of_a_rule_are_reported_together():
    problems = problems_of({"PATH": "nope", "KEY": "cookie", "RATE": "lots"})
    assert len(problems) == 4


# matching


@pytest.mark.parametrize(
    ("rule", "path", "method", "matches"),
    [
        ({}, "/anything/", "GET", True),
        ({"PATH": "/api/"}, "/api/items/", "GET", True),
        ({"PATH": "/api/"}, "/apiary/", "GET", False),
        ({"PATH": "/api/"}, "/v1/api/", "GET", False),
        ({"REGEX": r"^/users/\d+/login/$"}, "/users/42/login/", "POST", True),
        ({"REGEX": r"^/users/\d+/login/$"}, "/users/me/login/", "POST", False),
        ({"REGEX": r"/export/"}, "/reports/export/csv/", "GET", True),
        ({"METHODS": ["post", "PUT"]}, "/x/", "POST", True),
        ({"METHODS": ["post", "PUT"]}, "/x/", "PUT", True),
        ({"METHODS": ["post", "PUT"]}, "/x/", "GET", False),
        (
            {"PATH": "/api/", "REGEX": "/orders/", "METHODS": ["POST"]},
            "/api/orders/",
            "POST",
            True,
        ),
        (
            {"PATH": "/api/", "REGEX": "/orders/", "METHODS": ["POST"]},
            "/shop/orders/",
            "POST",
            False,
        ),
        (
            {"PATH": "/api/", "REGEX": "/orders/", "METHODS": ["POST"]},
            "/api/users/",
            "POST",
            False,
        ),
        (
            {"PATH": "/api/", "REGEX": "/orders/", "METHODS": ["POST"]},
            "/api/orders/",
            "GET",
            False,
        ),
    ],
)
def test_matching(rule, path, method, matches):
    assert compile_one(**rule).matches(path, method) is matches


# rates as functions of the request


@pytest.mark.parametrize(
    ("plan", "expected"),
    [("gold", (10, 60)), ("silver", (3, 60)), ("bronze", (7, 30)), ("", None)],
)
def test_rate_function_gives_plan_tiers(rf, settings, plan, expected):
    settings.PRODKIT = {"RATELIMIT": {"PRESETS": {"strict": "3/m"}}}
    rule = compile_one(RATE=f"{HERE}.plan_rate")
    assert rule.rate_for(rf.get("/", HTTP_X_PLAN=plan)) == expected


def test_fixed_rate_is_the_same_for_every_request(rf):
    rule = compile_one(RATE="5/10s")
    assert rule.rate_for(rf.get("/", HTTP_X_PLAN="gold")) == (5, 10)


# keys


def test_ip_key(rf):
    rule = compile_one(KEY="ip")
    assert rule.key(rf.get("/", REMOTE_ADDR="203.0.113.7")) == "ip:203.0.113.7"
    assert not rule.needs_user


def test_ip_key_groups_ipv6_by_64_and_follows_the_prefixes(rf):
    request = rf.get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    assert compile_one().key(request) == "ip:2001:db8:1:2::/64"
    rules, _ = compile_rules(
        ratelimit_options(IPV4_PREFIX=24, IPV6_PREFIX=128, RULES=[{"NAME": "r"}])
    )
    assert rules[0].key(request) == "ip:2001:db8:1:2:aaaa::1"
    assert rules[0].key(rf.get("/", REMOTE_ADDR="203.0.113.7")) == "ip:203.0.113.0/24"


def test_ip_key_uses_the_client_ip_behind_trusted_proxies(rf, settings):
    settings.PRODKIT = {"CLIENT_IP": {"TRUSTED_PROXIES": ["10.0.0.0/8"]}}
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert compile_one().key(request) == "ip:203.0.113.7"


@pytest.mark.parametrize("name", ["user", "user_or_ip"])
def test_user_key_counts_authenticated_users_by_pk(rf, name):
    rule = compile_one(KEY=name)
    request = rf.get("/", REMOTE_ADDR="203.0.113.7")
    request.user = User(pk=42)
    assert rule.key(request) == "user:42"
    assert rule.needs_user


def test_user_key_counts_anonymous_users_by_address_never_together(rf):
    rule = compile_one(KEY="user")
    keys = set()
    for address in ("203.0.113.7", "198.51.100.1"):
        request = rf.get("/", REMOTE_ADDR=address)
        request.user = AnonymousUser()
        keys.add(rule.key(request))
    assert keys == {"ip:203.0.113.7", "ip:198.51.100.1"}


def test_user_key_without_request_user_falls_back_to_address(rf):
    assert compile_one(KEY="user").key(rf.get("/", REMOTE_ADDR="203.0.113.7")) == (
        "ip:203.0.113.7"
    )


def test_user_key_prefers_the_user_the_middleware_resolved(rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.7")
    request.user = AnonymousUser()
    request._prodkit_user = User(pk=7)
    assert compile_one(KEY="user").key(request) == "user:7"


def test_header_key(rf):
    rule = compile_one(KEY="header:X-Api-Key")
    assert rule.key(rf.get("/", HTTP_X_API_KEY=" k1 ")) == "header:k1"
    assert rule.key(rf.get("/", HTTP_X_API_KEY="k2")) == "header:k2"


@pytest.mark.parametrize("meta", [{}, {"HTTP_X_API_KEY": ""}, {"HTTP_X_API_KEY": "  "}])
def test_header_key_without_the_header_counts_by_address(rf, meta):
    rule = compile_one(KEY="header:X-Api-Key")
    assert rule.key(rf.get("/", REMOTE_ADDR="203.0.113.7", **meta)) == "ip:203.0.113.7"


def test_dotted_key(rf):
    rule = compile_one(KEY=f"{HERE}.tenant_key")
    assert rule.key(rf.get("/", HTTP_X_TENANT="acme")) == "custom:acme"
    assert rule.key(rf.get("/")) is None


def test_rule_whose_key_is_none_is_skipped(rf, settings):
    settings.PRODKIT = {
        "RATELIMIT": {
            "RULES": [{"NAME": "tenant", "KEY": f"{HERE}.tenant_key", "RATE": "1/m"}]
        }
    }
    cache.clear()
    limiter = get_limiter()
    for _ in range(3):
        decision = limiter.decide(rf.get("/"), limiter.rules)
        assert (decision.usages, decision.limited) == ((), False)
    decisions = [
        limiter.decide(rf.get("/", HTTP_X_TENANT="acme"), limiter.rules)
        for _ in range(2)
    ]
    assert [d.limited for d in decisions] == [False, True]


def test_rule_whose_rate_is_none_is_skipped(rf, settings):
    settings.PRODKIT = {
        "RATELIMIT": {"RULES": [{"NAME": "plan", "RATE": f"{HERE}.plan_rate"}]}
    }
    cache.clear()
    limiter = get_limiter()
    assert limiter.decide(rf.get("/"), limiter.rules).usages == ()
    [usage] = limiter.decide(rf.get("/", HTTP_X_PLAN="bronze"), limiter.rules).usages
    assert (usage.limit, usage.period, usage.remaining) == (7, 30, 6)


# exempt paths


def test_exempt_prefixes_default_to_health_static_and_media(settings):
    settings.STATIC_URL = "/static/"
    settings.MEDIA_URL = "/media/"
    assert exempt_prefixes(ratelimit_options()) == ("/health/", "/static/", "/media/")


def test_exempt_prefixes_skip_unset_root_and_absolute_urls(settings):
    settings.STATIC_URL = "https://cdn.example.com/static/"
    settings.MEDIA_URL = ""
    assert exempt_prefixes(ratelimit_options()) == ("/health/",)


def test_exempt_prefixes_without_health_urls(settings):
    settings.ROOT_URLCONF = "django.contrib.auth.urls"
    settings.STATIC_URL = "/assets/"
    assert exempt_prefixes(ratelimit_options()) == ("/assets/",)


def test_exempt_prefixes_match_path_info_under_a_script_name(settings):
    # Deployed under SCRIPT_NAME=/app: reverse() and a relative STATIC_URL include it,
    # the path_info the limiter compares with does not.
    settings.STATIC_URL = "static/"
    settings.MEDIA_URL = "/media/"
    set_script_prefix("/app/")
    try:
        assert exempt_prefixes(ratelimit_options()) == (
            "/health/",
            "/static/",
            "/media/",
        )
    finally:
        clear_script_prefix()


def test_exempt_paths_override_the_defaults(settings):
    settings.MEDIA_URL = "/media/"
    options = ratelimit_options(EXEMPT_PATHS=["/internal/", "/static/"])
    assert exempt_prefixes(options) == ("/internal/", "/static/")
    assert exempt_prefixes(ratelimit_options(EXEMPT_PATHS=[])) == ()


def test_limiter_does_not_match_exempt_paths(rf, settings):
    settings.STATIC_URL = "/static/"
    settings.PRODKIT = {"RATELIMIT": {"RULES": [{"NAME": "all"}]}}
    limiter = get_limiter()
    assert limiter.matching(rf.get("/health/ready/")) == []
    assert limiter.matching(rf.get("/static/app.css")) == []
    assert [rule.name for rule in limiter.matching(rf.get("/api/"))] == ["all"]


# conf parsing of PRODKIT["RATELIMIT"]


def test_typo_in_a_rule_key_is_e001_with_a_suggestion():
    _, problems = conf.parse({"RATELIMIT": {"RULES": [{"NAME": "a", "RAET": "1/m"}]}})
    [problem] = problems
    assert problem.id == "prodkit.E001"
    assert problem.msg == "Unknown setting PRODKIT['RATELIMIT']['RULES'][0]['RAET']."
    assert problem.hint == "Did you mean 'RATE'?"


def test_typo_in_a_section_key_is_e001():
    _, problems = conf.parse({"RATELIMIT": {"RULE": []}})
    assert [(p.id, p.hint) for p in problems] == [
        ("prodkit.E001", "Did you mean 'RULES'?")
    ]


@pytest.mark.parametrize("headers", [["ietf", "bogus"], "ietf", [1]])
def test_bad_headers_value_is_e002(headers):
    _, problems = conf.parse({"RATELIMIT": {"HEADERS": headers}})
    [problem] = problems
    assert problem.id == "prodkit.E002"
    assert problem.msg.startswith("PRODKIT['RATELIMIT']['HEADERS'] must be a list of")


def test_rules_that_are_not_a_list_of_dicts_are_e002():
    _, problems = conf.parse({"RATELIMIT": {"RULES": {"NAME": "a"}}})
    assert [p.id for p in problems] == ["prodkit.E002"]
    _, problems = conf.parse({"RATELIMIT": {"RULES": ["a"]}})
    assert [p.id for p in problems] == ["prodkit.E002"]


def test_empty_rate_is_e002():
    _, problems = conf.parse({"RATELIMIT": {"RULES": [{"NAME": "a", "RATE": " "}]}})
    [problem] = problems
    assert problem.id == "prodkit.E002"
    assert "['RULES'][0]['RATE'] must not be empty" in problem.msg
