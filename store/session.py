"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.values import dump_json, load_json

# Strict JSON in, repaired JSON out (store/values.py); hide_parameters keeps a failing statement's bound
# values (a whole $in list, a document's text) out of exception messages and therefore out of the logs.
_ENGINE_ARGS = {"json_serializer": dump_json, "json_deserializer": load_json, "hide_parameters": True}


def create_db_engine(url: str) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys and real SAVEPOINT support."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **_ENGINE_ARGS)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **_ENGINE_ARGS)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite defers BEGIN until the first DML, which breaks SAVEPOINTs; take control of BEGIN
    # ourselves as SQLAlchemy's documentation recommends.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # noqa: ANN001
        conn.exec_driver_sql("BEGIN")


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def database_error(sessions: sessionmaker[Session]) -> str | None:
    """None if the database answers a trivial query, else the driver error's class name."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return type(exc).__name__
    return None
