"""Run django-prodkit's in-process benchmarks.

Usage: ``python benchmarks/run.py [NAME ...] [--rounds N] [--requests N] [--quick] [--json]``
from the repository root. With no NAME, every registered benchmark runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from benchmarks.harness import Benchmark

# NAME -> module defining SPEC. Future benchmarks (ratelimit, ...) add a line here.
BENCHMARKS = {
    "request_id": "benchmarks.cases.request_id",
    "health": "benchmarks.cases.health",
    "ratelimit": "benchmarks.cases.ratelimit",
    "security": "benchmarks.cases.security",
    "locking": "benchmarks.cases.locking",
    "errors": "benchmarks.cases.errors",
    "queries": "benchmarks.cases.queries",
    "metrics": "benchmarks.cases.metrics",
    "deploy_gate": "benchmarks.cases.deploy_gate",
}

DEFAULTS = {"rounds": 5, "requests": 10_000}
QUICK = {"rounds": 2, "requests": 1_000}


class Environment(TypedDict):
    date: str
    python: str
    versions: dict[str, str]
    machine: str


class Options(TypedDict):
    rounds: int
    requests: int
    visit: int
    no_gc: bool


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument(
        "--rounds", type=_positive, help=f"default {DEFAULTS['rounds']}"
    )
    parser.add_argument(
        "--requests",
        type=_positive,
        help=f"per case per round, default {DEFAULTS['requests']:,}",
    )
    parser.add_argument(
        "--visit", type=_positive, default=200, help="requests per visit (200)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['rounds']} rounds of {QUICK['requests']:,}",
    )
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="disable the garbage collector during visits",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _environment(specs: list[Benchmark]) -> Environment:
    distributions = dict.fromkeys(
        ["Django", *(d for spec in specs for d in spec.distributions)]
    )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in distributions},
        "machine": f"{platform.system()} {platform.release()}, {_cpu_model()}, {os.cpu_count()} CPUs",
    }


def _print_header(environment: Environment, options: Options) -> None:
    versions = ", ".join(
        f"{name} {number}" for name, number in environment["versions"].items()
    )
    print(f"date: {environment['date']}")
    print(f"Python {environment['python']}, {versions}")
    print(f"machine: {environment['machine']}")
    print(
        f"method: in-process WSGIHandler, interleaved visits of {options['visit']} requests, "
        f"{options['requests']:,} requests per case per round, {options['rounds']} rounds, "
        f"GC {'off' if options['no_gc'] else 'on'} during visits (collected between visits); "
        "p50 per round, median [min–max] over rounds; Δ and × paired per round"
    )


def _progress(message: str) -> None:
    sys.stdout.flush()
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not __debug__:
        parser.error(
            "run without -O: each case proves its set-up with assert statements"
        )
    if unknown := [name for name in args.names if name not in BENCHMARKS]:
        parser.error(
            f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    sizes = QUICK if args.quick else DEFAULTS
    options: Options = {
        "rounds": args.rounds or sizes["rounds"],
        "requests": args.requests or sizes["requests"],
        "visit": args.visit,
        "no_gc": args.no_gc,
    }
    specs: list[Benchmark] = [
        importlib.import_module(BENCHMARKS[name]).SPEC
        for name in args.names or BENCHMARKS
    ]
    skipped = {spec.name: spec.skip for spec in specs if spec.skip is not None}
    specs = [spec for spec in specs if spec.skip is None]

    from benchmarks import harness, project, report

    project.configure(
        [app for spec in specs for app in spec.installed_apps],
        {key: value for spec in specs for key, value in spec.settings.items()},
    )
    environment = _environment(specs)
    if not args.json:
        _print_header(environment, options)
        print(
            f"calibration: {harness.calibrate():.1f} ms per 10⁶ empty loop iterations"
        )
        for name, reason in skipped.items():
            print(f"\n## {name}: skipped: {reason}")
    results: dict[str, object] = {
        name: {"skipped": reason} for name, reason in skipped.items()
    }
    for spec in specs:
        requests = options["requests"]
        if args.requests is None and spec.requests is not None:
            requests = min(requests, spec.requests)
        cases = spec.build()
        stats = harness.run(
            spec,
            cases,
            rounds=options["rounds"],
            requests=requests,
            visit=args.visit,
            gc_on=not args.no_gc,
            progress=_progress,
        )
        rows = report.summarise(cases, stats, spec.baseline)
        entry: dict[str, object] = {
            "title": spec.title,
            "baseline": spec.baseline,
            "cases": report.as_json(rows),
        }
        if requests != options["requests"]:
            entry["requests"] = requests
        extra_text, extra_data = (
            spec.extra(cases, stats) if spec.extra is not None else ("", {})
        )
        if extra_data:
            entry["extra"] = extra_data
        results[spec.name] = entry
        if not args.json:
            print(f"\n## {spec.name}: {spec.title}\n")
            if requests != options["requests"]:
                print(f"{requests:,} per case per round, this benchmark's default\n")
            print(report.table(rows, spec.baseline))
            if extra_text:
                print(f"\n{extra_text}")
    if args.json:
        document = {**environment, "options": options, "benchmarks": results}
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(
            f"\ncalibration: {harness.calibrate():.1f} ms per 10⁶ empty loop iterations"
        )
    return 0


if __name__ == "__main__":
    if not __package__:
        # Run as a script: import the benchmarks package from the repository root.
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    sys.exit(main())
