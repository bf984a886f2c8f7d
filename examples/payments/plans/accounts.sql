-- The payments example's accounts as a table: the same four accounts as entities.json.
-- Runs on SQLite (sqlite3 accounts.db < accounts.sql) and PostgreSQL (psql -f accounts.sql).
DROP TABLE IF EXISTS accounts;
CREATE TABLE accounts (
  id                text PRIMARY KEY,
  owner_id          text NOT NULL,
  classification    text NOT NULL,
  encrypted_at_rest boolean NOT NULL
);
-- Plans for a customer select by owner: this index serves them.
CREATE INDEX accounts_owner_idx ON accounts (owner_id);
INSERT INTO accounts (id, owner_id, classification, encrypted_at_rest) VALUES
  ('a1', 'alice', 'internal', TRUE),
  ('a2', 'bob',   'pci',      TRUE),
  ('a3', 'alice', 'pci',      FALSE),
  ('a4', 'dave',  'public',   FALSE);
