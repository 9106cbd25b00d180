"""ticket events are append-only in the database too

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

The ORM already refuses to update or delete a TicketEvent; these triggers make the database refuse it for
every writer (bulk statements, psql, a future bug), so the audit trail cannot be rewritten quietly.
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

MESSAGE = "ticket events are append-only"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION ticket_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$""")
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ticket_event_no_{action.lower()} BEFORE {action} ON ticket_event "
                       f"FOR EACH ROW EXECUTE FUNCTION ticket_event_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ticket_event_no_{action.lower()} BEFORE {action} ON ticket_event "
                       f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade():
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER ticket_event_no_{action} ON ticket_event"
                   if op.get_bind().dialect.name == "postgresql" else f"DROP TRIGGER ticket_event_no_{action}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ticket_event_append_only()")
