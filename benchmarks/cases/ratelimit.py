"""Rate limiting: prodkit's ``RateLimitMiddleware`` against bare Django, one Redis ``PING``
and django-ratelimit's ``@ratelimit`` decorator, all on the same Redis.

Every case runs behind startproject's 7 default middleware classes, with a django-redis
cache at ``REDIS_URL`` (default ``redis://127.0.0.1:6379/14``); without a Redis there the
benchmark is skipped. prodkit's middleware sits right after ``AuthenticationMiddleware``,
as its docs ask. Limits are far above what a run sends (``100000000/m``), so every request
is admitted and counted; each case checks that before and after timing. A reference case
replaces the Redis call of prodkit's sliding backend with a canned reply, which leaves
prodkit's own CPU cost per request.

Before timing, each case also sends a batch of requests under counters: Redis round trips
and the commands sent (redis-py's ``send_packed_command`` and ``send_command``, exact, this
process only), and the commands Redis ran, scripts' own calls included (``INFO
commandstats``, server-wide: the batch is repeated when another client was active).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks.cases.request_id import DEFAULT_MIDDLEWARE
from benchmarks.counters import counting, redacted
from benchmarks.harness import Benchmark, Case, RoundStats, Send
from benchmarks.report import markdown, signed

URLCONF = __name__
MIDDLEWARE = "django_prodkit.ratelimit.RateLimitMiddleware"
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
# Every key the benchmark writes starts with it: cleared at the start and the end of a
# run, so nothing else in the database is touched.
KEY_PREFIX = "prodkit-bench-ratelimit"
LIMIT = 100_000_000
PERIOD = 60
RATE = f"{LIMIT}/m"
STATIC_URL = "/static/"

JSON_PATH = "/json/"
PING_PATH = "/ping/"
DECORATED_PATH = "/decorated/"
DECORATED_3_PATH = "/decorated-3/"
EXEMPT_PATH = STATIC_URL + "json/"

COUNTED_REQUESTS = 100  # per case, after a warm-up, before timing
WARM_UP = 3
COUNT_ATTEMPTS = 3  # batches tried until no other Redis client was active during one


def _unreachable() -> str | None:
    """Why the benchmark cannot run here, or None when Redis answers."""
    for module in ("django_redis", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (install the 'redis' extra)"
    import redis

    client = redis.Redis.from_url(
        REDIS_URL, socket_connect_timeout=0.5, socket_timeout=0.5
    )
    try:
        client.ping()
    except redis.RedisError as error:
        return f"no Redis at {redacted(REDIS_URL)} ({type(error).__name__}: {error}); set REDIS_URL"
    finally:
        client.close()
    return None


SKIP = _unreachable()

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": KEY_PREFIX,
    }
}


def _prodkit(algorithm: str, *rules: dict[str, object]) -> dict[str, object]:
    return {"RATELIMIT": {"ALGORITHM": algorithm, "RULES": list(rules)}}


def _settings(prodkit: Mapping[str, object]) -> dict[str, object]:
    # Every case carries the same keys, so that all of them pay the same refill when a
    # visit's override_settings() begins. CACHES goes here rather than into the
    # benchmark's global settings, which other benchmarks of the same process share.
    return {
        "ROOT_URLCONF": URLCONF,
        "CACHES": CACHES,
        "RATELIMIT_USE_CACHE": "default",
        "STATIC_URL": STATIC_URL,
        "PRODKIT": prodkit,
    }


NO_PRODKIT = _settings({})
SLIDING_1 = _settings(_prodkit("sliding", {"NAME": "c-site", "RATE": RATE}))
SLIDING_3 = _settings(
    _prodkit(
        "sliding",
        {"NAME": "d-site", "RATE": RATE},
        {"NAME": "d-json", "PATH": JSON_PATH, "RATE": RATE},
        {"NAME": "d-get", "REGEX": r"^/json/$", "METHODS": ["GET"], "RATE": RATE},
    )
)
FIXED_1 = _settings(_prodkit("fixed", {"NAME": "e-site", "RATE": RATE}))
NOT_MATCHING = _settings(
    _prodkit(
        "sliding",
        {"NAME": "i-api", "PATH": "/api/", "RATE": RATE},
        {"NAME": "i-login", "PATH": "/accounts/login/", "RATE": RATE},
        {"NAME": "i-admin", "REGEX": r"^/admin/", "RATE": RATE},
    )
)


# --- urlconf and views -------------------------------------------------------------------

# Filled in by build(), after django.setup().
urlpatterns: list[Any] = []
_redis_connection: list[Callable[[str], Any]] = []  # django_redis.get_redis_connection


def ping_view(request: Any) -> Any:
    """One redis-py ``PING`` on the django-redis client: the 1-round-trip reference."""
    from django.http import JsonResponse

    _redis_connection[0]("default").ping()
    return JsonResponse({"ok": True})


def _fill_urlconf() -> None:
    from django.urls import path
    from django.utils.module_loading import import_string
    from django_ratelimit.decorators import ratelimit

    from benchmarks import project

    _redis_connection[:] = [import_string("django_redis.get_redis_connection")]

    view = project.json_view
    decorated = ratelimit(group="f", key="ip", rate=RATE)(view)
    decorated_3 = view
    for group in ("g3", "g2", "g1"):
        decorated_3 = ratelimit(group=group, key="ip", rate=RATE)(decorated_3)
    urlpatterns[:] = [
        path(route.lstrip("/"), target)
        for route, target in (
            (JSON_PATH, view),
            (EXEMPT_PATH, view),
            (PING_PATH, ping_view),
            (DECORATED_PATH, decorated),
            (DECORATED_3_PATH, decorated_3),
        )
    ]


# --- counters ----------------------------------------------------------------------------


def _command_name(value: object) -> str:
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.upper()


@contextmanager
def _client_counters(events: Counter[str]) -> Iterator[None]:
    """Round trips and the commands this process sends, a pipeline counting once."""
    from redis.connection import AbstractConnection

    def round_trip(*args: Any) -> None:
        events["round_trips"] += 1

    def command(*args: Any) -> None:
        events[_command_name(args[0])] += 1

    def commands(batch: Sequence[Sequence[Any]]) -> None:
        for item in batch:
            events[_command_name(item[0])] += 1

    with ExitStack() as stack:
        stack.enter_context(
            counting(AbstractConnection, "send_packed_command", round_trip)
        )
        stack.enter_context(counting(AbstractConnection, "send_command", command))
        stack.enter_context(counting(AbstractConnection, "pack_commands", commands))
        yield


class _Server:
    """``INFO commandstats`` and the other clients' activity, on a connection of its own."""

    def __init__(self) -> None:
        import redis

        self.client = redis.Redis.from_url(REDIS_URL)
        self.own_id = int(self.client.client_id())
        self.db = int(self.client.connection_pool.connection_kwargs.get("db", 0))

    def commandstats(self) -> Counter[str]:
        stats = self.client.info("commandstats")
        return Counter(
            {
                name.removeprefix("cmdstat_"): int(value["calls"])
                for name, value in stats.items()
            }
        )

    def others_active(self, seconds: float) -> bool:
        """Whether a client outside this database may have sent a command lately."""
        # CLIENT LIST's idle is in whole seconds since the client's last command; every
        # connection of this run uses this database.
        window = math.ceil(seconds) + 1
        for client in self.client.client_list():
            if int(client["id"]) == self.own_id or int(client["db"]) == self.db:
                continue
            if int(client["idle"]) <= window:
                return True
        return False

    def clear(self) -> int:
        """Delete every key of the benchmark (and nothing else); return how many."""
        keys = list(self.client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.client.unlink(*keys[start : start + 500])
        return len(keys)

    def sizes(self) -> dict[str, int]:
        """Sorted-set sizes of the sliding logs, by key."""
        sizes = {}
        for key in self.client.scan_iter(match=f"{KEY_PREFIX}:*prodkit:rl:*"):
            text = key.decode()
            sizes[text.split("prodkit:rl:", 1)[1]] = int(self.client.zcard(key))
        return sizes


# The reading connection's own commands, left out of the server's counts.
_OWN_COMMANDS = {"info", "client|list", "client|id"}

# Per-request counts by case key, filled in when each case is first verified.
COUNTS: dict[str, dict[str, Any]] = {}
_servers: list[_Server] = []


def _count(send: Send) -> dict[str, Any]:
    for _ in range(WARM_UP):  # NOSCRIPT and script load, first key of a window
        send()
    server = _servers[0]
    attempts = 0
    while True:
        attempts += 1
        events: Counter[str] = Counter()
        before = server.commandstats()
        started = time.monotonic()
        with _client_counters(events):
            for _ in range(COUNTED_REQUESTS):
                response = send()
                assert response.status.startswith("200"), response.status
        elapsed = time.monotonic() - started
        run = server.commandstats() - before
        quiet = not server.others_active(elapsed)
        if quiet or attempts == COUNT_ATTEMPTS:
            break
    round_trips = events.pop("round_trips", 0)
    return {
        "round_trips": round_trips / COUNTED_REQUESTS,
        "sent": {
            name: value / COUNTED_REQUESTS for name, value in sorted(events.items())
        },
        "server": {
            name: value / COUNTED_REQUESTS
            for name, value in sorted(run.items())
            if name not in _OWN_COMMANDS
        },
        "server_quiet": quiet,
        "attempts": attempts,
    }


# --- verification ------------------------------------------------------------------------

_ITEM = re.compile(r'"([^"]+)";r=(\d+);t=(\d+)')


def _remaining(headers: Mapping[str, str]) -> dict[str, int]:
    return {
        name: int(remaining)
        for name, remaining, _ in _ITEM.findall(headers.get("ratelimit", ""))
    }


def _prodkit_headers(rules: Sequence[str], *, exact: bool) -> Callable[[Send], None]:
    """Two requests: the policy of ``rules``, and one fewer remaining on the second."""
    policy = ", ".join(f'"{rule}";q={LIMIT};w={PERIOD}' for rule in rules)

    def check(send: Send) -> None:
        first, second = send().headers, send().headers
        for headers in (first, second):
            assert "x-frame-options" in headers, headers
            assert headers.get("ratelimit-policy") == policy, headers
        before, after = _remaining(first), _remaining(second)
        assert list(before) == list(after) == list(rules), (first, second)
        for rule in rules:
            # A fixed window may start between the two requests.
            fresh = not exact and after[rule] == LIMIT - 1
            assert after[rule] == before[rule] - 1 or fresh, (rule, first, second)

    return check


def _no_headers(send: Send) -> None:
    headers = send().headers
    assert "x-frame-options" in headers, headers
    assert "ratelimit" not in headers, headers
    assert "ratelimit-policy" not in headers, headers


def _expect(
    key: str,
    check: Callable[[Send], None],
    *,
    round_trips: float,
    sent: str | None,
) -> Callable[[Send], None]:
    """A verifier: ``check`` each time, and the counted batch (before timing) must show
    ``round_trips`` per request, each one a ``sent`` command."""

    def verify(send: Send) -> None:
        check(send)
        if key in COUNTS:
            return
        counts = COUNTS[key] = _count(send)
        # A fixed window that starts within the batch saves a round trip (SET NX wins).
        slack = 2 / COUNTED_REQUESTS if sent == "EVAL" else 0
        assert round_trips - slack <= counts["round_trips"] <= round_trips, (
            key,
            counts,
        )
        expected_commands = {"SET", "EVAL"} if sent == "EVAL" else {sent}
        assert set(counts["sent"]) == (expected_commands if round_trips else set()), (
            key,
            counts,
        )

    return verify


class _CannedScript:
    """Stands in for the sliding script: admitted, one more request counted each call."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, client: Any, keys: Sequence[str], args: Sequence[object]) -> Any:
        self.count += 1
        return [1, *[self.count, PERIOD * 1_000_000] * len(keys)]


@contextmanager
def _canned_script() -> Iterator[None]:
    """Replace the Redis call of prodkit's sliding backend, and only that, for a visit."""
    from django_prodkit.ratelimit import backends

    original = backends.SLIDING_SCRIPT
    backends.SLIDING_SCRIPT = _CannedScript()  # type: ignore[assignment]
    try:
        yield
    finally:
        backends.SLIDING_SCRIPT = original


def build() -> list[Case]:
    _fill_urlconf()
    _servers.append(_Server())
    _servers[0].clear()
    default = list(DEFAULT_MIDDLEWARE)
    # Right after AuthenticationMiddleware, as prodkit's docs ask.
    at = default.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
    prodkit = [*default[:at], MIDDLEWARE, *default[at:]]
    return [
        Case(
            key="a",
            label="bare Django JSON view, default MIDDLEWARE (7 classes)",
            middleware=default,
            settings=NO_PRODKIT,
            verify=_expect("a", _no_headers, round_trips=0, sent=None),
        ),
        Case(
            key="b",
            label="ref: (a) + one redis-py PING in the view (1 round trip)",
            middleware=default,
            settings=NO_PRODKIT,
            environ={"PATH_INFO": PING_PATH},
            verify=_expect("b", _no_headers, round_trips=1, sent="PING"),
        ),
        Case(
            key="c",
            label="prodkit RateLimitMiddleware, sliding, 1 rule (key ip)",
            middleware=prodkit,
            settings=SLIDING_1,
            verify=_expect(
                "c",
                _prodkit_headers(["c-site"], exact=True),
                round_trips=1,
                sent="EVALSHA",
            ),
        ),
        Case(
            key="d",
            label="prodkit RateLimitMiddleware, sliding, 3 matching rules",
            middleware=prodkit,
            settings=SLIDING_3,
            verify=_expect(
                "d",
                _prodkit_headers(["d-site", "d-json", "d-get"], exact=True),
                round_trips=1,
                sent="EVALSHA",
            ),
        ),
        Case(
            key="e",
            label="prodkit RateLimitMiddleware, fixed (django-ratelimit's core), 1 rule",
            middleware=prodkit,
            settings=FIXED_1,
            verify=_expect(
                "e",
                _prodkit_headers(["e-site"], exact=False),
                round_trips=2,
                sent="EVAL",
            ),
        ),
        Case(
            key="f",
            label='django-ratelimit @ratelimit(key="ip"), same Redis',
            middleware=default,
            settings=NO_PRODKIT,
            environ={"PATH_INFO": DECORATED_PATH},
            verify=_expect("f", _no_headers, round_trips=2, sent="EVAL"),
        ),
        Case(
            key="g",
            label="django-ratelimit, 3 stacked @ratelimit decorators",
            middleware=default,
            settings=NO_PRODKIT,
            environ={"PATH_INFO": DECORATED_3_PATH},
            verify=_expect("g", _no_headers, round_trips=6, sent="EVAL"),
        ),
        Case(
            key="h",
            label=f"(c) on an exempt path ({EXEMPT_PATH}, under STATIC_URL)",
            middleware=prodkit,
            settings=SLIDING_1,
            environ={"PATH_INFO": EXEMPT_PATH},
            verify=_expect("h", _no_headers, round_trips=0, sent=None),
        ),
        Case(
            key="i",
            label="prodkit RateLimitMiddleware, 3 rules, none matching the path",
            middleware=prodkit,
            settings=NOT_MATCHING,
            verify=_expect("i", _no_headers, round_trips=0, sent=None),
        ),
        Case(
            key="j",
            label="ref: (c) with a canned script reply instead of Redis (prodkit's CPU)",
            middleware=prodkit,
            settings=SLIDING_1,
            context=_canned_script,
            verify=_expect(
                "j",
                _prodkit_headers(["c-site"], exact=True),
                round_trips=0,
                sent=None,
            ),
        ),
    ]


# --- the extra report --------------------------------------------------------------------


def _commands(counts: Mapping[str, float]) -> str:
    if not counts:
        return "—"
    return ", ".join(f"{name.lower()} {value:g}" for name, value in counts.items())


def _paired(
    stats: Mapping[str, list[RoundStats]],
    key: str,
    how: Callable[[float, float, float], float],
) -> float:
    """The median over rounds of ``how(p50 of key, p50 of (a), p50 of (b))``."""
    rounds = zip(stats[key], stats["a"], stats["b"], strict=True)
    return statistics.median(how(x.p50_us, a.p50_us, b.p50_us) for x, a, b in rounds)


def _in_pings(x: float, a: float, b: float) -> float:
    return (x - a) / (b - a)


def _over_ping(x: float, a: float, b: float) -> float:
    return (x - a) - (b - a)


def extra(
    cases: Sequence[Case], stats: Mapping[str, list[RoundStats]]
) -> tuple[str, dict[str, object]]:
    """Deltas in PING round trips, and the per-request Redis counts."""
    server = _servers.pop() if _servers else None
    sizes = server.sizes() if server is not None else {}
    if server is not None:
        server.clear()
        server.client.close()
    header = [
        "case",
        "p50 µs",
        "Δ vs (a) µs",
        "Δ / Δ(b)",
        "Δ − Δ(b) µs",
        "Redis RTs",
        "sent",
        "Redis ran (INFO commandstats)",
    ]
    body: list[list[str]] = []
    data: dict[str, object] = {}
    for case in cases:
        p50 = statistics.median(item.p50_us for item in stats[case.key])
        delta = _paired(stats, case.key, lambda x, a, b: x - a)
        in_pings = _paired(stats, case.key, _in_pings)
        over_ping = _paired(stats, case.key, _over_ping)
        counts = COUNTS.get(case.key, {})
        server_note = "" if counts.get("server_quiet", True) else " (other clients)"
        body.append(
            [
                f"({case.key}) {case.label}",
                f"{p50:,.1f}",
                "—" if case.key == "a" else signed(delta),
                "—" if case.key == "a" else f"{in_pings:.2f}".replace("-", "−"),
                signed(over_ping) if counts.get("round_trips") else "—",
                f"{counts.get('round_trips', float('nan')):g}",
                _commands(counts.get("sent", {})),
                _commands(counts.get("server", {})) + server_note,
            ]
        )
        data[case.key] = {
            "delta_vs_bare_us": round(delta, 3),
            "delta_in_ping_round_trips": round(in_pings, 4),
            "delta_over_ping_us": round(over_ping, 3),
            "per_request": counts,
        }
    text = "\n".join(
        [
            f"cache: django-redis at {redacted(REDIS_URL)}, KEY_PREFIX {KEY_PREFIX!r}; "
            f"limits {RATE}, never reached.",
            f"Counts are per request, over {COUNTED_REQUESTS} requests per case after "
            f"{WARM_UP} warm-up ones, before timing. Δ / Δ(b): the case's cost over (a) in "
            "units of (b)'s, one PING round trip; Δ − Δ(b): what a case that makes round trips costs beyond one. "
            "Both paired per round, median over rounds.",
            "",
            markdown(header, body),
            "",
            "Redis RTs: redis-py send_packed_command calls, one per round trip. "
            "sent: the commands this process sent (send_command, pack_commands). "
            "Redis ran: INFO commandstats deltas, commands called by scripts included; "
            "server-wide, so the batch is repeated (up to "
            f"{COUNT_ATTEMPTS} times) while another database's client was active.",
            f"Sliding-log sizes at the end (entries in the last {PERIOD} s): "
            + (
                ", ".join(f"{key} {size:,}" for key, size in sorted(sizes.items()))
                or "none"
            )
            + ".",
            "",
            _t2(stats),
        ]
    )
    return text, {
        "cache": redacted(REDIS_URL),
        "counted_requests": COUNTED_REQUESTS,
        "sliding_log_sizes": sizes,
        "cases": data,
    }


def _t2(stats: Mapping[str, list[RoundStats]]) -> str:
    """Target T2 of the performance baselines on (c), (d), (h) and (i)."""
    lines = []
    for key in ("c", "d"):
        in_pings = _paired(stats, key, _in_pings)
        over_ping = _paired(stats, key, _over_ping)
        round_trips = COUNTS.get(key, {}).get("round_trips")
        peer = "f" if key == "c" else "g"
        vs_peer = statistics.median(
            (x.p50_us - a.p50_us) / (p.p50_us - a.p50_us)
            for x, a, p in zip(stats[key], stats["a"], stats[peer], strict=True)
        )
        lines.append(
            f"T2 on ({key}): 1 round trip {'yes' if round_trips == 1 else 'NO'}; "
            f"Δ = {in_pings:.2f} × Δ(b) ({'≤' if in_pings <= 1.5 else '>'} 1.5); "
            f"Δ − Δ(b) = {signed(over_ping)} µs "
            f"({'≤' if over_ping <= 15 else '>'} 15 µs); "
            f"Δ = {vs_peer:.2f} × Δ({peer}), django-ratelimit's."
        )
    exempt = [COUNTS.get(key, {}).get("round_trips") for key in ("h", "i")]
    lines.append(
        "T2 on (h) exempt and (i) no rule matching: 0 round trips "
        f"{'yes' if exempt == [0, 0] else 'NO'}."
    )
    return "\n".join(lines)


SPEC = Benchmark(
    name="ratelimit",
    title="Rate limiting: prodkit vs bare Django, one PING and django-ratelimit",
    baseline="a",
    installed_apps=["django_prodkit"],
    distributions=["django-prodkit", "django-ratelimit", "django-redis", "redis"],
    build=build,
    extra=extra,
    skip=SKIP,
)
