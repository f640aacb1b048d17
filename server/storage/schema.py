"""The tables, as the repositories query them. Changing them takes a migration too
(server/storage/migrations/versions/; tests/test_storage.py checks that both agree).

JSON values (feedback categories, example labels, audit details, evaluation results) are stored
as text, which reads the same in SQLite and PostgreSQL. Draft text is stored only in feedback
rows whose author consented.
"""
from __future__ import annotations

import sqlalchemy as sa

# SQLite's REAL is an 8-byte float; PostgreSQL's REAL has 4 bytes, too coarse for unix times.
REAL = sa.Double().with_variant(sa.REAL(), "sqlite")

LIVE_JOB_STATES = ("queued", "running")

metadata = sa.MetaData()

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("categories", sa.Text, nullable=False),  # JSON list of category ids
    sa.Column("model_version", sa.Text),
    sa.Column("platform", sa.Text),
    sa.Column("surface", sa.Text),
    sa.Column("text", sa.Text),  # only with the employee's consent
    sa.Column("status", sa.Text, nullable=False, server_default="new"),  # new / labelled / discarded
    sqlite_autoincrement=True,
)

daily_counts = sa.Table(
    "daily_counts", metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),  # checks, flagged, flagged:<category>
    sa.Column("count", sa.Integer, nullable=False),
)

# The admin's data. Every change an admin makes is written together with its audit row, in one
# transaction.
examples = sa.Table(
    "examples", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_key", sa.Text, nullable=False, unique=True),  # train.dataset.duplicate_key(text)
    sa.Column("labels", sa.Text, nullable=False),  # JSON list of category ids; [] is a clean example
    sa.Column("source", sa.Text, nullable=False),  # "upload:<file>", "api", "feedback"
    sa.Column("feedback_id", sa.Integer),
    sa.Column("added_by", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object
    sqlite_autoincrement=True,
)

_LIVE_JOB = sa.text("state IN ('queued', 'running')")
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # queued / running / succeeded / failed
    sa.Column("stage", sa.Text, nullable=False, server_default=""),
    sa.Column("progress", REAL, nullable=False, server_default=sa.text("0")),
    sa.Column("log", sa.Text, nullable=False, server_default=""),
    sa.Column("model_version", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("finished", sa.Text),
    sa.Column("heartbeat", REAL, nullable=False),  # unix time of the runner's last sign of life
    # At most one queued or running job, whichever worker or host asks: the database says no.
    sa.Index("one_live_job", sa.text("(1)"), unique=True, sqlite_where=_LIVE_JOB, postgresql_where=_LIVE_JOB),
)

admins = sa.Table(
    "admins", metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created", sa.Text, nullable=False),
)

admin_sessions = sa.Table(
    "admin_sessions", metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),  # sha256 of the cookie's token, never the token itself
    sa.Column("admin", sa.Text, nullable=False),
    sa.Column("expires", REAL, nullable=False),
)

pending_uploads = sa.Table(
    "pending_uploads", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("admin", sa.Text, nullable=False),
    sa.Column("created", REAL, nullable=False),
    sa.Column("filename", sa.Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

evaluations = sa.Table(
    "evaluations", metadata,
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("data_key", sa.Text, primary_key=True),  # hash of the held-out file and the policy pack
    sa.Column("result", sa.Text, nullable=False),
)
