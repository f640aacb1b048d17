"""The schema as it was before migrations: feedback, daily counts and the admin's data.

Revision ID: 0001
Revises:
Created: 2026-12-02

A SQLite database made by an earlier Draftguard (CREATE TABLE IF NOT EXISTS at every start, no
revision table) already has these tables, with its data: like that code, this creates each table
and the index only if it does not exist, so such a database is adopted as it is, then marked as
at this revision.
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite's REAL is an 8-byte float; PostgreSQL's REAL has 4 bytes, too coarse for unix times.
REAL = sa.Double().with_variant(sa.REAL(), "sqlite")
LIVE_JOB = sa.text("state IN ('queued', 'running')")


def create_table(name: str, *columns, **options) -> None:
    op.create_table(name, *columns, if_not_exists=True, **options)


def upgrade() -> None:
    create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text),
        sa.Column("platform", sa.Text),
        sa.Column("surface", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="new"),
        sqlite_autoincrement=True,
    )
    create_table(
        "daily_counts",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("metric", sa.Text, primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    create_table(
        "examples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("text_key", sa.Text, nullable=False, unique=True),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("feedback_id", sa.Integer),
        sa.Column("added_by", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    create_table(
        "jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("stage", sa.Text, nullable=False, server_default=""),
        sa.Column("progress", REAL, nullable=False, server_default=sa.text("0")),
        sa.Column("log", sa.Text, nullable=False, server_default=""),
        sa.Column("model_version", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("finished", sa.Text),
        sa.Column("heartbeat", REAL, nullable=False),
    )
    # At most one queued or running job, whichever worker or host asks.
    op.create_index("one_live_job", "jobs", [sa.text("(1)")], unique=True, if_not_exists=True,
                    sqlite_where=LIVE_JOB, postgresql_where=LIVE_JOB)
    create_table(
        "admins",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created", sa.Text, nullable=False),
    )
    create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("admin", sa.Text, nullable=False),
        sa.Column("expires", REAL, nullable=False),
    )
    create_table(
        "pending_uploads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("admin", sa.Text, nullable=False),
        sa.Column("created", REAL, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    create_table(
        "evaluations",
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("data_key", sa.Text, primary_key=True),
        sa.Column("result", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("evaluations", "pending_uploads", "admin_sessions", "admins", "jobs", "audit", "examples",
                  "daily_counts", "feedback"):
        op.drop_table(table)
