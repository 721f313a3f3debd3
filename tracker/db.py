"""Query helpers shared by the apps."""

import itertools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.expressions import DatabaseDefault
from django.db.models.query import RelatedPopulator
from django.db.models.signals import post_init, post_save, pre_init, pre_save

try:  # Django's cursor with server-side binding (psycopg 3)
    from django.db.backends.postgresql.base import ServerBindingCursor
    from psycopg import ClientCursor
except ImportError:  # pragma: no cover (without psycopg there is nothing to prepare)
    ServerBindingCursor = ClientCursor = object


def one(queryset: QuerySet):
    """The row a unique lookup names, or None. Like first(), but without the
    ORDER BY first() adds: of no use for one row, and compiling it was a third of
    the time Django spent building the API issue detail's query."""
    try:
        return queryset.get()
    except queryset.model.DoesNotExist:
        return None


class Statement(NamedTuple):
    """A write's SQL and its parameters, for execute_together(). A `name` is
    the WITH clause's name there, for the statements after it (or the main
    one) to read what it returns."""

    sql: str
    params: list
    name: str = ""


def execute_together(*statements: Statement | None, using: str = "default") -> tuple | None:
    """Run these statements as one, each but the main one a WITH clause of it
    (PostgreSQL runs every data-modifying WITH clause): one round trip instead
    of one each. A statement cost the web worker about 85 us and the database
    about 45 us on top of its own work, which for a small INSERT is nearly all
    of it (2026-12-07): a create wrote eleven statements, now one
    (issues.services.issues.create_issue).

    The clauses all see the database as it was before the statement, as the
    clauses of one statement do: one that needs another's rows reads what that
    one returns, by its name (FROM name), which also has it run first. An
    unnamed SELECT (a pg_notify) is the main statement, at most one: a WITH
    clause nobody reads would not run, so a named SELECT must be read by the
    main statement. Its row is returned (None without a SELECT). The combined
    SQL is prepared once per connection like any other (preparing_cursor), one
    for each combination that occurs."""
    statements = [statement for statement in statements if statement is not None]
    if not statements:
        return None
    reads = [s for s in statements if s.sql.startswith("SELECT") and not s.name]
    if len(reads) > 1:
        raise ValueError("execute_together() runs at most one unnamed SELECT")
    main = reads[0] if reads else statements[-1]
    clauses = [statement for statement in statements if statement is not main]
    sql = main.sql
    if clauses:
        named = (f"{c.name or f'w{i}'} AS ({c.sql})" for i, c in enumerate(clauses))
        sql = f"WITH {', '.join(named)} {sql}"
    params = [param for statement in (*clauses, main) for param in statement.params]
    with preparing_cursor(connections[using]) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if reads else None


