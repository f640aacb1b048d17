"""Alembic's entry point. The server passes the connection that holds the migration lock
(server/storage/migrate.py); the `alembic` command line (alembic.ini) takes that lock on the
database the DRAFTGUARD_* environment names."""
from alembic import context

from server import config
from server.storage import migrate
from server.storage.database import Database
from server.storage.schema import metadata


def run_migrations(connection) -> None:
    # render_as_batch: SQLite alters a table by copying it, which Alembic's batch mode does.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.config.attributes.get("connection") is not None:
    run_migrations(context.config.attributes["connection"])
else:
    database = Database(config.from_env()["DATABASE_URL"])
    database.prepare_folder()
    with migrate.locked(database) as connection:
        run_migrations(connection)
