"""policy versions, purpose endings, outbox idempotency keys, subject language and closing time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 02:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "purpose_endings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("ended_at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "subject_id", "purpose", name=op.f("pk_purpose_endings")
        ),
    )
    with op.batch_alter_table("declarations") as batch:
        batch.add_column(sa.Column("label", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("effective_at", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("published_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("material", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("applied_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch.create_index("ix_outbox_idempotency_key", ["idempotency_key"], unique=True)
    with op.batch_alter_table("subjects") as batch:
        batch.add_column(sa.Column("language", sa.String(length=35), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subjects") as batch:
        batch.drop_column("closed_at")
        batch.drop_column("language")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_idempotency_key")
        batch.drop_column("idempotency_key")
    with op.batch_alter_table("declarations") as batch:
        batch.drop_column("applied_at")
        batch.drop_column("material")
        batch.drop_column("published_by")
        batch.drop_column("effective_at")
        batch.drop_column("label")
    op.drop_table("purpose_endings")
