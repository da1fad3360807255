"""Keyset pagination for the office lists.

Why keyset and not page numbers: a list of 100k invoices paged with ``OFFSET`` makes the database read and
throw away every row before the page, so page 4,000 costs 4,000 times page 1, and rows shift between pages
when invoices are issued meanwhile (a clerk sees one twice or misses one). A keyset page is "the next 25 rows
after (sort value, id) of the last row I saw": the database seeks straight to that point in an index, so the
first, the middle and the last page cost the same, and nothing is skipped or repeated while rows come and go.
The price is that a clerk cannot jump to "page 1,873"; the links are First / Previous / Next / Last, and
filters (customer, status, dates, number) are how one gets to a row, which is how clerks work anyway.

The ``id`` is the tie-breaker, so the order is total even when many rows share a sort value. NULLs sort as if
they were the largest value (PostgreSQL's own default: last going up, first going down), written out
explicitly so SQLite orders them the same way and PostgreSQL can still walk its b-tree indexes.

Cursors travel in the query string as an opaque token naming the sort they belong to; a token that is
malformed or made for another sort is ignored (the first page is shown), never a server error.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Expression, F, Q, QuerySet

SORT_VALUE = "_sort_value"
DEFAULT_PAGE_SIZE = 25
PAGE_SIZES = (25, 50, 100)


def _parse_date(text):
    return datetime.date.fromisoformat(text)


def _parse_datetime(text):
    return datetime.datetime.fromisoformat(text)


def _parse_int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not an integer")
    return value


def _parse_str(value):
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


PARSERS: dict[str, Callable[[Any], Any]] = {
    "date": _parse_date,
    "datetime": _parse_datetime,
    "int": _parse_int,
    "str": _parse_str,
}


@dataclass(frozen=True)
class SortKey:
    """A column a list may be sorted by: ``?sort=total`` goes up, ``?sort=-total`` goes down.

    ``expression`` is a field path ("customer__name") or an expression over the list's queryset;
    ``kind`` says how a cursor value is read back ("int", "str", "date", "datetime");
    ``first_desc`` makes the first click on the header sort downwards (newest dates, largest amounts first);
    ``partner_path`` ("customer__partner"), for a sort on a related row's column that is never NULL, names
    that row's partner: the page query then also filters on it (always true), which lets PostgreSQL walk the
    related table's (partner, name) index in order instead of sorting every row of the list.
    """

    key: str
    expression: str | Expression
    kind: str = "str"
    nullable: bool = False
    first_desc: bool = False
    partner_path: str = ""

    def resolved(self) -> Expression:
        return F(self.expression) if isinstance(self.expression, str) else self.expression


@dataclass(frozen=True)
class Sort:
    """A whitelisted sort key and its direction, read from ``?sort=``."""

    key: SortKey
    descending: bool

    @property
    def param(self) -> str:
        return f"-{self.key.key}" if self.descending else self.key.key

    @classmethod
    def from_param(cls, param: str | None, keys: dict[str, SortKey], default: str) -> Sort:
        """Unknown keys fall back to the default sort."""
        for candidate in (param or "", default):
            name = candidate.removeprefix("-")
            if name in keys:
                return cls(keys[name], candidate.startswith("-"))
        raise ValueError(f"default sort {default!r} is not one of the list's sort keys")


@dataclass(frozen=True)
class Cursor:
    sort: str  # the ``?sort=`` value it was made for
    value: Any
    pk: int

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime.date) else self.value
        raw = json.dumps([self.sort, value, self.pk], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None, sort: Sort) -> Cursor | None:
        """The cursor in ``token`` if it is well formed and made for ``sort``; otherwise None."""
        if not token or len(token) > 1000:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sort_param, value, pk = json.loads(raw)
            if sort_param != sort.param or isinstance(pk, bool) or not isinstance(pk, int):
                return None
            if value is not None:
                value = PARSERS[sort.key.kind](value)
            elif not sort.key.nullable:
                return None
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            return None
        return cls(sort_param, value, pk)


@dataclass
class KeysetPage:
    rows: list
    sort: Sort
    page_size: int
    has_next: bool = False
    has_previous: bool = False
    next_cursor: str | None = None
    previous_cursor: str | None = None
    is_last: bool = False
    extra: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    @property
    def is_first(self) -> bool:
        return not self.has_previous

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def _ordering(descending: bool):
    # NULL is the largest value: last going up, first going down (PostgreSQL's default; explicit for SQLite).
    if descending:
        return [F(SORT_VALUE).desc(nulls_first=True), F("pk").desc()]
    return [F(SORT_VALUE).asc(nulls_last=True), F("pk").asc()]


def _segments_after(cursor: Cursor | None, *, descending: bool, nullable: bool) -> list[Q]:
    """The rows strictly after the cursor's row in the order (sort value, id), as conditions to read in turn.

    Each condition is a plain index range (no OR across NULL and non-NULL values, which would make
    PostgreSQL scan the whole partner's index and filter): the second one, where there is one, is read only
    when the first runs out before the page is full, i.e. on the one page that crosses from the non-NULL
    values into the NULLs (or back).
    """
    if cursor is None:
        return [Q()]
    value, pk = cursor.value, cursor.pk
    s = SORT_VALUE
    if not descending:
        if value is None:  # in the NULL tail: only NULLs with a larger id remain
            return [Q(**{f"{s}__isnull": True, "pk__gt": pk})]
        # The redundant ``>= value`` lets PostgreSQL start its index scan at the cursor instead of filtering.
        after = Q(**{f"{s}__gte": value}) & (Q(**{f"{s}__gt": value}) | Q(**{s: value, "pk__gt": pk}))
        return [after, Q(**{f"{s}__isnull": True})] if nullable else [after]
    if value is None:  # in the NULL head: NULLs with a smaller id, then every non-NULL value
        return [Q(**{f"{s}__isnull": True, "pk__lt": pk}), Q(**{f"{s}__isnull": False})]
    return [Q(**{f"{s}__lte": value}) & (Q(**{f"{s}__lt": value}) | Q(**{s: value, "pk__lt": pk}))]


def _read(queryset: QuerySet, cursor: Cursor | None, *, descending: bool, nullable: bool, limit: int) -> list:
    """Up to ``limit`` rows after the cursor: one query, two when the page crosses into or out of the NULLs."""
    ordering = _ordering(descending)
    rows: list = []
    for condition in _segments_after(cursor, descending=descending, nullable=nullable):
        rows += queryset.filter(condition).order_by(*ordering)[: limit - len(rows)]
        if len(rows) >= limit:
            break
    return rows


def keyset_page(
    queryset: QuerySet,
    *,
    sort: Sort,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> KeysetPage:
    """One page of ``queryset`` in ``sort`` order: the first page, the page after or before a cursor
    token, or the last page. One query as a rule (``page_size + 1`` rows, to learn whether more follow)."""
    qs = queryset.annotate(**{SORT_VALUE: sort.key.resolved()})
    after_cursor = Cursor.decode(after, sort)
    before_cursor = None if after_cursor else Cursor.decode(before, sort)
    nullable = sort.key.nullable

    if before_cursor or (last and not after_cursor):
        # Walk backwards from the cursor (or from the end), then put the rows back in display order.
        rows = _read(qs, before_cursor, descending=not sort.descending, nullable=nullable, limit=page_size + 1)
        more = len(rows) > page_size
        if before_cursor and not more and len(rows) < page_size:
            # Walked back to a short first page: show the real first page instead (one more query, rarely).
            return keyset_page(queryset, sort=sort, page_size=page_size)
        rows = rows[:page_size][::-1]
        page = KeysetPage(rows, sort, page_size, has_previous=more, has_next=bool(before_cursor))
    else:
        rows = _read(qs, after_cursor, descending=sort.descending, nullable=nullable, limit=page_size + 1)
        more = len(rows) > page_size
        rows = rows[:page_size]
        page = KeysetPage(rows, sort, page_size, has_next=more, has_previous=bool(after_cursor))

    page.is_last = not page.has_next
    if rows:
        if page.has_next:
            page.next_cursor = Cursor(sort.param, getattr(rows[-1], SORT_VALUE), rows[-1].pk).encode()
        if page.has_previous:
            page.previous_cursor = Cursor(sort.param, getattr(rows[0], SORT_VALUE), rows[0].pk).encode()
    return page


def page_size_from(value: str | None) -> int:
    """``?per_page=`` if it is one of the offered sizes, else the default."""
    try:
        size = int(value or DEFAULT_PAGE_SIZE)
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def ordered(queryset: QuerySet, sort: Sort) -> QuerySet:
    """``queryset`` in the same order as its pages (for exports)."""
    return queryset.annotate(**{SORT_VALUE: sort.key.resolved()}).order_by(*_ordering(sort.descending))
