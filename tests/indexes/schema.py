"""Models for the index inspection tests, in a registry of their own.

They are not installed: each test creates the tables it needs and drops them, so the
rest of the suite never sees them. ``Defects`` holds one of each defect, ``Clean`` what
Django creates that must raise no finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.apps.registry import Apps
from django.db import connections, models
from django.db.models.functions import Lower

registry = Apps()
LABEL = "indexes_tests"


class Author(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=50, db_index=True)  # Plus a _like index.
    email = models.CharField(max_length=80, unique=True)  # Plus a _like index.

    class Meta:
        apps = registry
        app_label = LABEL


class Book(models.Model):  # noqa: DJ008
    author = models.ForeignKey(Author, models.CASCADE, db_index=False)  # W110.
    title = models.CharField(max_length=100)

    class Meta:
        apps = registry
        app_label = LABEL
        indexes = [models.Index(fields=["title"], name="book_title_idx")]  # E111.


class Review(models.Model):  # noqa: DJ008
    book = models.ForeignKey(Book, models.CASCADE)  # Duplicated by raw SQL: W113.
    rating = models.IntegerField()  # Indexed by raw SQL: W112.

    class Meta:
        apps = registry
        app_label = LABEL


class Loan(models.Model):  # noqa: DJ008
    book = models.ForeignKey(Book, models.CASCADE)
    created = models.DateTimeField()

    class Meta:
        apps = registry
        app_label = LABEL
        indexes = [
            models.Index(fields=["created"], name="loan_created_idx"),  # W114.
            models.Index(fields=["created", "book"], name="loan_created_book_idx"),
        ]


class Membership(models.Model):  # noqa: DJ008
    author = models.ForeignKey(Author, models.CASCADE)  # Its index: W115.
    book = models.ForeignKey(Book, models.CASCADE)

    class Meta:
        apps = registry
        app_label = LABEL
        constraints = [
            models.UniqueConstraint(fields=["author", "book"], name="member_uniq")
        ]


class Article(models.Model):  # noqa: DJ008
    """Everything here is what Django creates on purpose: no finding."""

    author = models.ForeignKey(Author, models.CASCADE)
    parent = models.ForeignKey("self", models.CASCADE, null=True, db_index=False)
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=100, db_index=True)
    body = models.TextField(db_index=True)
    status = models.CharField(max_length=10)
    rank = models.IntegerField(default=0)
    published = models.BooleanField(default=False)
    created = models.DateTimeField()

    class Meta:
        apps = registry
        app_label = LABEL
        indexes = [
            models.Index(Lower("title"), name="article_lower_title"),
            models.Index(fields=["-created"], name="article_created_desc"),
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["draft", "review"]),
                name="article_status_open",
            ),
            models.Index(fields=["rank"], include=["status"], name="article_rank"),
            # A partial index that keeps every row with a parent covers the FK.
            models.Index(
                fields=["parent"],
                condition=models.Q(parent__isnull=False),
                name="article_parent",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "title"],
                condition=models.Q(published=True),
                name="article_published_title",
            ),
            models.UniqueConstraint(Lower("slug"), name="article_lower_slug"),
            models.CheckConstraint(
                condition=models.Q(rank__gte=0), name="article_rank_positive"
            ),
        ]


class Comment(models.Model):  # noqa: DJ008
    article = models.ForeignKey(Article, models.CASCADE)
    author = models.ForeignKey(Author, models.CASCADE, related_name="+")
    text = models.TextField()

    class Meta:
        apps = registry
        app_label = LABEL
        unique_together = [("text", "article")]


class Tag(models.Model):  # noqa: DJ008
    name = models.CharField(max_length=30)
    articles = models.ManyToManyField(Article)  # An auto-created table.

    class Meta:
        apps = registry
        app_label = LABEL


class Event(models.Model):  # noqa: DJ008
    # A 32-bit key whatever DEFAULT_AUTO_FIELD says (BigAutoField since Django 6.0), so
    # that a sequence set to 2,000,000,000 is near the end of its range.
    id = models.AutoField(primary_key=True)
    kind = models.CharField(max_length=20)

    class Meta:
        apps = registry
        app_label = LABEL
        indexes = [models.Index(fields=["kind"], name="event_kind_idx")]


DEFECTS: list[type[models.Model]] = [Author, Book, Review, Loan, Membership]
CLEAN: list[type[models.Model]] = [Author, Article, Comment]
TAGS: list[type[models.Model]] = [Author, Article, Comment, Tag]


def with_through(chosen: Sequence[type[models.Model]]) -> list[type[models.Model]]:
    """``chosen`` and the auto-created many-to-many tables of its models."""
    out = list(chosen)
    for model in chosen:
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through is not None and through._meta.auto_created:
                out.append(through)
    return out


@contextmanager
def tables(
    chosen: Sequence[type[models.Model]], database: str = "default"
) -> Iterator[list[type[models.Model]]]:
    """Create the tables of ``chosen`` (and their many-to-many tables), drop them after."""
    connection = connections[database]
    with connection.schema_editor() as editor:
        for model in chosen:
            editor.create_model(model)
    try:
        yield with_through(chosen)
    finally:
        with connection.schema_editor() as editor:
            for model in reversed(chosen):
                editor.delete_model(model)


def run_sql(*statements: str, database: str = "default") -> None:
    with connections[database].cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
