"""evaluation: survey answers, survey links, call-backs, flag reviews; indexes the indicators read through

Revision ID: 0005_evaluation
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_evaluation"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("satisfaction", sa.String(length=24), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("responded_at", TS, nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_survey_responses_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["recorded_by"], ["users.id"], name=op.f("fk_survey_responses_recorded_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("case_id", name=op.f("uq_survey_responses_case_id")),
    )
    op.create_table(
        "survey_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_survey_tokens_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_survey_tokens_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_tokens_token_hash")),
    )
    op.create_index("ix_survey_tokens_case", "survey_tokens", ["case_id"])
    op.create_table(
        "survey_callbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("sampled_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("called_at", TS, nullable=True),
        sa.Column("called_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_survey_callbacks_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["called_by"], ["users.id"], name=op.f("fk_survey_callbacks_called_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_callbacks")),
        sa.UniqueConstraint("month", "case_id", name=op.f("uq_survey_callbacks_month_case_id")),
    )
    op.create_table(
        "flag_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=120), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("case_ids", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.ForeignKeyConstraint(["by_user_id"], ["users.id"], name=op.f("fk_flag_reviews_by_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_reviews")),
        sa.UniqueConstraint("rule", "subject_key", "period", name=op.f("uq_flag_reviews_rule_subject_key_period")),
    )
    # Read paths of the indicators and flags on tables of the case package (see evaluation/models.py).
    op.create_index("ix_cases_filed_at", "cases", ["filed_at"])
    op.create_index("ix_cases_category_closed", "cases", ["category_id", "closed_at"])
    op.create_index("ix_case_events_action_at", "case_events", ["action", "at"])
    op.create_index("ix_case_requests_case_kind", "case_requests", ["case_id", "kind"])
    op.create_index("ix_handling_records_measure_at", "handling_records", ["measure", "at"])


def downgrade() -> None:
    op.drop_index("ix_handling_records_measure_at", table_name="handling_records")
    op.drop_index("ix_case_requests_case_kind", table_name="case_requests")
    op.drop_index("ix_case_events_action_at", table_name="case_events")
    op.drop_index("ix_cases_category_closed", table_name="cases")
    op.drop_index("ix_cases_filed_at", table_name="cases")
    op.drop_table("flag_reviews")
    op.drop_table("survey_callbacks")
    op.drop_index("ix_survey_tokens_case", table_name="survey_tokens")
    op.drop_table("survey_tokens")
    op.drop_table("survey_responses")
