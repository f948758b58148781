-- Idempotency keys of the API's POST requests: the response to replay for a key, stored in the
-- same transaction as the request's effect. Keys are scoped to the API key that sent them, kept at
-- least 24 hours and then deleted by the reaper job.

-- +goose Up
CREATE TABLE idempotency_keys (
    api_key_id      uuid NOT NULL REFERENCES api_keys ON DELETE CASCADE,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint     bytea NOT NULL,        -- SHA-256 of the request's method, path and body
    response_status int NOT NULL CHECK (response_status BETWEEN 200 AND 499),
    content_type    text NOT NULL,
    response_body   bytea NOT NULL,        -- exactly the bytes answered the first time
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key)
);
-- The reaper's work list.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
