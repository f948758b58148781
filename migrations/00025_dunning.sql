-- Dunning, card attempt caps and token health. A charge waiting for its next attempt is
-- retrying, with when and why; every attempt records the payment method it was made on and when
-- its payment creation was (or may have been) sent, which the card-scheme caps count; payment
-- methods keep what the last token check saw and which warnings were raised.

-- +goose Up
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN
    ('pending', 'processing', 'reconciling', 'retrying', 'succeeded', 'failed', 'canceled', 'needs_review'));
ALTER TABLE charges
    ADD COLUMN next_retry_at   timestamptz, -- when a retrying charge is tried next (Recur's clock)
    ADD COLUMN retry_reason    text,        -- why it waits, or why a failed one is not retried
    ADD COLUMN first_failed_at timestamptz, -- its first declined attempt: the dunning schedule counts from it
    ADD CONSTRAINT charges_retrying_has_time CHECK (status <> 'retrying' OR next_retry_at IS NOT NULL);
-- The janitor's look for retries whose job was lost.
CREATE INDEX charges_retry_due ON charges (next_retry_at) WHERE status = 'retrying';

ALTER TABLE charge_attempts
    ADD COLUMN payment_method_id uuid REFERENCES payment_methods,
    ADD COLUMN sent_at           timestamptz; -- set with the creation's request id, before it is sent
UPDATE charge_attempts a SET payment_method_id = c.payment_method_id,
    sent_at = CASE WHEN a.create_request_id IS NOT NULL THEN a.created_at END
FROM charges c WHERE c.id = a.charge_id;
-- The card caps count a payment method's attempts in the last 24 hours and 30 days.
CREATE INDEX charge_attempts_card_window ON charge_attempts (payment_method_id, sent_at) WHERE sent_at IS NOT NULL;

ALTER TABLE payment_methods
    ADD COLUMN token_status     text,        -- as the last token check saw it
    ADD COLUMN token_checked_at timestamptz,
    ADD COLUMN expiring_raised  boolean NOT NULL DEFAULT false, -- payment_method.expiring sent for the current condition
    ADD COLUMN suspended_raised boolean NOT NULL DEFAULT false; -- payment_method.suspended likewise

-- +goose Down
ALTER TABLE payment_methods DROP COLUMN token_status, DROP COLUMN token_checked_at,
    DROP COLUMN expiring_raised, DROP COLUMN suspended_raised;
DROP INDEX charge_attempts_card_window;
ALTER TABLE charge_attempts DROP COLUMN payment_method_id, DROP COLUMN sent_at;
DROP INDEX charges_retry_due;
-- The old schema has no retrying: such a charge has failed for it.
UPDATE charges SET status = 'failed' WHERE status = 'retrying';
ALTER TABLE charges DROP CONSTRAINT charges_retrying_has_time,
    DROP COLUMN next_retry_at, DROP COLUMN retry_reason, DROP COLUMN first_failed_at;
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check CHECK (status IN
    ('pending', 'processing', 'reconciling', 'succeeded', 'failed', 'canceled', 'needs_review'));
