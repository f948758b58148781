-- Finance views: a role on every API key, server-side sessions for the finance pages, and the
-- indexes that the billing-run and revenue reports read by.

-- +goose Up
-- Keys made before roles existed could create and read everything: they stay write keys.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'write' CHECK (role IN ('admin', 'write', 'finance'));
ALTER TABLE api_keys ALTER COLUMN role DROP DEFAULT;

-- A signed-in browser. The cookie carries a random id; only its SHA-256 is stored, so a copy of the
-- table signs nobody in. Revoking the key ends its sessions.
CREATE TABLE web_sessions (
    id_hash    bytea PRIMARY KEY,
    api_key_id uuid NOT NULL REFERENCES api_keys ON DELETE CASCADE,
    csrf_token text NOT NULL,               -- sent back with every form that changes something
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- A run's charges, all or by status, in id order (the drill-down and its export).
CREATE INDEX charges_billing_run_status ON charges (billing_run_id, status, id);
-- Collected, failed and refunded amounts by the day a charge reached its status.
CREATE INDEX charges_updated ON charges (updated_at);

-- +goose Down
DROP INDEX charges_updated;
DROP INDEX charges_billing_run_status;
DROP TABLE web_sessions;
ALTER TABLE api_keys DROP COLUMN role;
