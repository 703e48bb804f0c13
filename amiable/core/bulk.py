"""Fast inserts for large imports: one `executemany` per table, primary keys allocated beforehand.

Django's `bulk_create` builds every value through the ORM's compiler, which costs more than the database
itself for 100,000-row batches. These helpers write plain INSERTs with values already in database form;
they are for rows the service has fully validated, inside its transaction."""

import json
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

T = TypeVar("T")


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve `count` primary keys for rows about to be inserted in the current transaction."""
    if count == 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor == "sqlite":
            # The import transaction holds SQLite's single write lock, so nobody else inserts meanwhile.
            cursor.execute(
                f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
                f"COALESCE(MAX({column}), 0)) FROM {table}",
                [table],
            )
            start = cursor.fetchone()[0] + 1
            return list(range(start, start + count))
    raise NotImplementedError(connection.vendor)


class JSONText(str):
    """A JSON value already encoded as a JSONField stores it (`DjangoJSONEncoder`, `ensure_ascii=False`), written
    as it is: encoded ahead of a transaction, so that the transaction does not do it (the intake's events, on
    SQLite, encoded before it takes the write lock)."""


def _adapt(value, field: models.Field):
    """The value in the form the backend stores it, as Django's own adapters would give it."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value if isinstance(value, JSONText) else json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value(value)
    if isinstance(field, models.DecimalField):
        return connection.ops.adapt_decimalfield_value(value, field.max_digits, field.decimal_places)
    return value


def _column_adapter(field: models.Field, ops) -> Callable:
    """`_adapt` for one column of many rows: the backend's adapter looked up once, and each date, moment or
    amount converted once per distinct value (an import's rows share the day of receipt, the moment of writing,
    many amounts), for the SQLite path of `insert_rows`, where converting cost more than inserting."""
    if isinstance(field, models.JSONField):
        encode = DjangoJSONEncoder(ensure_ascii=False).encode  # what json.dumps(value, cls=…) does
        return lambda value: value if value is None or isinstance(value, JSONText) else encode(value)
    if isinstance(field, models.DateTimeField):
        convert = ops.adapt_datetimefield_value
    elif isinstance(field, models.DateField):
        convert = ops.adapt_datefield_value
    else:
        adapt_decimal, digits, places = ops.adapt_decimalfield_value, field.max_digits, field.decimal_places

        def convert(value):
            return adapt_decimal(value, digits, places)

    done: dict = {}

    def adapt(value):
        if value is None:
            return None
        try:
            return done[value]
        except KeyError:
            done[value] = converted = convert(value)
            return converted

    return adapt


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """INSERT many rows given as tuples in the order of `fields` (model field names; FKs by their `_id`):
    COPY on PostgreSQL, multi-row INSERTs on SQLite."""
    if not rows:
        return
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    special = [
        i
        for i, f in enumerate(model_fields)
        if isinstance(f, models.JSONField | models.DecimalField | models.DateField | models.DateTimeField)
    ]
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in model_fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY takes Python values as they are (Decimal, date, aware datetime); only JSON needs text.
            # The raw psycopg cursor bypasses Django's error translation: wrap it, so that a unique key taken
            # by a concurrent run raises django.db.IntegrityError as any other write would.
            json_columns = [i for i in special if isinstance(model_fields[i], models.JSONField)]
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    if json_columns:
                        row = list(row)
                        for i in json_columns:
                            row[i] = _adapt(row[i], model_fields[i])
                    copy.write_row(row)
            return
        per_statement = max(1, min(500, 30000 // len(fields)))
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        adapters = [(i, _column_adapter(model_fields[i], connection.ops)) for i in special]
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            params: list = []
            for row in part:
                if adapters:
                    row = list(row)
                    for i, adapt in adapters:
                        row[i] = adapt(row[i])
                params.extend(row)
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(part))}"
            cursor.execute(sql, params)


def insert_objects(model: type[models.Model], objs: list[models.Model]) -> list[models.Model]:
    """Save new, unsaved instances as `bulk_create` would (defaults and `auto_now_add` filled, primary keys set
    on the instances, no signals), but written by `insert_rows`: COPY on PostgreSQL. For the daily runs that
    write thousands of rows whose ORM insert costs more than the database."""
    if not objs:
        return objs
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    for obj, pk in zip(objs, allocate_ids(model, len(objs)), strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    files = {f for f in fields if isinstance(f, models.FileField)}  # stored by their name
    rows = [
        (obj.pk, *(f.get_prep_value(f.pre_save(obj, True)) if f in files else f.pre_save(obj, True) for f in fields))
        for obj in objs
    ]
    insert_rows(model, [meta.pk.attname, *(f.attname for f in fields)], rows)
    return objs


def while_checking_constraints(work: Callable[[], T]) -> T:
    """Run `work` — Python only, no query — while PostgreSQL checks the constraints the transaction deferred to
    its commit (the foreign keys of every row a bulk write inserted), so that the two take two cores at once
    instead of one after the other. The check is `SET CONSTRAINTS ALL IMMEDIATE`, sent from a thread that
    waits for the server without holding the interpreter; a violation raises here, as the commit would have.
    Elsewhere (SQLite, outside a transaction) it is just `work()`."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "postgresql" or not wrapper.in_atomic_block:
        return work()
    wrapper.ensure_connection()
    raw = wrapper.connection  # psycopg's connection is locked per statement: a query of `work` would wait
    failures: list[BaseException] = []

    def check() -> None:
        try:
            with wrapper.wrap_database_errors, raw.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        except BaseException as exc:  # handed to the caller's thread
            failures.append(exc)

    checker = threading.Thread(target=check, name="constraints-check")
    checker.start()
    try:
        result = work()
    finally:
        checker.join()
    if failures:
        raise failures[0]
    return result
