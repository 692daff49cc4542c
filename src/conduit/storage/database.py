"""The SQLAlchemy engine and a session per request, bound to the app in the factory."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from conduit.extensions import Extension
from conduit.settings import Settings

log = logging.getLogger("conduit.storage.database")

#: Requests served by the read engine: they never write (no view of theirs commits).
READ_METHODS = frozenset({"GET", "HEAD"})

#: Stable constraint names, so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; ``timestamptz`` on PostgreSQL, naive UTC text on SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _postgres_connect_args(settings: Settings, statement_timeout_ms: int) -> dict[str, Any]:
    args: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout, "application_name": "conduit"}
    if statement_timeout_ms:  # a startup option: 0 sends none (PgBouncer refuses "options")
        args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return args


def make_engine(settings: Settings, *, reads: bool = False) -> Engine:
    """The engine for writes, the CLI and migrations; with *reads*, the one for GET and HEAD requests
    on PostgreSQL: its own pool, whose connections start with DB_READ_STATEMENT_TIMEOUT_MS (a startup
    option, so no ``SET`` per request) and run in autocommit (no ``BEGIN``, no closing ``ROLLBACK``)."""
    url = settings.database_url
    # SQL parameters hold password hashes, e-mails and bodies: outside development an error message (and
    # so a traceback in the log or Sentry) shows the statement without them.
    hide = settings.conduit_env != "development"
    if settings.is_sqlite:
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 5}, hide_parameters=hide)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        timeout = settings.db_statement_timeout_ms
        if reads and settings.db_read_statement_timeout_ms:
            timeout = settings.db_read_statement_timeout_ms
        engine = create_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            # Reads do not ping: a dead connection fails their statement, which ReadSession runs again
            # on a new one (the whole pool is recycled at the first disconnect). Writes ping: a write
            # cannot be replayed blindly.
            pool_pre_ping=not reads,
            pool_recycle=1800,
            connect_args=_postgres_connect_args(settings, timeout),
            isolation_level="AUTOCOMMIT" if reads else None,
            hide_parameters=hide,
        )
    if settings.slow_query_ms:
        _log_slow_queries(engine, settings.slow_query_ms / 1000)
    return engine


class ReadSession(Session):
    """The session of a read request. Its connection is in autocommit, so each statement stands alone
    and none writes: a statement that fails because the server dropped the connection (PostgreSQL
    restarted, a failover) is run once more, on a new connection. This replaces ``pool_pre_ping``,
    which cost a ``SELECT 1`` round trip before every request."""

    def _execute_internal(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._execute_internal(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.warning("read retried on a new connection: %s", str(exc.orig).splitlines()[0])
            self.close()
            return super()._execute_internal(*args, **kwargs)


def _is_read_request() -> bool:
    return has_request_context() and request.method in READ_METHODS


def _log_slow_queries(engine: Engine, threshold: float) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _stop(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        elapsed = time.perf_counter() - conn.info["query_started"].pop()
        if elapsed >= threshold:
            log.warning("slow query (%.1f ms): %s", elapsed * 1000, " ".join(statement.split())[:500])


class Database:
    """Owns the engine; hands each request (or CLI command) one session, closed at teardown."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        #: GET and HEAD requests' engine: the same as :attr:`engine` on SQLite (see :func:`make_engine`).
        self.read_engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._read_factory: sessionmaker[Session] | None = None

    def init_app(self, app: Flask, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.read_engine = self.engine if settings.is_sqlite else make_engine(settings, reads=True)
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        read_class = Session if settings.is_sqlite else ReadSession
        self._read_factory = sessionmaker(bind=self.read_engine, class_=read_class, expire_on_commit=False)
        DATABASE.install(app, self)
        app.teardown_appcontext(self._close_session)

    @property
    def engines(self) -> list[Engine]:
        """Every distinct engine (one on SQLite, two on PostgreSQL)."""
        return list({id(engine): engine for engine in (self.engine, self.read_engine) if engine}.values())

    @property
    def session(self) -> Session:
        reads = _is_read_request()
        name = "_db_read_session" if reads else "_db_session"
        session: Session | None = g.get(name)
        if session is None:
            factory = self._read_factory if reads else self._factory
            if factory is None:
                raise RuntimeError("Database.init_app() was not called")
            session = factory()
            setattr(g, name, session)
        return session

    def _close_session(self, _exc: BaseException | None) -> None:
        for name in ("_db_read_session", "_db_session"):
            session: Session | None = g.pop(name, None)
            if session is None:
                continue
            try:
                session.close()
            except SQLAlchemyError as exc:
                # The ROLLBACK of a connection the server has just dropped (PostgreSQL restarting): raised
                # here, after the response is made, it would replace that response with gunicorn's 500.
                log.warning("closing the database session failed: %s", str(exc).splitlines()[0])
                session.invalidate()

    @contextmanager
    def standalone_session(self) -> Iterator[Session]:
        """A session outside any request, for the CLI."""
        if self._factory is None:
            raise RuntimeError("Database.init_app() was not called")
        with self._factory() as session:
            yield session

    def dispose(self) -> None:
        for engine in self.engines:
            engine.dispose()


DATABASE: Extension[Database] = Extension("db")


def get_db() -> Database:
    """The :class:`Database` of the current app."""
    return DATABASE.get()


def session() -> Session:
    """The current request's session."""
    return get_db().session


def insert_ignoring_duplicates(db_session: Session, model: type[Base], rows: list[dict[str, Any]]) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING``: idempotent writes that cannot race into a 500. Returns the
    number of rows inserted."""
    if not rows:
        return 0
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(model).values(rows).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(model).values(rows).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"unsupported database dialect {dialect}")
    # The rows inserted, counted from RETURNING: the driver's rowcount is -1 here with psycopg.
    key = sa_inspect(model).primary_key[0]
    return len(db_session.execute(statement.returning(key)).all())
