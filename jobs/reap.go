package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing/store"
)

// IdempotencyKeyRetention is how long the API's idempotency keys are kept at least: a retry
// within it gets the stored answer. Older keys are deleted by ReapIdempotencyKeysWorker.
const IdempotencyKeyRetention = 24 * time.Hour

// reapBatchSize is how many idempotency keys one DELETE removes, so that no statement holds many
// row locks or runs long.
const reapBatchSize = 1000

// ReapIdempotencyKeysArgs asks for the deletion of the idempotency keys older than
// IdempotencyKeyRetention.
type ReapIdempotencyKeysArgs struct{}

// Kind names the job in River.
func (ReapIdempotencyKeysArgs) Kind() string { return "reap_idempotency_keys" }

// ReapIdempotencyKeysWorker deletes old idempotency keys in batches.
type ReapIdempotencyKeysWorker struct {
	river.WorkerDefaults[ReapIdempotencyKeysArgs]
	deps Deps
}

// Work deletes the keys created before now minus IdempotencyKeyRetention, a batch per statement,
// until none is left.
func (w *ReapIdempotencyKeysWorker) Work(ctx context.Context, _ *river.Job[ReapIdempotencyKeysArgs]) error {
	cutoff := w.deps.Clock.Now().Add(-IdempotencyKeyRetention)
	total := 0
	for {
		n, err := store.DeleteIdempotencyKeys(ctx, w.deps.Pool, cutoff, reapBatchSize)
		total += n
		if err != nil {
			return fmt.Errorf("reap idempotency keys (%d deleted): %w", total, err)
		}
		if n < reapBatchSize {
			break
		}
	}
	if total > 0 {
		w.deps.Logger.InfoContext(ctx, "idempotency keys reaped", slog.Int("count", total), slog.Time("created_before", cutoff))
	}
	return nil
}
