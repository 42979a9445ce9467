"""Run test processes side by side: each starts, says "ready", and all are told "go"
at once, so that they really overlap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_together(
    module: str, environment: dict[str, str], *, count: int = 2, timeout: float = 60
) -> list[str]:
    """The standard output of ``count`` runs of ``python -m module``, started together."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", module],
            env=environment,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:  # All at once, as close as processes get.
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=timeout)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [process.returncode for process in processes] == [0] * count
    return outputs
