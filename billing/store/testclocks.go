package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// A customer on a test clock lives at the clock's frozen time; every other one at the instance's
// time. The queries that find what is due compare with clockTime(customer), which is NULL for a
// customer without a clock, as coalesce(clockTime(...), $now); the Go code asks CustomerClock,
// ChargeClock or ClockTimes. Nothing else resolves a customer's time.

// clockTime is an SQL expression: the frozen time of the test clock of the customer whose id is
// the SQL expression customerID, NULL when it has none.
func clockTime(customerID string) string {
	return `(SELECT tc.frozen_time FROM customers cc JOIN test_clocks tc ON tc.id = cc.test_clock_id WHERE cc.id = ` + customerID + `)`
}

// dueBound is an SQL expression: the latest time up to which anything can be due when the
// instance's time is the SQL expression now, which is now itself unless a test clock is ahead of
// it. Queries bound their index range with it before comparing each row with its own clock.
func dueBound(now string) string {
	return `greatest(` + now + `, (SELECT max(frozen_time) FROM test_clocks))`
}

// CustomerClock returns the clock that customer id lives on: its test clock, stopped at the
// clock's time, or instance.
func CustomerClock(ctx context.Context, db DBTX, id uuid.UUID, instance billing.Clock) (billing.Clock, error) {
	return clockOf(ctx, db, instance, `SELECT `+clockTime("$1"), id)
}

// ChargeClock returns the clock that the customer of charge id lives on; see CustomerClock.
func ChargeClock(ctx context.Context, db DBTX, id uuid.UUID, instance billing.Clock) (billing.Clock, error) {
	return clockOf(ctx, db, instance, `SELECT `+clockTime("c.customer_id")+` FROM charges c WHERE c.id = $1`, id)
}

func clockOf(ctx context.Context, db DBTX, instance billing.Clock, sql string, id uuid.UUID) (billing.Clock, error) {
	var t *time.Time
	if err := db.QueryRow(ctx, sql, id).Scan(&t); err != nil {
		return nil, notFound(err, "the clock of "+id.String())
	}
	if t == nil {
		return instance, nil
	}
	return billing.Stopped(*t), nil
}

// ClockTimes returns the time of each of the customers: its test clock's, else now.
func ClockTimes(ctx context.Context, db DBTX, customerIDs []uuid.UUID, now time.Time) (func(customerID uuid.UUID) time.Time, error) {
	rows, err := db.Query(ctx, `
		SELECT c.id, tc.frozen_time FROM customers c JOIN test_clocks tc ON tc.id = c.test_clock_id
		WHERE c.id = ANY($1)`, customerIDs)
	if err != nil {
		return nil, fmt.Errorf("clock times: %w", err)
	}
	frozen := make(map[uuid.UUID]time.Time)
	var id uuid.UUID
	var t time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &t}, func() error { frozen[id] = t; return nil }); err != nil {
		return nil, fmt.Errorf("clock times: %w", err)
	}
	return func(customerID uuid.UUID) time.Time {
		if t, ok := frozen[customerID]; ok {
			return t
		}
		return now
	}, nil
}

// CustomersOnTestClocks counts the customers that live on a test clock.
func CustomersOnTestClocks(ctx context.Context, db DBTX) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM customers WHERE test_clock_id IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("customers on test clocks: %w", err)
	}
	return n, nil
}

// CreateTestClock stores a new test clock.
func CreateTestClock(ctx context.Context, db DBTX, c billing.FrozenClock) error {
	_, err := db.Exec(ctx, `INSERT INTO test_clocks (id, name, frozen_time, created_at) VALUES ($1, $2, $3, $4)`,
		c.ID, c.Name, c.FrozenTime, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("create test clock: %w", err)
	}
	return nil
}

// testClockColumns are a clock's columns, advancing while the job of its last advance is
// unfinished (River deletes finished jobs after a while: a job gone is finished).
const testClockColumns = `id, name, frozen_time, created_at, EXISTS (
		SELECT 1 FROM river_job j WHERE j.id = test_clocks.advance_job_id
			AND j.state NOT IN ('completed', 'cancelled', 'discarded'))`

func scanTestClock(row pgx.Row) (billing.FrozenClock, error) {
	var c billing.FrozenClock
	err := row.Scan(&c.ID, &c.Name, &c.FrozenTime, &c.CreatedAt, &c.Advancing)
	return c, err
}

// GetTestClock reads a test clock that has not been deleted.
func GetTestClock(ctx context.Context, db DBTX, id uuid.UUID) (billing.FrozenClock, error) {
	return oneTestClock(db.QueryRow(ctx, `SELECT `+testClockColumns+` FROM test_clocks WHERE id = $1 AND deleted_at IS NULL`, id), id)
}

// LockTestClock reads a test clock that has not been deleted, locked for update until tx ends.
func LockTestClock(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.FrozenClock, error) {
	return oneTestClock(tx.QueryRow(ctx, `
		SELECT `+testClockColumns+` FROM test_clocks WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id), id)
}

func oneTestClock(row pgx.Row, id uuid.UUID) (billing.FrozenClock, error) {
	c, err := scanTestClock(row)
	if err != nil {
		return c, notFound(err, "test clock "+id.String())
	}
	return c, nil
}

// ListTestClocks returns up to limit test clocks that have not been deleted, newest first, after
// the one startingAfter names when it is not nil.
func ListTestClocks(ctx context.Context, db DBTX, startingAfter *uuid.UUID, limit int) ([]billing.FrozenClock, error) {
	return listRows(ctx, db, "list test clocks", scanTestClock, `
		SELECT `+testClockColumns+` FROM test_clocks
		WHERE deleted_at IS NULL
			AND ($1::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM test_clocks WHERE id = $1))
		ORDER BY created_at DESC, id DESC LIMIT $2`, startingAfter, limit)
}

// SaveAdvance stores a clock's new time and the River job that makes its passes.
func SaveAdvance(ctx context.Context, db DBTX, c billing.FrozenClock, jobID int64) error {
	_, err := db.Exec(ctx, `UPDATE test_clocks SET frozen_time = $2, advance_job_id = $3 WHERE id = $1`, c.ID, c.FrozenTime, jobID)
	if err != nil {
		return fmt.Errorf("advance test clock: %w", err)
	}
	return nil
}

// DeleteTestClock deletes a test clock: it is no longer shown, advanced or given to new
// customers, and its customers stay at its last time for good.
func DeleteTestClock(ctx context.Context, db DBTX, id uuid.UUID, now time.Time) error {
	tag, err := db.Exec(ctx, `UPDATE test_clocks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, now)
	if err != nil {
		return fmt.Errorf("delete test clock: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("test clock %s: %w", id, billing.ErrNotFound)
	}
	return nil
}
