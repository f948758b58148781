-- Ad-hoc charges (channel MERCHANT): a customer's charge that belongs to no subscription and no
-- billing period, with a description. Subscription charges keep their period and the
-- charges_one_per_period constraint (a NULL subscription id never clashes with another).

-- +goose Up
ALTER TABLE charges
    ALTER COLUMN subscription_id DROP NOT NULL,
    ALTER COLUMN period_index DROP NOT NULL,
    ALTER COLUMN period_start DROP NOT NULL,
    ALTER COLUMN period_end DROP NOT NULL,
    ADD COLUMN description text CHECK (length(description) <= 1000),
    -- A charge is either a subscription's, for one period, or ad hoc, on channel MERCHANT.
    ADD CONSTRAINT charges_subscription_or_adhoc CHECK (
        (subscription_id IS NOT NULL AND period_index IS NOT NULL AND period_start IS NOT NULL AND period_end IS NOT NULL)
        OR (subscription_id IS NULL AND period_index IS NULL AND period_start IS NULL AND period_end IS NULL
            AND billing_run_id IS NULL AND channel = 'MERCHANT'));

-- +goose Down
-- Fails while ad-hoc charges exist: the old schema cannot hold them.
ALTER TABLE charges DROP CONSTRAINT charges_subscription_or_adhoc, DROP COLUMN description;
ALTER TABLE charges
    ALTER COLUMN subscription_id SET NOT NULL,
    ALTER COLUMN period_index SET NOT NULL,
    ALTER COLUMN period_start SET NOT NULL,
    ALTER COLUMN period_end SET NOT NULL;
