"""Create the PostgreSQL database a ``VISIONFLOW_DATABASE_URL`` names when it does not exist
(``make serve-ray``): ``python scripts/ensure_database.py postgresql+psycopg://user@host/db``."""

from __future__ import annotations

import sys

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def main(url: str) -> int:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        print(f"not a PostgreSQL URL with a database name: {url!r}", file=sys.stderr)
        return 2
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
        ).fetchone()
        if found is None:
            name = sql.Identifier(parsed.database)
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
            print(f"created database {parsed.database!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
