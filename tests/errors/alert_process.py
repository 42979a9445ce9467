"""One instance of a site, for the test of the cooldown shared between processes.

``python -m tests.errors.alert_process migrate`` creates the tables; without arguments the
process prints ``ready``, waits for a line on stdin, records one occurrence of the same
error as its sibling, writes it, and prints the fingerprint as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import django


class InventoryOutOfSync(Exception):
    pass


def reserve() -> None:
    raise InventoryOutOfSync("stock of item 42 went negative")


def main() -> None:
    django.setup()
    if sys.argv[1:] == ["migrate"]:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False, skip_checks=True)
        return
    from django_prodkit import errors

    print("ready", flush=True)
    sys.stdin.readline()
    try:
        reserve()
    except InventoryOutOfSync as error:
        fingerprint = errors.capture_exception(error)
    # Both processes write one SQLite file at the same moment: a round that finds it
    # locked keeps the group for the next one, so flush until nothing is pending.
    deadline = time.monotonic() + 30
    flushed = errors.flush(30)
    while not flushed and time.monotonic() < deadline:
        time.sleep(0.1)
        flushed = errors.flush(30)
    print(json.dumps({"fingerprint": fingerprint, "flushed": flushed}), flush=True)


if __name__ == "__main__":
    main()