class Prepared:
    """A read whose SQL Django compiles once per process for each shape of its
    arguments, then runs with each call's values.

    Django builds a queryset and compiles its SQL anew on every call: for the
    issue page's timeline that was two thirds of the time of reading it (1.6 ms
    against 0.55 ms for the same SQL run directly, 2026-12-05), and a page makes
    several such reads. `build(*args, **fixed)` is called once per shape, with
    stand-ins for the arguments; the SQL it compiles to is kept, with where each
    argument lands among its parameters, and what Django needs to turn rows
    into models (its columns, select_related models, annotations and
    converters), as its ModelIterable does.

    An argument is an int, str, UUID or datetime compared as a value, None, or
    a list of such values (each compared as a value, e.g. by `__in`). Its shape
    is its type, or None, or its values' types (so its length): `build` may
    branch on which arguments are None and on how long a list is, never on a
    value. Keyword arguments are passed to `build` as they are and are part of
    the shape: for what shapes the SQL itself (an ordering, a LIMIT). At most
    MAX_PLANS shapes are kept, the oldest dropped first.

    `server_prepared=True` also has PostgreSQL keep the statement, prepared
    once per connection (psycopg's `prepare=True`), so that it is no longer
    parsed and planned on each call: for a lookup by a key, whose plan does not
    depend on the value, that planning was most of what the database did for it.
    Not for reads whose best plan depends on the values (a status that is 7 %
    or 85 % of the issues): PostgreSQL may settle on one generic plan for all.
    """

    STAND_INS = {
        int: lambda i: 2_000_000_000 - i,  # within a 32-bit column's range
        str: lambda i: f"<prepared argument {i} {uuid.uuid4()}>",
        uuid.UUID: lambda i: uuid.UUID(int=(0xC0FFEE << 100) + i),
        datetime: lambda i: datetime(1901, 2, 3, tzinfo=UTC) + timedelta(microseconds=i),
    }
    MAX_PLANS = 256

    def __init__(self, build: Callable[..., QuerySet], *, server_prepared: bool = False):
        self.build = build
        self.server_prepared = server_prepared
        self._plans: dict[tuple, _Plan] = {}
        self._lock = threading.Lock()

    def __call__(self, *args, **fixed) -> list[Model]:
        """The models `build(*args, **fixed)` would give, as a list."""
        key = (tuple(map(_shape, args)), tuple(sorted(fixed.items())))
        plan = self._plans.get(key) or self._prepare(key, fixed)
        return plan.run(args)

    def one(self, *args, **fixed) -> Model | None:
        """The first of them, or None: for a lookup by a unique key."""
        found = self(*args, **fixed)
        return found[0] if found else None

    def count(self, *args, cap: int, **fixed) -> int:
        """How many rows `build(*args, **fixed)` has, counted no further than
        cap + 1 (tracker.paging.capped_count: more than `cap` is "cap+")."""
        key = (tuple(map(_shape, args)), tuple(sorted(fixed.items())), cap)
        plan = self._plans.get(key) or self._prepare(key, fixed, cap)
        return plan.count(args)

    def _prepare(self, key, fixed, cap: int | None = None) -> "_Plan":
        with self._lock:
            plan = self._plans.get(key)
            if plan is None:
                plan = _Plan(self.build, key[0], fixed, cap, self.server_prepared)
                if len(self._plans) >= self.MAX_PLANS:
                    del self._plans[next(iter(self._plans))]
                self._plans[key] = plan
            return plan


def _shape(arg):
    if arg is None:
        return None
    if isinstance(arg, list | tuple):
        return tuple(type(value) for value in arg)
    return type(arg)


