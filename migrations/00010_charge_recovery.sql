-- What the charge worker needs to survive crashes, duplicate runs and unknown gateway outcomes:
-- a lease that lets one run at a time work a charge, the reconciling and needs_review states with
-- their schedule, and the cancel path (a voided charge, a canceled subscription).

-- +goose Up
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN
    ('pending', 'processing', 'reconciling', 'succeeded', 'failed', 'canceled', 'needs_review'));
ALTER TABLE charges
    ADD COLUMN lease_owner       uuid,        -- the worker run that holds the charge
    ADD COLUMN lease_until       timestamptz, -- database time; an expired lease may be taken over
    ADD COLUMN unsettled_since   timestamptz, -- first unknown outcome, or first sight of a payment still processing
    ADD COLUMN reconcile_after   timestamptz, -- when a reconciling charge is next looked at
    ADD COLUMN reconcile_count   int NOT NULL DEFAULT 0,
    ADD COLUMN void_requested_at timestamptz;
-- The janitor's work list: charges that are not finished.
CREATE INDEX charges_unfinished ON charges (status, reconcile_after) WHERE status IN ('pending', 'processing', 'reconciling');

ALTER TABLE charge_attempts DROP CONSTRAINT charge_attempts_status_check;
ALTER TABLE charge_attempts ADD CONSTRAINT charge_attempts_status_check CHECK (status IN
    ('processing', 'succeeded', 'failed', 'canceled', 'needs_review'));
-- The request id of the payment creation, kept so that a retry of a lost creation is the same
-- request (a gateway that de-duplicates request ids then answers with the first payment).
ALTER TABLE charge_attempts ADD COLUMN create_request_id uuid;
-- A retried creation repeats its request id, so request ids no longer name one step.
ALTER TABLE charge_steps DROP CONSTRAINT charge_steps_request_id_key;

ALTER TABLE subscriptions ADD COLUMN canceled_at timestamptz;

-- +goose Down
ALTER TABLE subscriptions DROP COLUMN canceled_at;
ALTER TABLE charge_steps ADD CONSTRAINT charge_steps_request_id_key UNIQUE (request_id);
ALTER TABLE charge_attempts DROP COLUMN create_request_id;
ALTER TABLE charge_attempts DROP CONSTRAINT charge_attempts_status_check;
ALTER TABLE charge_attempts ADD CONSTRAINT charge_attempts_status_check CHECK (status IN ('processing', 'succeeded', 'failed'));
DROP INDEX charges_unfinished;
ALTER TABLE charges
    DROP COLUMN lease_owner, DROP COLUMN lease_until, DROP COLUMN unsettled_since, DROP COLUMN reconcile_after,
    DROP COLUMN reconcile_count, DROP COLUMN void_requested_at;
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN ('pending', 'processing', 'succeeded', 'failed'));
