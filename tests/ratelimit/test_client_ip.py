from __future__ import annotations

import pytest
from django.core.cache import cache
from django_ratelimit.core import get_usage

from django_prodkit.client_ip import get_client_ip, ip_group

CLIENT = "203.0.113.7"


@pytest.fixture
def proxies(settings):
    """Trust the private 10/8 network as the proxies in front of the app."""

    def trust(*networks: str, **options: object) -> None:
        settings.PRODKIT = {"CLIENT_IP": {"TRUSTED_PROXIES": list(networks), **options}}

    return trust


def ip(rf, remote_addr: str, forwarded: str | None = None, **meta: str) -> str:
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return get_client_ip(rf.get("/", REMOTE_ADDR=remote_addr, **meta))


def test_untrusted_peer_is_the_client(rf):
    assert ip(rf, CLIENT) == CLIENT


def test_spoofed_forwarded_for_from_untrusted_peer_changes_nothing(rf, proxies):
    proxies("10.0.0.0/8")
    assert ip(rf, CLIENT, "198.51.100.1") == CLIENT
    assert ip(rf, CLIENT, "10.0.0.1, 198.51.100.1") == CLIENT


def test_forwarded_for_is_ignored_when_nothing_is_trusted(rf):
    assert ip(rf, "10.0.0.1", CLIENT) == "10.0.0.1"


def test_trusted_proxy_gives_right_most_untrusted_entry(rf, proxies):
    proxies("10.0.0.0/8")
    # The left entry is whatever the client wrote; only the right-most one is vouched for.
    assert ip(rf, "10.0.0.1", f"198.51.100.99, {CLIENT}") == CLIENT


def test_chain_of_trusted_proxies_is_walked_from_the_right(rf, proxies):
    proxies("10.0.0.0/8", "192.0.2.0/24")
    forwarded = f"198.51.100.99, {CLIENT}, 192.0.2.5, 10.1.2.3"
    assert ip(rf, "10.0.0.1", forwarded) == CLIENT


def test_single_trusted_address_without_prefix(rf, proxies):
    proxies("10.0.0.1")
    assert ip(rf, "10.0.0.1", CLIENT) == CLIENT
    assert ip(rf, "10.0.0.2", "198.51.100.1") == "10.0.0.2"


def test_all_hops_trusted_gives_left_most(rf, proxies):
    proxies("10.0.0.0/8")
    assert ip(rf, "10.0.0.1", "10.9.9.9, 10.0.0.2") == "10.9.9.9"


def test_no_forwarded_header_from_trusted_proxy_gives_the_proxy(rf, proxies):
    proxies("10.0.0.0/8")
    assert ip(rf, "10.0.0.1") == "10.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (f"{CLIENT}, not-an-ip", "10.0.0.1"),
        (f"{CLIENT}, not-an-ip, 10.0.0.2", "10.0.0.2"),
        (f"{CLIENT},, 10.0.0.2", "10.0.0.2"),
        ("999.1.1.1", "10.0.0.1"),
    ],
)
def test_malformed_entry_gives_last_trusted_hop(rf, proxies, forwarded, expected):
    proxies("10.0.0.0/8")
    assert ip(rf, "10.0.0.1", forwarded) == expected


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, f"198.51.100.99, {CLIENT}", CLIENT),
        (2, f"198.51.100.99, {CLIENT}, 192.0.2.5", CLIENT),
        (2, f"{CLIENT}, 192.0.2.5", CLIENT),
        # Fewer hops than proxies: part of the chain was bypassed; fall back to the peer.
        (2, CLIENT, "192.0.2.200"),
        (1, "", "192.0.2.200"),
        (1, "garbage", "192.0.2.200"),
    ],
)
def test_proxy_count(rf, settings, count, forwarded, expected):
    settings.PRODKIT = {"CLIENT_IP": {"PROXY_COUNT": count}}
    # Any peer counts as the proxy with PROXY_COUNT, trusted or not.
    assert ip(rf, "192.0.2.200", forwarded) == expected


def test_custom_header_replaces_forwarded_for(rf, proxies):
    proxies("10.0.0.0/8", HEADER="X-Real-IP")
    assert ip(rf, "10.0.0.1", "198.51.100.1", HTTP_X_REAL_IP=CLIENT) == CLIENT
    # The default header is no longer read at all.
    assert ip(rf, "10.0.0.1", "198.51.100.1") == "10.0.0.1"


@pytest.mark.parametrize(
    ("remote_addr", "forwarded", "expected"),
    [
        ("2001:db8::1", None, "2001:db8::1"),
        ("2001:0db8:0000::0001", None, "2001:db8::1"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("fd00::1", "[2001:db8::7]:443", "2001:db8::7"),
        ("10.0.0.1", f"{CLIENT}:51234", CLIENT),
        ("10.0.0.1", "[2001:db8::7]:51234", "2001:db8::7"),
        # IPv4-mapped IPv6: a dual-stack socket's view of an IPv4 peer.
        ("::ffff:10.0.0.1", CLIENT, CLIENT),
        ("10.0.0.1", f"::ffff:{CLIENT}", CLIENT),
        (f"::ffff:{CLIENT}", "198.51.100.1", CLIENT),
    ],
)
def test_address_forms(rf, proxies, remote_addr, forwarded, expected):
    proxies("10.0.0.0/8", "fd00::/8")
    assert ip(rf, remote_addr, forwarded) == expected


def test_remote_addr_that_is_no_address_is_returned_as_is(rf, proxies):
    proxies("10.0.0.0/8")
    assert ip(rf, "unix-socket", CLIENT) == "unix-socket"
    assert ip(rf, "", CLIENT) == ""


def test_result_is_cached_on_the_request(rf, proxies):
    proxies("10.0.0.0/8")
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=CLIENT)
    assert get_client_ip(request) == CLIENT
    request.META["HTTP_X_FORWARDED_FOR"] = "198.51.100.1"
    request.META["REMOTE_ADDR"] = "192.0.2.1"
    assert get_client_ip(request) == CLIENT


@pytest.mark.parametrize(
    ("address", "v4", "v6", "expected"),
    [
        ("2001:db8:1:2:3:4:5:6", 32, 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", 32, 64, "2001:db8:1:2::/64"),
        ("2001:db8::1", 32, 128, "2001:db8::1"),
        ("2001:DB8:0::1", 32, 128, "2001:db8::1"),
        (CLIENT, 32, 64, CLIENT),
        (CLIENT, 24, 64, "203.0.113.0/24"),
        ("not an address", 24, 64, "not an address"),
    ],
)
def test_ip_group(address, v4, v6, expected):
    assert ip_group(address, v4, v6) == expected


def test_ip_group_defaults_keep_full_addresses():
    assert ip_group("2001:db8::1") == "2001:db8::1"
    assert ip_group(CLIENT) == CLIENT


def test_django_ratelimit_keys_on_prodkit_client_ip(rf, proxies, settings):
    proxies("10.0.0.0/8")
    cache.clear()

    def count(client: str, **meta: str) -> int:
        request = rf.get(
            "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client, **meta
        )
        usage = get_usage(request, group="g", key="ip", rate="10/m", increment=True)
        assert usage is not None
        return int(usage["count"])

    # Without the setting django-ratelimit reads REMOTE_ADDR: all clients share the proxy's bucket.
    assert [count(CLIENT), count("198.51.100.1")] == [1, 2]

    cache.clear()
    settings.RATELIMIT_IP_META_KEY = "django_prodkit.client_ip.get_client_ip"
    assert [count(CLIENT), count("198.51.100.1"), count(CLIENT)] == [1, 1, 2]