class _Plan:
    def __init__(
        self, build, shapes: tuple, fixed: dict, cap: int | None = None, server_prepared=False
    ):
        self.cursor = preparing_cursor if server_prepared else _cursor
        numbers = itertools.count()

        def stand_in(kind):
            if kind not in Prepared.STAND_INS:
                raise TypeError(f"Prepared takes int, str, UUID or datetime values, not {kind}")
            return Prepared.STAND_INS[kind](next(numbers))

        stand_ins, values = [], []  # values: (argument, place in its list or None, stand-in)
        for i, shape in enumerate(shapes):
            if isinstance(shape, tuple):
                stand_ins.append([stand_in(kind) for kind in shape])
                values.extend((i, j, value) for j, value in enumerate(stand_ins[-1]))
            elif shape is not None:
                stand_ins.append(stand_in(shape))
                values.append((i, None, stand_ins[-1]))
            else:
                stand_ins.append(None)
        queryset = build(*stand_ins, **fixed)
        if cap is not None:
            queryset = queryset.order_by().values("pk")[: cap + 1]
        compiler = queryset.query.get_compiler(using=queryset.db)
        self.db = queryset.db
        try:
            self.sql, params = compiler.as_sql()
        except EmptyResultSet:  # e.g. `__in` an empty list: no rows, whatever the values
            self.sql = None
            return
        if compiler.has_extra_select or queryset._known_related_objects:
            raise ValueError("Prepared reads plain querysets of models")
        if cap is not None:
            self.sql = f"SELECT count(*) FROM ({self.sql}) AS capped"  # noqa: S608 (Django's SQL)
        self.params = list(params)
        # Where each value lands, and the type Django gave it there (its psycopg
        # backend passes ints as psycopg's Int4 or Int8, by column).
        self.slots = [
            (position, i, j, type(param))
            for i, j, value in values
            for position, param in enumerate(self.params)
            if isinstance(param, type(value)) and param == value
        ]
        missing = {(i, j) for i, j, _ in values} - {(i, j) for _, i, j, _ in self.slots}
        if missing:
            raise ValueError(f"arguments {sorted(missing)} do not reach the SQL as parameters")
        if cap is None:
            self._models_from(compiler)

    def _models_from(self, compiler) -> None:
        """What ModelIterable reads from its compiler (Django 5.2)."""
        klass_info = compiler.klass_info
        self.model = klass_info["model"]
        select_fields = klass_info["select_fields"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.init_list = [
            column[0].target.attname for column in compiler.select[self.start : self.end]
        ]
        self.make = _maker(self.model)
        self.populators = [
            _Populator(info, compiler.select, self.db)
            for info in klass_info.get("related_klass_infos", [])
        ]
        self.annotations = list(compiler.annotation_col_map.items())
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(fields).items())

    def _params(self, args) -> list:
        params = list(self.params)
        for position, i, j, kind in self.slots:
            value = args[i] if j is None else args[i][j]
            params[position] = value if type(value) is kind else kind(value)
        return params

    def count(self, args) -> int:
        if self.sql is None:
            return 0
        with self.cursor(connections[self.db]) as cursor:
            cursor.execute(self.sql, self._params(args))
            return cursor.fetchone()[0]

    def run(self, args) -> list[Model]:
        if self.sql is None:
            return []
        connection = connections[self.db]
        with self.cursor(connection) as cursor:
            cursor.execute(self.sql, self._params(args))
            rows = cursor.fetchall()
        found = []
        for row in rows:
            if self.converters:
                row = list(row)
                for position, (converters, expression) in self.converters:
                    value = row[position]
                    for converter in converters:
                        value = converter(value, expression, connection)
                    row[position] = value
            obj = self.make(self.db, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            found.append(obj)
        return found


class Insert:
    """INSERTs of a model's rows, their SQL written once per process for each
    number of rows, and prepared by PostgreSQL once per connection.

    Model.save() and bulk_create() build and compile an insert query on every
    call, and Django binds its values on the client, so PostgreSQL parses and
    plans every INSERT anew. A create writes four (the issue, its label links,
    its event, its reporter's watch): compiling them was a fifth of the web
    worker's time for a create, and parsing and planning them a fifth of the
    database's (2026-12-06).

    It writes what Model.save() writes for a new row: every concrete field but
    an automatic primary key and those with a database default (left to it),
    through each field's pre_save() (auto_now_add) and get_db_prep_save(), and
    sets what the database returns (the key, the defaults) on each instance, unless
    `ignore_conflicts` (ON CONFLICT DO NOTHING returns nothing for a row it
    skips). Like bulk_create(), it sends no signals: a model with receivers of
    pre_save or post_save is refused rather than silently not told. A value of
    its own in a field with a database default is refused too: the statement
    leaves that column out, so the value would be lost.
    """

    def __init__(self, model: type[Model], *, ignore_conflicts: bool = False):
        self.model = model
        self.ignore_conflicts = ignore_conflicts
        meta = model._meta
        written = [
            field
            for field in meta.local_concrete_fields
            if not field.generated and field is not meta.auto_field
        ]
        self.fields = [field for field in written if not field.has_db_default()]
        self.defaulted = [field.attname for field in written if field.has_db_default()]
        self.returning = [] if ignore_conflicts else list(meta.db_returning_fields)
        self._sql: dict[tuple[int, bool], str] = {}

    def __call__(self, *objs: Model, using: str = "default") -> None:
        if not objs:
            return
        sql, params, _ = self._statement(objs, using, returning=True)
        with preparing_cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall() if self.returning else [()] * len(objs)
        for obj, row in zip(objs, rows, strict=True):
            self.stored(obj, row, using=using)

    def statement(
        self, *objs: Model, name: str = "", after: str = "", using: str = "default"
    ) -> Statement | None:
        """The INSERT of these rows without running it, for execute_together().
        It returns nothing, so the instances get no key or defaults from it;
        with a `name`, it returns what the database gave the rows (RETURNING),
        for the statements after it to read by that name (see stored()), in the
        order of `objs` when ordered by key (a sequence gives a statement's rows
        rising keys in the order they are written).

        With `after`, the name of an earlier clause, the rows are written only
        if that clause returned a row: an edit's timeline events, only if its
        compare-and-set changed the issue."""
        if not objs:
            return None
        return self._statement(objs, using, returning=bool(name), after=after)._replace(name=name)

    def stored(self, obj: Model, returned: Sequence, *, using: str = "default") -> None:
        """Mark `obj` as stored, with what the database returned for it (its
        key, its defaults: the model's `returning` fields, in their order)."""
        for field, value in zip(self.returning, returned, strict=True):
            setattr(obj, field.attname, value)
        obj._state.adding, obj._state.db = False, using

    def _statement(self, objs, using: str, returning: bool, after: str = "") -> Statement:
        if pre_save.has_listeners(self.model) or post_save.has_listeners(self.model):
            raise ValueError(f"{self.model.__name__} has save receivers: save it with the ORM")
        for obj in objs:
            for name in self.defaulted:
                if not isinstance(getattr(obj, name), DatabaseDefault):
                    raise ValueError(
                        f"{self.model.__name__}.{name} is set by the database: "
                        "save a row with a value of its own there with the ORM"
                    )
        connection = connections[using]
        params = [
            field.get_db_prep_save(field.pre_save(obj, True), connection=connection)
            for obj in objs
            for field in self.fields
        ]
        key = (len(objs), returning and bool(self.returning), after)  # one SQL text, one key
        return Statement(self._sql.get(key) or self._write(key, connection), params)

    def _write(self, key: tuple[int, bool, str], connection) -> str:
        count, returning, after = key
        quote = connection.ops.quote_name
        table = quote(self.model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in self.fields)
        # With `after` the rows are a SELECT's, which PostgreSQL does not type by
        # the columns they go to, as it does a VALUES list's: each value is cast.
        values = [
            f"%s::{field.cast_db_type(connection)}" if after else "%s" for field in self.fields
        ]
        rows = ", ".join([f"({', '.join(values)})"] * count)
        source = f"VALUES {rows}"
        if after:
            source = f"SELECT * FROM ({source}) AS v WHERE EXISTS (SELECT FROM {after})"  # noqa: S608 - a clause name
        sql = f"INSERT INTO {table} ({columns}) {source}"  # noqa: S608 - the model's own names
        if self.ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(quote(field.column) for field in self.returning)}"
        self._sql[key] = sql
        return sql


