-- The subscription lifecycle (docs/subscription-states.md): trialing, past_due, unpaid and paused
-- beside active and canceled, a pending cancel at period end, and a pause with an end. The
-- scheduler's index covers the states it bills; a second one finds pauses that end by themselves.

-- +goose Up
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN
    ('trialing', 'active', 'past_due', 'unpaid', 'paused', 'canceled'));
ALTER TABLE subscriptions
    ADD COLUMN cancel_at   timestamptz,  -- a pending cancel: the subscription ends here, unbilled
    ADD COLUMN pause_until timestamptz,  -- a paused subscription resumes here by itself
    ADD CONSTRAINT subscriptions_pause_until_only_paused CHECK (pause_until IS NULL OR status = 'paused');
DROP INDEX subscriptions_due;
CREATE INDEX subscriptions_due ON subscriptions (next_billing_at) WHERE status IN ('trialing', 'active', 'past_due');
CREATE INDEX subscriptions_pause_ends ON subscriptions (pause_until) WHERE status = 'paused';

-- +goose Down
DROP INDEX subscriptions_pause_ends;
DROP INDEX subscriptions_due;
CREATE INDEX subscriptions_due ON subscriptions (next_billing_at) WHERE status = 'active';
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_pause_until_only_paused,
    DROP COLUMN pause_until, DROP COLUMN cancel_at;
-- The old schema knows only active and canceled: every other state was still a live subscription.
UPDATE subscriptions SET status = 'active' WHERE status <> 'canceled';
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_status_check;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_status_check CHECK (status IN ('active', 'canceled'));
