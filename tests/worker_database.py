"""One PostgreSQL database per pytest-xdist worker, so parallel workers never share tables.

`make test` runs the suite in parallel (pytest-xdist). On SQLite each worker has its own in-memory or temp-file
databases anyway; on PostgreSQL all workers would use TEST_DATABASE_URL's one database, and every test drops and
creates all tables. So each worker gets a database of its own beside it, named after it and the worker
(``test_gw0``, ``test_gw1``, ... for CI's ``test``), created on first use. (Schemas in one database were tried:
PostgreSQL's reflection and name lookup see every schema on the search_path, so tables left in ``public`` leaked
into the workers' view; the extensions the app needs, pg_trgm and btree_gist, are per database anyway.)"""

import os


def use_worker_database():
    """Point TEST_DATABASE_URL at this xdist worker's own database (creating it); a no-op outside xdist or on
    SQLite. Must run before ``config`` is imported: TestConfig reads the variable once."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not worker or not url.startswith("postgresql"):
        return
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ["TEST_DATABASE_URL"] = base.set(database=name).render_as_string(hide_password=False)
