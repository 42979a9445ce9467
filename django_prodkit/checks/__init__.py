"""System checks shared by the capabilities."""

from __future__ import annotations

# Cache backends whose keys no other process sees, and what that means for a lock or a
# cooldown kept in them.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps its keys per process",
    "django.core.cache.backends.dummy.DummyCache": "keeps nothing",
}
