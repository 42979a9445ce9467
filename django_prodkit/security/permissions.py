"""The ``Permissions-Policy`` header: known feature names and the header's syntax.

https://w3c.github.io/webappsec-permissions-policy/#structured-header-serialization
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Features shipped by Chromium, Firefox or Safari (Chromium's
# permissions_policy_features.json5 is the longest list). An unknown name is only a
# warning (prodkit.W040): browsers ignore features they do not know, and new ones appear
# every few releases.
KNOWN_FEATURES = frozenset(
    {
        "accelerometer",
        "all-screens-capture",
        "ambient-light-sensor",
        "aria-notify",
        "attribution-reporting",
        "autofill",
        "autoplay",
        "battery",
        "bluetooth",
        "browsing-topics",
        "camera",
        "captured-surface-control",
        "ch-device-memory",
        "ch-downlink",
        "ch-dpr",
        "ch-ect",
        "ch-prefers-color-scheme",
        "ch-prefers-reduced-motion",
        "ch-prefers-reduced-transparency",
        "ch-rtt",
        "ch-save-data",
        "ch-ua",
        "ch-ua-arch",
        "ch-ua-bitness",
        "ch-ua-form-factors",
        "ch-ua-full-version",
        "ch-ua-full-version-list",
        "ch-ua-high-entropy-values",
        "ch-ua-mobile",
        "ch-ua-model",
        "ch-ua-platform",
        "ch-ua-platform-version",
        "ch-ua-wow64",
        "ch-viewport-height",
        "ch-viewport-width",
        "ch-width",
        "clipboard-read",
        "clipboard-write",
        "compute-pressure",
        "cross-origin-isolated",
        "deferred-fetch",
        "deferred-fetch-minimal",
        "digital-credentials-get",
        "direct-sockets",
        "display-capture",
        "document-domain",
        "encrypted-media",
        "execution-while-not-rendered",
        "execution-while-out-of-viewport",
        "focus-without-user-activation",
        "fullscreen",
        "gamepad",
        "geolocation",
        "gyroscope",
        "hid",
        "identity-credentials-get",
        "idle-detection",
        "interest-cohort",
        "join-ad-interest-group",
        "keyboard-map",
        "language-detector",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "otp-credentials",
        "payment",
        "picture-in-picture",
        "private-aggregation",
        "private-state-token-issuance",
        "private-state-token-redemption",
        "publickey-credentials-create",
        "publickey-credentials-get",
        "rewriter",
        "run-ad-auction",
        "screen-wake-lock",
        "serial",
        "shared-storage",
        "shared-storage-select-url",
        "smart-card",
        "speaker-selection",
        "storage-access",
        "summarizer",
        "sync-xhr",
        "translator",
        "unload",
        "usb",
        "vertical-scroll",
        "web-share",
        "window-management",
        "writer",
        "xr-spatial-tracking",
    }
)

# An origin in an allowlist: scheme://host[:port], nothing after it.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(\*\.)?[^\s/?#\"]+", re.IGNORECASE)


def is_valid_origin(value: str) -> bool:
    return value in ("self", "*") or _ORIGIN.fullmatch(value) is not None


def header_value(policy: Mapping[str, Sequence[str]]) -> str:
    """``{"camera": ["self", "https://a.example"]}`` as ``camera=(self "https://a.example")``."""
    items = []
    for feature, origins in policy.items():
        if "*" in origins:
            items.append(f"{feature}=*")
            continue
        allowlist = " ".join(
            origin if origin == "self" else f'"{origin}"' for origin in origins
        )
        items.append(f"{feature}=({allowlist})")
    return ", ".join(items)