class Update:
    """UPDATEs of a model's rows chosen by the values of `where` fields, their
    SQL written once per process for each set of fields they set, and prepared
    by PostgreSQL once per connection: as Insert, for the same reasons (an
    edit's compare-and-set was its one statement still compiled and planned
    anew). Each write also adds one to every field of `increments` (a version).
    Returns how many rows it changed; sends no signals, as QuerySet.update()."""

    def __init__(self, model: type[Model], *, where: Sequence[str], increments: Sequence[str] = ()):
        self.model = model
        self.where = [model._meta.get_field(name) for name in where]
        self.increments = [model._meta.get_field(name) for name in increments]
        self._sql: dict[tuple[str, ...], str] = {}

    def __call__(self, values: Mapping[str, Any], *where: Any, using: str = "default") -> int:
        sql, params, _ = self.statement(values, *where, using=using)
        with preparing_cursor(connections[using]) as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def statement(
        self, values: Mapping[str, Any], *where: Any, name: str = "", using: str = "default"
    ) -> Statement:
        """The UPDATE without running it, for execute_together(), where how many
        rows it changed is not told; with a `name`, it returns the key of each
        row it changed, for the statements after it to read by that name."""
        connection = connections[using]
        fields = [self.model._meta.get_field(name) for name in values]
        params = [
            field.get_db_prep_save(
                value.prepare_database_save(field) if isinstance(value, Model) else value,
                connection=connection,
            )
            for field, value in zip(fields, values.values(), strict=True)
        ]
        params += [
            field.get_db_prep_value(value, connection)
            for field, value in zip(self.where, where, strict=True)
        ]
        key = (tuple(values), bool(name))
        sql = self._sql.get(key) or self._write(key, fields, connection)
        return Statement(sql, params, name)

    def _write(self, key: tuple[tuple[str, ...], bool], fields, connection) -> str:
        _, returning = key
        quote = connection.ops.quote_name
        assignments = [f"{quote(field.column)} = %s" for field in fields] + [
            f"{quote(field.column)} = {quote(field.column)} + 1" for field in self.increments
        ]
        conditions = " AND ".join(f"{quote(field.column)} = %s" for field in self.where)
        table = quote(self.model._meta.db_table)
        sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {conditions}"  # noqa: S608 - the model's own names
        if returning:
            sql += f" RETURNING {quote(self.model._meta.pk.column)}"
        self._sql[key] = sql
        return sql


