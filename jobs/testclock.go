package jobs

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// AdvanceTestClockArgs asks for the passes that a test clock's advance makes due: its own
// scheduler pass and janitor pass, run one after the other by one job, so that the clock can tell
// when they are done (the job has finished) without waiting on the periodic passes. The instance's
// test clock (`recur dev`) enqueues it too, with no ClockID: its passes are not unique, so one
// always runs after the advance.
type AdvanceTestClockArgs struct {
	ClockID uuid.UUID `json:"clock_id"` // uuid.Nil for the instance's test clock
	To      time.Time `json:"to"`
}

// Kind names the job in River.
func (AdvanceTestClockArgs) Kind() string { return "advance_test_clock" }

// AdvanceTestClockWorker runs a scheduler pass (renewals, trial ends, ended pauses) and then a
// janitor pass (dunning retries now due, which it enqueues). Passes running beside the periodic
// ones are safe: they lock disjoint subscriptions, and a charge has one unfinished job.
type AdvanceTestClockWorker struct {
	river.WorkerDefaults[AdvanceTestClockArgs]
	scheduler *BillDueSubscriptionsWorker
	janitor   *ReconcileChargesWorker
}

// Work runs the two passes.
func (w *AdvanceTestClockWorker) Work(ctx context.Context, _ *river.Job[AdvanceTestClockArgs]) error {
	if err := w.scheduler.Work(ctx, nil); err != nil {
		return err
	}
	return w.janitor.Work(ctx, nil)
}
