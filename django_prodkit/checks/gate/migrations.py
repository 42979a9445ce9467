"""The gate's migrations section: unapplied migrations, model changes, conflicts.

Conflicts and model changes are about the code, so they are checked once; unapplied
migrations are about a database, so they are checked per alias, as ``migrate`` would
apply them there (an app that the routers keep off an alias does not count on it).
"""

from __future__ import annotations

from django.apps import apps
from django.db import connections, router
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import MigrationQuestioner
from django.db.migrations.state import ProjectState

from django_prodkit.checks.gate.results import Result

TAGS = ("migrations",)
# A long list helps nobody read the result: the first ones, then how many more.
SHOWN = 10


def conflicts(loader: MigrationLoader) -> list[Result]:
    """E102: apps whose migration graph has several leaves, as ``migrate`` refuses."""
    return [
        Result(
            id="prodkit.E102",
            level="error",
            message=f"App {app_label!r} has conflicting migrations, several leaf "
            f"nodes: {', '.join(sorted(names))}.",
            hint=f"Run manage.py makemigrations --merge {app_label}, or renumber one "
            "branch so that it depends on the other.",
            obj=app_label,
            tags=TAGS,
        )
        for app_label, names in sorted(loader.detect_conflicts().items())
    ]


def model_changes(loader: MigrationLoader) -> list[Result]:
    """E101: what ``makemigrations --check`` detects, without writing a file."""
    # The plain questioner answers as a non-interactive run would, but never exits:
    # Django's NonInteractiveMigrationQuestioner calls sys.exit(3) for a NOT NULL field.
    questioner = MigrationQuestioner(specified_apps=set(), dry_run=True)
    autodetector = MigrationAutodetector(
        loader.project_state(), ProjectState.from_apps(apps), questioner
    )
    changes = autodetector.changes(graph=loader.graph)
    results = []
    for app_label, migrations in sorted(changes.items()):
        described = [
            operation.describe()
            for migration in migrations
            for operation in migration.operations
        ]
        results.append(
            Result(
                id="prodkit.E101",
                level="error",
                message=f"Models of app {app_label!r} have changes that no migration "
                f"records: {_listed(described, '; ')}.",
                hint=f"Run manage.py makemigrations {app_label}, review the migration "
                "and commit it with the model change.",
                obj=app_label,
                tags=TAGS,
            )
        )
    return results


def unapplied(alias: str) -> list[Result]:
    """E100: migrations that ``migrate --database alias`` would apply."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    names = [
        f"{migration.app_label}.{migration.name}"
        for migration, backwards in plan
        if not backwards and _migrates_on(alias, migration.app_label)
    ]
    if not names:
        return []
    return [
        Result(
            id="prodkit.E100",
            level="error",
            message=f"Database {alias!r} has {len(names)} unapplied "
            f"migration{'s' if len(names) > 1 else ''}: {_listed(names, ', ')}.",
            hint=f"Run manage.py migrate --database {alias} before the new code "
            "serves requests.",
            obj=f"DATABASES[{alias!r}]",
            tags=TAGS,
        )
    ]


def _migrates_on(alias: str, app_label: str) -> bool:
    # As makemigrations' consistency check asks the routers: per model when the app
    # has models, else for the app as a whole.
    try:
        app_models = list(apps.get_app_config(app_label).get_models())
    except LookupError:
        app_models = []
    if not app_models:
        return bool(router.allow_migrate(alias, app_label))
    return any(
        router.allow_migrate(alias, app_label, model_name=model._meta.object_name)
        for model in app_models
    )


def _listed(items: list[str], separator: str) -> str:
    shown = separator.join(items[:SHOWN])
    more = len(items) - SHOWN
    return f"{shown}{separator}and {more} more" if more > 0 else shown