def _cursor(connection):
    return connection.cursor()


class _PreparingCursor(ServerBindingCursor):
    """Parameters bound by the server, and each statement prepared on its
    connection the first time (psycopg keeps up to 100 a connection). Django's
    own cursors bind on the client, which prepares nothing."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


class _LoggedPreparingCursor(_PreparingCursor):
    """For a connection whose queries Django logs (DEBUG, tests, the benchmark's
    capture): the log reads the statement from psycopg's `_query`, which psycopg
    3.3 keeps only for statements it does not prepare. It gets the statement with
    its values written in, as Django's client-bound cursors give it, so a logged
    query reads and runs the same whichever cursor ran it."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        super().execute(query, params, prepare=prepare, binary=binary)
        self._query = _Logged(ClientCursor(self.connection).mogrify(query, params).encode())
        return self


class _Logged:
    def __init__(self, query: bytes):
        self.query = query


def preparing_cursor(connection):
    """connection.cursor() (Django 5.2's BaseDatabaseWrapper._cursor), but over a
    _PreparingCursor: Django's wrapper is kept (errors, query logging and
    counting). Needs the connection's `prepare_threshold` set (settings.py):
    psycopg prepares nothing without one.

    The psycopg cursor is kept on its connection for the next statement rather
    than made and closed for each: making one (its adapters, its transformer)
    was about a twentieth of a create's CPU in the web worker, which runs seven
    statements through here. Leaving the `with` block leaves it open."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    logged = connection.queries_logged
    raw = connection.connection
    kept = getattr(connection, "_tracker_kept_cursors", None)
    if kept is None or kept[0] is not raw:  # a new connection: its own cursors
        kept = connection._tracker_kept_cursors = (raw, {})
    cursor = kept[1].get(logged)
    if cursor is None or cursor.closed:
        with connection.wrap_database_errors:
            cursor = (_LoggedPreparingCursor if logged else _PreparingCursor)(raw)
        kept[1][logged] = cursor
    return _LeftOpen(connection._prepare_cursor(cursor))


class _LeftOpen:
    """A kept cursor's wrapper in a `with` block that does not close it."""

    __slots__ = ("wrapper",)

    def __init__(self, wrapper):
        self.wrapper = wrapper

    def __enter__(self):
        return self.wrapper

    def __exit__(self, *exc_info) -> None:
        return None


def _maker(model: type[Model]) -> Callable[[str, list[str], tuple], Model]:
    """How a plan builds instances of `model` from a row: as Model.from_db does,
    but without running Model.__init__, which for a plain model only sets each
    column's value and sends pre_init and post_init to no one, at four times
    the cost (51 issues: 445 against 115 us). A model with an __init__ or a
    from_db of its own, or with receivers of either signal when the plan is
    made, goes through from_db."""
    if (
        model.__init__ is not Model.__init__
        or model.from_db.__func__ is not Model.from_db.__func__
        or pre_init.has_listeners(model)
        or post_init.has_listeners(model)
    ):
        return model.from_db

    def make(db: str, attnames: list[str], values) -> Model:
        obj = model.__new__(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        state = obj._state = ModelState()
        state.adding, state.db = False, db
        return obj

    return make


class _Populator(RelatedPopulator):
    """Django's RelatedPopulator (a select_related model of each row), building
    its model as _maker does (its populate(), Django 5.2, but for that)."""

    def __init__(self, klass_info, select, db):
        super().__init__(klass_info, select, db)
        self.make = _maker(self.model_cls)

    def populate(self, row, from_obj):
        if self.reorder_for_init:
            values = self.reorder_for_init(row)
        else:
            values = row[self.cols_start : self.cols_end]
        obj = None
        if values[self.pk_idx] is not None:
            obj = self.make(self.db, self.init_list, values)
            for populator in self.related_populators:
                populator.populate(row, obj)
        self.local_setter(from_obj, obj)
        if obj is not None:
            self.remote_setter(obj, from_obj)
