package store

import (
	"context"
	"fmt"

	"github.com/recur-billing/recur/billing"
)

// AppendEvent adds e to the event log. Call it with the transaction that makes the change e
// reports, so that the log holds exactly the changes that committed.
func AppendEvent(ctx context.Context, db DBTX, e billing.Event) error {
	_, err := db.Exec(ctx, `
		INSERT INTO events (id, type, object_type, object_id, customer_id, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		e.ID, e.Type, e.ObjectType, e.ObjectID, e.CustomerID, e.Data, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("append event %s: %w", e.Type, err)
	}
	return nil
}
