package api

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/jobs"
)

// The test clock's endpoints exist only in a sandbox (see sandbox): elsewhere they are a 404.

type testClockJSON struct {
	Now time.Time `json:"now"`
}

func (a *API) getTestClock(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, testClockJSON{Now: a.clock.Now()})
}

// advanceTestClock moves the whole instance's time forward to {"to": time} and enqueues a job
// (jobs.AdvanceTestClockArgs) that runs a scheduler pass and a janitor pass, so that what fell due
// in between (renewals, trial ends, pauses that ended, dunning retries) is billed at once, in the
// order the periods started. Not a plain scheduler pass: that job is unique while one waits or
// runs, and a pass that read the clock before the advance would stand in for it.
func (a *API) advanceTestClock(clock *billing.TestClock) txHandler {
	return func(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
		var in struct {
			To *time.Time `json:"to"`
		}
		if err := decode(r, &in); err != nil {
			return 0, nil, err
		}
		if in.To == nil {
			return 0, nil, &billing.ValidationError{Field: "to", Reason: "is required: the time to move to (RFC 3339)"}
		}
		if err := clock.Advance(*in.To); err != nil {
			return 0, nil, err
		}
		if _, err := a.jobs.InsertTx(ctx, tx, jobs.AdvanceTestClockArgs{To: clock.Now()}, nil); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, testClockJSON{Now: clock.Now()}, nil
	}
}
