-- Fills a migrated Recur database with a grown-up data set for EXPLAIN checks (docs/data-growth.md):
-- 1,000,000 customers, payment methods and monthly subscriptions (a tenth canceled), five billed
-- periods each: 5,000,000 charges in 151 daily billing runs, 5,000,000 attempts and 10,000,000
-- gateway steps. Ids are derived from the row numbers, so the script is repeatable.
--
--   recur migrate up && psql "$DATABASE_URL" -f bench/growth.sql     (about 10 minutes on 2 cores)

\set ON_ERROR_STOP on
SET synchronous_commit = off;

INSERT INTO customers (id, external_id, email, name, created_at)
SELECT md5('c' || i)::uuid, 'ext_' || i, 'c' || i || '@example.com', 'Customer ' || i, '2026-01-01'
FROM generate_series(1, 1000000) AS i;

INSERT INTO payment_methods (id, customer_id, gateway_token_id, brand, last4, exp_month, exp_year, purposes,
    created_at, updated_at)
SELECT md5('p' || i)::uuid, md5('c' || i)::uuid, 'tok_' || i, 'MASTERCARD', '0005', 1 + i % 12, 2026 + i % 5,
    '{SUBSCRIPTION}', '2026-01-01', '2026-01-01'
FROM generate_series(1, 1000000) AS i;

-- Anchors spread over January 2026; five periods billed, the sixth due in June.
INSERT INTO subscriptions (id, customer_id, payment_method_id, amount, currency, billing_interval, interval_count,
    status, anchor_at, next_period, next_billing_at, created_at, updated_at)
SELECT md5('s' || i)::uuid, md5('c' || i)::uuid, md5('p' || i)::uuid, 1000 + i % 5000, 'EUR', 'month', 1,
    CASE WHEN i % 10 = 0 THEN 'canceled' ELSE 'active' END,
    a, 5, a + interval '5 months', a, a
FROM generate_series(1, 1000000) AS i, LATERAL (SELECT timestamptz '2026-01-01' + (i % 30) * interval '1 day'
    + (i % 86400) * interval '1 second' AS a) AS anchor;

INSERT INTO billing_runs (id, as_of, started_at, finished_at, subscriptions_due, charges_created)
SELECT md5('r' || d)::uuid, d, d, d + interval '1 minute', 0, 0
FROM generate_series(timestamptz '2026-01-01', '2026-05-31', interval '1 day') AS d;

INSERT INTO charges (id, customer_id, payment_method_id, subscription_id, billing_run_id, period_index,
    period_start, period_end, amount, currency, channel, status, failure_code, failure_reason, created_at, updated_at)
SELECT md5('ch' || i || '.' || p)::uuid, md5('c' || i)::uuid, md5('p' || i)::uuid, md5('s' || i)::uuid,
    md5('r' || date_trunc('day', s))::uuid, p, s, s + interval '1 month', 1000 + i % 5000, 'EUR', 'RECURRING',
    CASE WHEN (i + p) % 25 = 0 THEN 'failed' ELSE 'succeeded' END,
    CASE WHEN (i + p) % 25 = 0 THEN 'INSUFFICIENT_FUNDS' END,
    CASE WHEN (i + p) % 25 = 0 THEN 'insufficient funds' END,
    s, s + interval '2 seconds'
FROM generate_series(1, 1000000) AS i, generate_series(0, 4) AS p,
    LATERAL (SELECT timestamptz '2026-01-01' + (i % 30) * interval '1 day' + (i % 86400) * interval '1 second'
        + p * interval '1 month' AS s) AS period;

UPDATE billing_runs r SET subscriptions_due = n, charges_created = n
FROM (SELECT billing_run_id, count(*) AS n FROM charges GROUP BY 1) AS c WHERE c.billing_run_id = r.id;

INSERT INTO charge_attempts (id, charge_id, number, order_number, gateway_payment_id, status, failure_code,
    created_at, updated_at)
SELECT md5('a' || c.id)::uuid, c.id, 1, 'R' || replace(c.id::text, '-', ''), 'pay_' || c.id,
    c.status, c.failure_code, c.created_at, c.updated_at
FROM charges c;

INSERT INTO charge_steps (attempt_id, step, request_id, started_at, finished_at, outcome, detail)
SELECT a.id, s.step, md5(s.step || a.id)::uuid, a.created_at, a.created_at + interval '100 ms', 'ok', ''
FROM charge_attempts a, (VALUES ('check_token'), ('capture')) AS s(step);

VACUUM ANALYZE;
