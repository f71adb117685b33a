"""audit_record is append-only on PostgreSQL: a trigger refuses UPDATE (except the seal), DELETE and TRUNCATE

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00

The one change the service makes to a stored record is the seal: the sealer sets chain_seq, prev_hash
and hash, once, on a record that has none. The trigger lets exactly that through and refuses every other
UPDATE, every DELETE and TRUNCATE, whoever runs it. It does not stop a role that may switch triggers off
(the table's owner, a superuser): the production set-up in README.md ("Access log and grants") keeps the
application's role from being either, and the hash chain with heads kept outside the database covers
those who are.

SQLite: nothing. Whoever can write the database file can drop a trigger there, and the file has no roles
to tell the application from anyone else; the chain and the external heads are its protection.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEAL = "'chain_seq', 'prev_hash', 'hash'"

_FUNCTION = f"""
CREATE FUNCTION audit_record_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
       AND NEW.chain_seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND to_jsonb(NEW) - ARRAY[{_SEAL}] = to_jsonb(OLD) - ARRAY[{_SEAL}] THEN
        RETURN NEW;  -- the seal: set once, on a record that has none, and nothing else changed
    END IF;
    RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Only the seal (chain_seq, prev_hash, hash) may be set, once, on an unsealed record.';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute("CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record "
               "FOR EACH ROW EXECUTE FUNCTION audit_record_append_only()")
    op.execute("CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record")
    op.execute("DROP TRIGGER IF EXISTS audit_record_append_only ON audit_record")
    op.execute("DROP FUNCTION IF EXISTS audit_record_append_only()")
