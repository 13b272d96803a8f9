"""The trial and the subscription: subscriptions, charges, checkout holds and notices.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=True),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("charge_id", sa.String(length=128), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("paid_until", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("renewal_canceled_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_subscriptions_couple_id_couples"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["users.id"],
            name=op.f("fk_subscriptions_payer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_subscriptions_charge_id")),
        sa.UniqueConstraint("payload_hash", name=op.f("uq_subscriptions_payload_hash")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_payer_id"), ["payer_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("charge_id", sa.String(length=128), nullable=False),
        sa.Column("provider_charge_id", sa.String(length=128), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=True),
        sa.Column("couple_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("period_end", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("paid_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_payments_couple_id_couples"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"], ["users.id"], name=op.f("fk_payments_payer_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_payments_subscription_id_subscriptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_payments_charge_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payments_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "checkout_holds",
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("payer_id", sa.BigInteger(), nullable=False),
        sa.Column("nonce", sa.String(length=24), nullable=False),
        sa.Column("expires_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_checkout_holds_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payer_id"],
            ["users.id"],
            name=op.f("fk_checkout_holds_payer_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("couple_id", name=op.f("pk_checkout_holds")),
    )

    op.create_table(
        "billing_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("about", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_billing_notices_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_billing_notices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_notices")),
        sa.UniqueConstraint(
            "user_id", "couple_id", "kind", "about", name="uq_billing_notices_once"
        ),
    )
    with op.batch_alter_table("billing_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_billing_notices_couple_id"), ["couple_id"], unique=False
        )
        batch_op.create_index(
            "ix_billing_notices_status_next_run_at", ["status", "next_run_at"], unique=False
        )

    # The trial belongs to a pair: look up a pair's earlier couples quickly.
    with op.batch_alter_table("couples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_couples_partner_a_id_partner_b_id", ["partner_a_id", "partner_b_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("couples", schema=None) as batch_op:
        batch_op.drop_index("ix_couples_partner_a_id_partner_b_id")
    with op.batch_alter_table("billing_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_notices_status_next_run_at")
        batch_op.drop_index(batch_op.f("ix_billing_notices_couple_id"))
    op.drop_table("billing_notices")
    op.drop_table("checkout_holds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_subscription_id"))
    op.drop_table("payments")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_payer_id"))
    op.drop_table("subscriptions")
