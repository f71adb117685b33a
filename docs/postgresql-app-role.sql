-- What the service's own PostgreSQL role may do: everything the service needs, and on the access log
-- (audit_record) only read, append and seal. README.md, "Access log and grants", describes the roles.
--
-- Run as the tables' owner (the role that runs `python -m service migrate`) after every migrate; it is
-- idempotent. Replace avvikelser_app with the name of the role the service connects as.

GRANT USAGE ON SCHEMA public TO avvikelser_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO avvikelser_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO avvikelser_app;

-- The schema version is the migrating role's to change; `serve` only reads it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM avvikelser_app;

-- The access log: no UPDATE but of the seal columns, no DELETE, no TRUNCATE. (A table-level REVOKE also
-- takes back column grants, hence the column grant after it.) The trigger of migration 0007 refuses the
-- rest of what the column grant would allow: changing a seal once set.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_record FROM avvikelser_app;
GRANT UPDATE (chain_seq, prev_hash, hash) ON audit_record TO avvikelser_app;
