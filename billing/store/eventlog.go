package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// GetEvent reads one event of the log.
func GetEvent(ctx context.Context, db DBTX, id uuid.UUID) (billing.Event, error) {
	e, err := scanEvent(db.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE id = $1`, id))
	if err != nil {
		return e, notFound(err, "event "+id.String())
	}
	return e, nil
}

// EventFilter selects events to list; zero fields select all.
type EventFilter struct {
	Type          billing.EventType
	ObjectID      *uuid.UUID
	CustomerID    *uuid.UUID
	StartingAfter *uuid.UUID // only events after this one, newest first
}

// ListEvents returns up to limit events, newest first.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, limit int) ([]billing.Event, error) {
	rows, err := db.Query(ctx, `
		SELECT `+eventColumns+` FROM events
		WHERE ($1 = '' OR type = $1) AND ($2::uuid IS NULL OR object_id = $2) AND ($3::uuid IS NULL OR customer_id = $3)
			AND ($4::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM events WHERE id = $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`, f.Type, f.ObjectID, f.CustomerID, f.StartingAfter, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Event, error) { return scanEvent(row) })
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

const eventColumns = `id, type, object_type, object_id, customer_id, data, created_at`

func scanEvent(row pgx.Row) (billing.Event, error) {
	var e billing.Event
	err := row.Scan(&e.ID, &e.Type, &e.ObjectType, &e.ObjectID, &e.CustomerID, &e.Data, &e.CreatedAt)
	return e, err
}
