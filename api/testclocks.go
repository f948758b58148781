package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

// Per-customer test clocks (billing.FrozenClock), like Stripe's: only in a sandbox (see
// sandbox); elsewhere their routes are a 404 and customers cannot be put on one.

// sandbox reports whether Recur runs on its built-in gateway simulator, and returns the
// instance's test clock if so: `recur dev` decides it, and then, and only then, runs the instance
// on a *billing.TestClock. Test clocks, the instance's and the customers', exist only there: a
// real gateway's payments happen at the real time.
func sandbox(clock billing.Clock) (*billing.TestClock, bool) {
	tc, ok := clock.(*billing.TestClock)
	return tc, ok
}

type frozenClockJSON struct {
	ID         uuid.UUID `json:"id"`
	Name       string    `json:"name"`
	FrozenTime time.Time `json:"frozen_time"`
	// Status is advancing until the scheduler and janitor passes of the last advance have run.
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func frozenClockOut(c billing.FrozenClock) frozenClockJSON {
	status := "ready"
	if c.Advancing {
		status = "advancing"
	}
	return frozenClockJSON{ID: c.ID, Name: c.Name, FrozenTime: c.FrozenTime, Status: status, CreatedAt: c.CreatedAt}
}

// createFrozenClock makes a test clock {"name", "frozen_time"} for customers to be created on.
func (a *API) createFrozenClock(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		Name       string     `json:"name"`
		FrozenTime *time.Time `json:"frozen_time"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	c, err := billing.NewFrozenClock(in.Name, in.FrozenTime, a.clock.Now())
	if err != nil {
		return 0, nil, err
	}
	if err := store.CreateTestClock(ctx, tx, c); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, frozenClockOut(c), nil
}

// listFrozenClocks lists the test clocks, newest first.
func (a *API) listFrozenClocks(w http.ResponseWriter, r *http.Request) {
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.FrozenClock, error) {
		return store.ListTestClocks(r.Context(), a.db, after, n)
	}, as(frozenClockOut))
}

// advanceFrozenClock moves a test clock forward to {"frozen_time": time} and enqueues, in the
// same transaction, a job (jobs.AdvanceTestClockArgs) that runs a scheduler pass (renewals, trial
// ends, ended pauses) and a janitor pass (dunning retries now due) for its customers' new time.
// The clock is advancing until that job has finished; the charges it made are then collected by
// their own jobs.
func (a *API) advanceFrozenClock(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		FrozenTime *time.Time `json:"frozen_time"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	c, err := store.LockTestClock(ctx, tx, id)
	if err != nil {
		return 0, nil, err
	}
	if err := c.Advance(in.FrozenTime); err != nil {
		return 0, nil, err
	}
	res, err := a.jobs.InsertTx(ctx, tx, jobs.AdvanceTestClockArgs{ClockID: c.ID, To: c.FrozenTime}, nil)
	if err != nil {
		return 0, nil, err
	}
	if err := store.SaveAdvance(ctx, tx, c, res.Job.ID); err != nil {
		return 0, nil, err
	}
	c.Advancing = true
	return http.StatusOK, frozenClockOut(c), nil
}

// deleteFrozenClock deletes a test clock. Its customers stay on it, at its last time for good:
// nothing more renews, retries or ends for them, and their history stays readable.
func (a *API) deleteFrozenClock(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := store.DeleteTestClock(ctx, tx, id, a.clock.Now()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "deleted": true}, nil
}

// clockOf returns the clock that the customer lives on (store.CustomerClock).
func (a *API) clockOf(ctx context.Context, db store.DBTX, customerID uuid.UUID) (billing.Clock, error) {
	return store.CustomerClock(ctx, db, customerID, a.clock)
}
