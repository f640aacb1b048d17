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


class Text(sa.TypeDecorator):
    """TEXT that both databases take: PostgreSQL refuses the NUL character, which no draft or
    name needs, so NUL is written (and looked up) as U+FFFD, the replacement character, in both;
    a client sending one gets its answer, never a database error."""
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


LIVE_JOB_STATES = ("queued", "running")

metadata = sa.MetaData()

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", Text, nullable=False),
    sa.Column("kind", Text, nullable=False),
    sa.Column("categories", Text, nullable=False),  # JSON list of category ids
    sa.Column("model_version", Text),
    sa.Column("platform", Text),
    sa.Column("surface", Text),
    sa.Column("text", Text),  # only with the employee's consent
    sa.Column("status", Text, nullable=False, server_default="new"),  # new / labelled / discarded
    sqlite_autoincrement=True,
)

daily_counts = sa.Table(
    "daily_counts", metadata,
    sa.Column("day", Text, primary_key=True),
    sa.Column("metric", Text, primary_key=True),  # checks, flagged, flagged:<category>, composers:<site>:<surface>:<rule>
    sa.Column("count", sa.Integer, nullable=False),
)

# The admin's data. Every change an admin makes is written together with its audit row, in one
# transaction.
examples = sa.Table(
    "examples", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", Text, nullable=False),
    sa.Column("text", Text, nullable=False),
    sa.Column("text_key", Text, nullable=False, unique=True),  # engine.dataset.duplicate_key(text)
    sa.Column("labels", Text, nullable=False),  # JSON list of category ids; [] is a clean example
    sa.Column("source", Text, nullable=False),  # "upload:<file>", "api", "feedback"
    sa.Column("feedback_id", sa.Integer),
    sa.Column("added_by", Text, nullable=False),
    sqlite_autoincrement=True,
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Text, nullable=False),
    sa.Column("actor", Text, nullable=False),
    sa.Column("action", Text, nullable=False),
    sa.Column("detail", Text, nullable=False),  # JSON object
    sqlite_autoincrement=True,
)

_LIVE_JOB = sa.text("state IN ('queued', 'running')")
jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", Text, primary_key=True),
    sa.Column("created", Text, nullable=False),
    sa.Column("requested_by", Text, nullable=False),
    sa.Column("state", Text, nullable=False),  # queued / running / succeeded / failed
    sa.Column("stage", Text, nullable=False, server_default=""),
    sa.Column("progress", REAL, nullable=False, server_default=sa.text("0")),
    sa.Column("log", Text, nullable=False, server_default=""),
    sa.Column("model_version", Text),
    sa.Column("error", Text),
    sa.Column("finished", Text),
    sa.Column("heartbeat", REAL, nullable=False),  # unix time of the runner's last sign of life
    # At most one queued or running job, whichever worker or host asks: the database says no.
    sa.Index("one_live_job", sa.text("(1)"), unique=True, sqlite_where=_LIVE_JOB, postgresql_where=_LIVE_JOB),
)

admins = sa.Table(
    "admins", metadata,
    sa.Column("name", Text, primary_key=True),
    sa.Column("password_hash", Text, nullable=False),
    sa.Column("created", Text, nullable=False),
)

admin_sessions = sa.Table(
    "admin_sessions", metadata,
    sa.Column("token_hash", Text, primary_key=True),  # sha256 of the cookie's token, never the token itself
    sa.Column("admin", Text, nullable=False),
    sa.Column("expires", REAL, nullable=False),
)

pending_uploads = sa.Table(
    "pending_uploads", metadata,
    sa.Column("id", Text, primary_key=True),
    sa.Column("admin", Text, nullable=False),
    sa.Column("created", REAL, nullable=False),
    sa.Column("filename", Text, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

evaluations = sa.Table(
    "evaluations", metadata,
    sa.Column("version", Text, primary_key=True),
    sa.Column("data_key", Text, primary_key=True),  # hash of the held-out file and the policy pack
    sa.Column("result", Text, nullable=False),
)

# What several hosts share through the database (server/replication.py): every model version's
# files, and the values every host must agree on.
model_versions = sa.Table(
    "model_versions", metadata,
    sa.Column("version", Text, primary_key=True),
    sa.Column("created", Text, nullable=False),
    sa.Column("sha256", Text, nullable=False),  # of the artifact: each host checks its copy against it
    sa.Column("metadata", Text, nullable=False),  # metadata.json
    sa.Column("report", Text, nullable=False),  # report.md
    sa.Column("artifact", sa.LargeBinary, nullable=False),  # model.joblib, a few MB
)

shared_values = sa.Table(
    "shared_values", metadata,
    sa.Column("name", Text, primary_key=True),  # active_model, policy_pack, model_versions (shared.py)
    sa.Column("value", Text),
    # Raised by every change; hosts poll the generations, a cheap query, to notice one.
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("changed", Text, nullable=False),
)
