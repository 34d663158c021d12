"""tenant retention

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:37:49.106334
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_retention",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("keep", sa.String(length=50), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tenant_retention_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "purpose", name=op.f("pk_tenant_retention")),
    )


def downgrade() -> None:
    op.drop_table("tenant_retention")
