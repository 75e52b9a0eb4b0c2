"""CHECK constraints: "one of these values" as equalities joined by OR; the notification tables' checks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 00:30:00

SQLite builds the lookup table of an IN (...) list again for every row a CHECK constraint
tests: writing 20,000 imported customers spent an eighth of its work there, on their
ownership history rows.
Every value-list constraint is now written as equalities joined by OR, as the models write it
(rollout.database.one_of): the same rule, and NULL still passes where it passed.

The notification tables' constraints (channel and outbox kinds, outbox status, attempts) were
in the models but no migration created them; they are created here, once no stored row breaks
them.

On SQLite the tables' schema text is rewritten in place, as in 0003: recreating a table would
drop it while foreign keys are enforced, deleting the rows that refer to it.
"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

#: (table, constraint, test) of every value-list constraint, as the migrations before created it.
VALUE_LISTS = [
    ('activities', 'ck_activities_kind_known', "kind IN ('visit', 'call', 'meeting', 'message')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_impact', "impact IN ('low', 'medium', 'high')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_kind', "kind IN ('standard', 'normal', 'emergency')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_raised',
     "risk_raised_level IS NULL OR risk_raised_level IN ('low', 'medium', 'high', 'critical')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_risk',
     "risk_level IN ('low', 'medium', 'high', 'critical')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_state',
     "state IN ('draft', 'submitted', 'assessed', 'awaiting_window', 'approved', 'rejected', 'deferred', 'scheduled', 'implementing', 'implemented', 'reviewed', 'closed', 'cancelled')"),
    ('change_requests', 'ck_change_requests_ck_change_requests_urgency',
     "urgency IN ('low', 'medium', 'high', 'critical')"),
    ('customer_assignments', 'ck_customer_assignments_kind_known',
     "kind IN ('create', 'claim', 'release', 'transfer', 'handoff')"),
    ('customer_fields', 'ck_customer_fields_kind_known',
     "kind IN ('text', 'number', 'date', 'choice', 'multi_choice', 'phone', 'email')"),
    ('import_batches', 'ck_import_batches_ck_import_batch_status',
     "status IN ('draft', 'running', 'completed', 'failed', 'undone')"),
    ('interviews', 'ck_interviews_method', "method IN ('interview', 'workshop', 'observation')"),
    ('leads', 'ck_leads_status_known', "status IN ('new', 'handed', 'accepted', 'converted', 'rejected')"),
    ('opportunities', 'ck_opportunities_stage_known',
     "stage IN ('lead', 'visited', 'quoted', 'negotiating', 'won', 'lost')"),
    ('plan_targets', 'ck_plan_targets_metric_known',
     "metric IN ('signed_amount', 'new_customers', 'visits', 'quotes', 'won_deals')"),
    ('process_nodes', 'ck_process_nodes_ck_process_nodes_kind',
     "kind IN ('start', 'end', 'task', 'decision', 'exception', 'subprocess', 'parallel')"),
    ('process_raci', 'ck_process_raci_ck_process_raci_kind', "kind IN ('R', 'A', 'C', 'I')"),
    ('process_versions', 'ck_process_versions_ck_process_versions_lane_by', "lane_by IN ('role', 'department')"),
    ('process_versions', 'ck_process_versions_ck_process_versions_status',
     "status IN ('draft', 'approved', 'superseded')"),
    ('quote_approval_steps', 'ck_quote_approval_steps_status_known',
     "status IN ('waiting', 'pending', 'approved', 'rejected', 'cancelled')"),
    ('quotes', 'ck_quotes_status_known', "status IN ('draft', 'pending', 'approved', 'rejected', 'withdrawn')"),
    ('releases', 'ck_releases_ck_releases_state', "state IN ('planned', 'implemented')"),
    ('requirements', 'ck_requirements_priority', "priority IN ('must', 'should', 'could', 'wont')"),
    ('requirements', 'ck_requirements_status',
     "status IN ('proposed', 'accepted', 'rejected', 'implemented', 'merged')"),
    ('retro_action_items', 'ck_retro_action_items_ck_retro_action_items_status',
     "status IN ('open', 'in_progress', 'done', 'dropped')"),
    ('retros', 'ck_retros_ck_retros_status', "status IN ('collecting', 'discussing', 'closed')"),
    ('rollout_phases', 'ck_rollout_phases_ck_rollout_phases_kind', "kind IN ('pilot', 'wave', 'everyone')"),
    ('sales_plans', 'ck_sales_plans_level_known', "level IN ('company', 'department', 'team', 'rep')"),
    ('sales_plans', 'ck_sales_plans_period_kind_known', "period_kind IN ('month', 'quarter', 'year')"),
    ('sales_plans', 'ck_sales_plans_status_known', "status IN ('draft', 'submitted', 'approved', 'locked')"),
    ('survey_questions', 'ck_survey_questions_condition_join', "condition_join IN ('and', 'or')"),
    ('survey_questions', 'ck_survey_questions_type',
     "type IN ('single', 'multiple', 'text', 'long_text', 'integer', 'decimal', 'date', 'rating5', 'rating10', 'likert', 'ranking', 'note')"),
    ('surveys', 'ck_surveys_recurrence', "recurrence IS NULL OR recurrence IN ('monthly')"),
    ('surveys', 'ck_surveys_status', "status IN ('draft', 'open', 'closed')"),
    ('training_enrolments', 'ck_training_enrolments_attendance_known',
     "attendance IS NULL OR attendance IN ('present', 'late', 'excused', 'absent')"),
    ('training_enrolments', 'ck_training_enrolments_status_known', "status IN ('enrolled', 'waitlisted', 'cancelled')"),
    ('training_sessions', 'ck_training_sessions_kind_known', "kind IN ('lecture', 'hands_on', 'drill', 'qa')"),
    ('training_sessions', 'ck_training_sessions_status_known', "status IN ('draft', 'scheduled', 'cancelled')"),
    ('training_support_requests', 'ck_training_support_requests_status_known',
     "status IN ('open', 'escalated', 'answered')"),
    ('training_tracks', 'ck_training_tracks_tier_known', "tier IN ('basic', 'advanced', 'admin')"),
]

#: (table, constraint, test) of the notification tables' constraints, created here.
ADDED = [
    ('notification_channels', 'ck_notification_channels_ck_notification_channels_kind',
     "kind = 'email' OR kind = 'dingtalk' OR kind = 'wecom' OR kind = 'feishu'"),
    ('department_robots', 'ck_department_robots_ck_department_robots_kind',
     "kind = 'dingtalk' OR kind = 'wecom' OR kind = 'feishu'"),
    ('outbox_messages', 'ck_outbox_messages_ck_outbox_messages_attempts', "attempts >= 0"),
    ('outbox_messages', 'ck_outbox_messages_ck_outbox_messages_kind',
     "kind = 'email' OR kind = 'dingtalk' OR kind = 'wecom' OR kind = 'feishu'"),
    ('outbox_messages', 'ck_outbox_messages_ck_outbox_messages_status',
     "status = 'pending' OR status = 'sending' OR status = 'sent' OR status = 'dead'"),
]

_VALUE_LIST = re.compile(r"(\w+) IN \(([^()]*)\)")


def or_chain(test: str) -> str:
    """``kind IN ('a', 'b')`` → ``kind = 'a' OR kind = 'b'`` (the rest of the test unchanged)."""
    return _VALUE_LIST.sub(lambda match: " OR ".join(f"{match[1]} = {value.strip()}"
                                                    for value in match[2].split(",")), test)


def _constraint(name: str, test: str) -> str:
    return f"CONSTRAINT {name} CHECK ({test})"


def _require_rows_pass(table: str, name: str, test: str) -> None:
    broken = op.get_bind().execute(sa.text(f"SELECT count(*) FROM {table} WHERE NOT ({test})")).scalar_one()
    if broken:
        raise RuntimeError(f"{table}: {broken} rows break {name} ({test}); correct them before upgrading")


def _rewrite_sqlite_tables(rewrite) -> None:
    """Give each table the schema text rewrite(table, text) returns (sqlite.org's procedure for CHECK changes)."""
    bind = op.get_bind()
    tables = sorted({table for table, _name, _test in VALUE_LISTS + ADDED})
    schema_version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    for table in tables:
        sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"),
                           {"table": table}).scalar_one()
        bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :table"),
                     {"sql": rewrite(table, sql), "table": table})
    # A new schema version makes every connection read the changed table definitions.
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(schema_version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if bind.exec_driver_sql("PRAGMA integrity_check").scalar_one() != "ok":
        raise RuntimeError("the CHECK constraint rewrite failed the integrity check")


def _replaced(sql: str, old: str, new: str) -> str:
    if sql.count(old) != 1:
        raise RuntimeError(f"expected {old!r} once in: {sql}")
    return sql.replace(old, new)


def _sqlite_upgrade(table: str, sql: str) -> str:
    for _table, name, test in (entry for entry in VALUE_LISTS if entry[0] == table):
        sql = _replaced(sql, _constraint(name, test), _constraint(name, or_chain(test)))
    for _table, name, test in (entry for entry in ADDED if entry[0] == table):
        end = sql.rstrip().rindex(")")
        sql = f"{sql[:end].rstrip()}, \n\t{_constraint(name, test)}\n{sql[end:]}"
    return sql


def _sqlite_downgrade(table: str, sql: str) -> str:
    for _table, name, test in (entry for entry in ADDED if entry[0] == table):
        sql = _replaced(sql, f", \n\t{_constraint(name, test)}", "")
    for _table, name, test in (entry for entry in VALUE_LISTS if entry[0] == table):
        sql = _replaced(sql, _constraint(name, or_chain(test)), _constraint(name, test))
    return sql


def upgrade():
    for table, name, test in ADDED:
        _require_rows_pass(table, name, test)
    if op.get_bind().dialect.name == 'sqlite':
        _rewrite_sqlite_tables(_sqlite_upgrade)
        return
    for table, name, test in VALUE_LISTS:
        op.drop_constraint(op.f(name), table, type_='check')
        op.create_check_constraint(op.f(name), table, or_chain(test))
    for table, name, test in ADDED:
        op.create_check_constraint(op.f(name), table, test)


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        _rewrite_sqlite_tables(_sqlite_downgrade)
        return
    for table, name, _test in ADDED:
        op.drop_constraint(op.f(name), table, type_='check')
    for table, name, test in VALUE_LISTS:
        op.drop_constraint(op.f(name), table, type_='check')
        op.create_check_constraint(op.f(name), table, test)
