-- A void says why: POST /v1/charges/{id}/void {reason}. A failed or retrying charge is forgiven at
-- once (canceled, with the reason as its failure reason); an unfinished one keeps the reason here
-- until its worker has called it off.

-- +goose Up
ALTER TABLE charges ADD COLUMN void_reason text;

-- +goose Down
ALTER TABLE charges DROP COLUMN void_reason;
