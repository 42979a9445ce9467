"""System checks shared by the capabilities."""

from __future__ import annotations

# Not ``settings``: the submodule django_prodkit.checks.settings takes that name here.
from django.conf import settings as django_settings
from django.core.checks import Error

# Cache backends whose keys no other process sees, and what that means for a lock or a
# cooldown kept in them.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps its keys per process",
    "django.core.cache.backends.dummy.DummyCache": "keeps nothing",
}


def missing_cache(alias: str, setting: str, holds: str, id: str) -> Error | None:
    """An error when the cache ``alias`` named by ``setting`` is not in ``CACHES``.

    ``setting`` is the key's path, such as ``"IDEMPOTENCY"``; ``holds`` says what the
    cache keeps, such as ``"its keys"``.
    """
    if alias in django_settings.CACHES:
        return None
    return Error(
        f"PRODKIT['{setting}'] keeps {holds} in cache {alias!r}, which is not in CACHES.",
        hint=f"Set PRODKIT['{setting}']['CACHE'] to one of: "
        + ", ".join(sorted(django_settings.CACHES))
        + ".",
        id=id,
    )
