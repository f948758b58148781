package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// QueueCount is how many River jobs of one queue are in one unfinished state.
type QueueCount struct {
	Queue string
	State string // available, pending, retryable, running or scheduled
	Jobs  int64
}

// CountUnfinishedJobs counts River's jobs that are not yet completed, cancelled or discarded, by
// queue and state. It reads only the leading columns of River's fetching index (state, queue).
func CountUnfinishedJobs(ctx context.Context, db DBTX) ([]QueueCount, error) {
	rows, err := db.Query(ctx, `
		SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
		GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("count unfinished jobs: %w", err)
	}
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QueueCount])
	if err != nil {
		return nil, fmt.Errorf("count unfinished jobs: %w", err)
	}
	return counts, nil
}
