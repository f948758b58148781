-- The time zone of a subscription's billing day: its periods follow that zone's calendar and
-- clocks (billing.Schedule). Subscriptions made before it existed were computed in UTC and keep it.

-- +goose Up
ALTER TABLE subscriptions
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
        CONSTRAINT subscriptions_time_zone_check CHECK (time_zone <> '');

-- +goose Down
ALTER TABLE subscriptions DROP COLUMN time_zone;
