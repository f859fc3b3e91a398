"""The crawler's PostgreSQL database: a connection that notices a dead server, and the schema's migrations
(the files in gmwcrawler/postgres/migrations/, applied in name order, once). Used by the sink, by
`scrapy gmw history` and by the preflight check, none of which needs the others."""

from __future__ import annotations

import importlib
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg
# psycopg is imported where a DSN is set: every crawl loads the sink, few write to PostgreSQL,
# and the import is 120 ms of start-up (bench/README.md).


def connect(dsn: str, timeout: int, statement_timeout: float = 60) -> psycopg.Connection:
    """A connection that notices a dead or blackholed server (TCP keepalives, and a user timeout for data
    sent and never acknowledged) and gives up on a statement that waits too long (a lock held by a
    migration elsewhere): the write fails, is tried once more, then goes to the fallback file."""
    import psycopg

    return psycopg.connect(dsn, connect_timeout=timeout, application_name="gmwcrawler", keepalives=1,
                           keepalives_idle=10, keepalives_interval=5, keepalives_count=3, tcp_user_timeout=30_000,
                           options=f"-c statement_timeout={int(statement_timeout * 1000)}")


class MigrationRefused(Exception):
    """The role may not create or change the crawler's tables, and some migration is not applied yet."""


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations not applied yet, in name order; returns their names. A migration is an SQL
    file, or a Python module whose migrate(conn) needs Python (004: the identity key of each URL)."""
    applied: list[str] = []
    with conn.transaction():
        # the lock first: workers started together on a fresh database would otherwise race to create the
        # migrations table, and all but one fail on its unique name (tests/test_postgres.py)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('gmwcrawler-migrations'))")
        # created only where missing: CREATE … IF NOT EXISTS needs the right to create even when the table is
        # there, and a role that may only read and write rows can crawl into a database migrated by its owner
        if conn.execute("SELECT to_regclass('gmw_schema_migrations')").fetchone()[0] is None:
            _ddl(conn, "the migrations table", "CREATE TABLE gmw_schema_migrations (name text PRIMARY KEY,"
                 " applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT name FROM gmw_schema_migrations")}
        for entry in sorted(resources.files("gmwcrawler.postgres.migrations").iterdir(), key=lambda e: e.name):
            if entry.name in done or not entry.name[:1].isdigit() or not entry.name.endswith((".sql", ".py")):
                continue
            if entry.name.endswith(".sql"):
                _ddl(conn, entry.name, entry.read_text("utf-8"))
            else:
                _ddl(conn, entry.name, importlib.import_module(f"gmwcrawler.postgres.migrations.{entry.name[:-3]}").migrate)
            conn.execute("INSERT INTO gmw_schema_migrations (name) VALUES (%s)", (entry.name,))
            applied.append(entry.name)
    return applied


def _ddl(conn: psycopg.Connection, what: str, statement: Any) -> None:
    import psycopg

    try:
        if callable(statement):
            statement(conn)
        else:
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege as exc:
        user = conn.info.user
        raise MigrationRefused(f"PostgreSQL role {user!r} may not apply {what} ({str(exc).strip().splitlines()[0]});"
                               " apply the migrations once as the database's owner (any crawl run by it does),"
                               f" or grant {user!r} CREATE on the schema") from None
