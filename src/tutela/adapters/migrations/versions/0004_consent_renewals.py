"""consent renewals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:25:58.611241
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_renewals",
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("since_version", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_consent_renewals")),
    )


def downgrade() -> None:
    op.drop_table("consent_renewals")
