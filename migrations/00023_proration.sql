-- Immediate price changes with proration (billing/proration.go). A charge has a kind: period
-- (one per subscription and period, as before), proration (one per change) or ad_hoc; and lines,
-- which sum to its amount. A subscription keeps a credit balance (from changes to a lower price,
-- used by later period charges, never negative) and the price its newest period was billed at.
-- A period charge paid in full by credit is the one charge of amount 0, succeeded at once.
-- The one-per-period constraint becomes a partial unique index of the same name, in the same
-- transaction, so that the invariant never lapses (building it, and the index that now serves a
-- subscription's charges, holds writes to charges: seconds on millions of rows).

-- +goose Up
ALTER TABLE charges
    ADD COLUMN kind text NOT NULL DEFAULT 'period' CHECK (kind IN ('period', 'proration', 'ad_hoc')),
    ADD COLUMN change_id uuid; -- the change a proration charge is for
UPDATE charges SET kind = 'ad_hoc' WHERE subscription_id IS NULL;
ALTER TABLE charges
    ADD CONSTRAINT charges_kind_fields CHECK ((kind = 'ad_hoc') = (subscription_id IS NULL)
        AND (kind = 'proration') = (change_id IS NOT NULL)
        AND (kind = 'period' OR billing_run_id IS NULL)),
    DROP CONSTRAINT charges_amount_check,
    ADD CONSTRAINT charges_amount_check CHECK (amount > 0 OR (amount = 0 AND kind = 'period' AND status = 'succeeded')),
    DROP CONSTRAINT charges_one_per_period;
-- The invariant that matters most: one period charge per subscription and billing period.
CREATE UNIQUE INDEX charges_one_per_period ON charges (subscription_id, period_start) WHERE kind = 'period';
-- A change is charged at most once.
CREATE UNIQUE INDEX charges_one_per_change ON charges (subscription_id, change_id) WHERE kind = 'proration';
-- A subscription's charges of every kind, newest first (GET /v1/subscriptions/{id}/charges, the
-- at-risk report's latest charge), which the partial index above no longer serves.
CREATE INDEX charges_subscription_period ON charges (subscription_id, period_start DESC, id DESC);

CREATE TABLE charge_lines (
    charge_id    uuid NOT NULL REFERENCES charges,
    position     int NOT NULL CHECK (position >= 0),
    kind         text NOT NULL CHECK (kind IN ('debit', 'credit')),
    description  text NOT NULL CHECK (length(description) <= 1000),
    amount       bigint NOT NULL,       -- signed minor units: >= 0 for a debit, <= 0 for a credit
    currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    period_start timestamptz NOT NULL,  -- the time the line covers
    period_end   timestamptz NOT NULL CHECK (period_end >= period_start),
    PRIMARY KEY (charge_id, position),
    CHECK ((kind = 'debit' AND amount >= 0) OR (kind = 'credit' AND amount <= 0))
);

ALTER TABLE subscriptions
    ADD COLUMN credit_balance bigint NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    ADD COLUMN period_price bigint CHECK (period_price > 0); -- NULL until the first period is billed
UPDATE subscriptions s SET period_price = c.amount
FROM charges c WHERE c.subscription_id = s.id AND c.period_index = s.next_period - 1;

-- +goose Down
-- Fails while proration charges or zero charges exist: the old schema cannot hold them.
ALTER TABLE subscriptions DROP COLUMN period_price, DROP COLUMN credit_balance;
DROP TABLE charge_lines;
DROP INDEX charges_subscription_period;
DROP INDEX charges_one_per_change;
DROP INDEX charges_one_per_period;
ALTER TABLE charges
    ADD CONSTRAINT charges_one_per_period UNIQUE (subscription_id, period_start),
    DROP CONSTRAINT charges_amount_check,
    ADD CONSTRAINT charges_amount_check CHECK (amount > 0),
    DROP CONSTRAINT charges_kind_fields,
    DROP COLUMN change_id,
    DROP COLUMN kind;
