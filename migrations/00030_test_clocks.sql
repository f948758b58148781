-- Per-customer test clocks (sandbox only, like Stripe's): a customer created on a clock lives at
-- the clock's frozen time, which only the API moves (forward). advance_job_id is the River job
-- (jobs.AdvanceTestClockArgs: a scheduler and a janitor pass) that the last advance enqueued: the
-- clock is advancing until it has finished. A deleted clock keeps its row, so that its customers stay at its last time.

-- +goose Up
CREATE TABLE test_clocks (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    frozen_time  timestamptz NOT NULL,
    advance_job_id bigint,
    created_at   timestamptz NOT NULL,
    deleted_at   timestamptz
);
CREATE INDEX test_clocks_created ON test_clocks (created_at, id) WHERE deleted_at IS NULL;

ALTER TABLE customers ADD COLUMN test_clock_id uuid REFERENCES test_clocks;
CREATE INDEX customers_test_clock ON customers (test_clock_id) WHERE test_clock_id IS NOT NULL;

-- +goose Down
ALTER TABLE customers DROP COLUMN test_clock_id;
DROP TABLE test_clocks;
