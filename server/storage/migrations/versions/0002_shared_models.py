"""Model versions, the active pointer and the policy pack in the database, for several hosts.

Revision ID: 0002
Revises: 0001
Created: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("created", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.Column("artifact", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "shared_values",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("changed", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("shared_values")
    op.drop_table("model_versions")
