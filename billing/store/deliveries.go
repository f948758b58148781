package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// DispatchCursor is the dispatcher's place in the event log: the last event it dispatched, in
// the order of the transactions that wrote them (then of their ids).
type DispatchCursor struct {
	TxID    string // events.txid, as text
	EventID uuid.UUID
}

// LockDispatchCursor reads the dispatcher's cursor and locks it until the end of tx, so that
// dispatchers take turns.
func LockDispatchCursor(ctx context.Context, tx pgx.Tx) (DispatchCursor, error) {
	var c DispatchCursor
	err := tx.QueryRow(ctx, `SELECT txid::text, event_id FROM webhook_dispatch_cursor FOR UPDATE`).Scan(&c.TxID, &c.EventID)
	if err != nil {
		return c, fmt.Errorf("lock dispatch cursor: %w", err)
	}
	return c, nil
}

// SetDispatchCursor moves the dispatcher's cursor. Hold its lock (LockDispatchCursor).
func SetDispatchCursor(ctx context.Context, tx pgx.Tx, c DispatchCursor) error {
	if _, err := tx.Exec(ctx, `UPDATE webhook_dispatch_cursor SET txid = $1::xid8, event_id = $2`, c.TxID, c.EventID); err != nil {
		return fmt.Errorf("set dispatch cursor: %w", err)
	}
	return nil
}

// EventsAfter returns up to limit events after the cursor, in its order, with the cursor of
// each, among those whose transactions are older than every transaction still running. Those are
// final: no transaction can still add one before the last returned, so the cursor never passes
// over an event that commits later.
func EventsAfter(ctx context.Context, db DBTX, c DispatchCursor, limit int) ([]billing.Event, []DispatchCursor, error) {
	rows, err := db.Query(ctx, `
		SELECT `+eventColumns+`, txid::text FROM events
		WHERE (txid, id) > ($1::xid8, $2) AND txid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY txid, id LIMIT $3`, c.TxID, c.EventID, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("events to dispatch: %w", err)
	}
	defer rows.Close()
	var events []billing.Event
	var cursors []DispatchCursor
	for rows.Next() {
		var e billing.Event
		var txid string
		if err := rows.Scan(&e.ID, &e.Type, &e.ObjectType, &e.ObjectID, &e.CustomerID, &e.Data, &e.CreatedAt, &txid); err != nil {
			return nil, nil, fmt.Errorf("events to dispatch: %w", err)
		}
		events, cursors = append(events, e), append(cursors, DispatchCursor{TxID: txid, EventID: e.ID})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("events to dispatch: %w", err)
	}
	return events, cursors, nil
}

// InsertDeliveries stores new deliveries and returns the ids of those stored: a delivery of an
// event to an endpoint that already has one is left out.
func InsertDeliveries(ctx context.Context, db DBTX, ds []billing.WebhookDelivery) ([]uuid.UUID, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	ids, events, endpoints, created := make([]uuid.UUID, len(ds)), make([]uuid.UUID, len(ds)), make([]uuid.UUID, len(ds)), ds[0].CreatedAt
	for i, d := range ds {
		ids[i], events[i], endpoints[i] = d.ID, d.EventID, d.EndpointID
	}
	rows, err := db.Query(ctx, `
		INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, attempts, created_at)
		SELECT id, event_id, endpoint_id, 'pending', 0, $4 FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS d (id, event_id, endpoint_id)
		ON CONFLICT (event_id, endpoint_id) DO NOTHING
		RETURNING id`, ids, events, endpoints, created)
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	stored, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("insert deliveries: %w", err)
	}
	return stored, nil
}

// GetWebhookDelivery reads a delivery.
func GetWebhookDelivery(ctx context.Context, db DBTX, id uuid.UUID) (billing.WebhookDelivery, error) {
	d, err := scanDelivery(db.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.id = $1`, id))
	if err != nil {
		return d, notFound(err, "webhook delivery "+id.String())
	}
	return d, nil
}

// LockWebhookDelivery reads the endpoint's delivery id and locks it until the end of tx.
func LockWebhookDelivery(ctx context.Context, tx pgx.Tx, endpointID, id uuid.UUID) (billing.WebhookDelivery, error) {
	d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.id = $1 AND d.endpoint_id = $2 FOR UPDATE OF d`, id, endpointID))
	if err != nil {
		return d, notFound(err, "webhook delivery "+id.String())
	}
	return d, nil
}

// RedeliverWebhookDelivery stores a delivery made pending again (billing.WebhookDelivery.Redeliver).
// Lock it first.
func RedeliverWebhookDelivery(ctx context.Context, tx pgx.Tx, d billing.WebhookDelivery) error {
	if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $2, next_attempt_at = $3 WHERE id = $1`,
		d.ID, d.Status, d.NextAttemptAt); err != nil {
		return fmt.Errorf("redeliver webhook delivery: %w", err)
	}
	return nil
}

// RedeliverFailedDeliveries makes up to limit of the endpoint's failed deliveries created at or
// after since pending again, due at now, oldest first. It returns their ids, and whether more are
// left (read from the partial index webhook_deliveries_failing). Lock the endpoint first.
func RedeliverFailedDeliveries(ctx context.Context, tx pgx.Tx, endpointID uuid.UUID, since, now time.Time, limit int) (ids []uuid.UUID, more bool, err error) {
	rows, err := tx.Query(ctx, `
		WITH c AS (
			SELECT id, created_at FROM webhook_deliveries
			WHERE endpoint_id = $1 AND last_error IS NOT NULL AND status = 'failed' AND created_at >= $2
			ORDER BY created_at, id LIMIT $4 + 1 FOR UPDATE
		), u AS (
			UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3
			WHERE id IN (SELECT id FROM c ORDER BY created_at, id LIMIT $4)
			RETURNING id
		)
		SELECT id, (SELECT count(*) FROM c) > $4 FROM u`, endpointID, since, now, limit)
	if err != nil {
		return nil, false, fmt.Errorf("redeliver failed deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id, &more); err != nil {
			return nil, false, fmt.Errorf("redeliver failed deliveries: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("redeliver failed deliveries: %w", err)
	}
	return ids, more, nil
}

// RecordDeliveryAttempt stores how an attempt of a pending delivery went (see
// billing.WebhookDelivery.Attempted). It reports false, and stores nothing, when the delivery
// was no longer pending.
func RecordDeliveryAttempt(ctx context.Context, db DBTX, d billing.WebhookDelivery) (bool, error) {
	tag, err := db.Exec(ctx, `
		UPDATE webhook_deliveries SET status = $2, attempts = $3, last_status_code = $4, last_error = nullif($5, ''),
			last_attempt_at = $6, next_attempt_at = $7, delivered_at = $8
		WHERE id = $1 AND status = 'pending'`,
		d.ID, d.Status, d.Attempts, d.LastStatusCode, d.LastError, d.LastAttemptAt, d.NextAttemptAt, d.DeliveredAt)
	if err != nil {
		return false, fmt.Errorf("record delivery attempt: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// DeliveryFilter selects an endpoint's deliveries to list.
type DeliveryFilter struct {
	EndpointID    uuid.UUID
	EventID       *uuid.UUID // only this event's delivery
	StartingAfter *uuid.UUID // only deliveries after this one, newest first
}

// ListWebhookDeliveries returns up to limit of an endpoint's deliveries, newest first.
func ListWebhookDeliveries(ctx context.Context, db DBTX, f DeliveryFilter, limit int) ([]billing.WebhookDelivery, error) {
	rows, err := db.Query(ctx, `
		SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.endpoint_id = $1 AND ($2::uuid IS NULL OR d.event_id = $2)
			AND ($3::uuid IS NULL OR (d.created_at, d.id) < (SELECT created_at, id FROM webhook_deliveries WHERE id = $3))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $4`, f.EndpointID, f.EventID, f.StartingAfter, limit)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.WebhookDelivery, error) { return scanDelivery(row) })
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return ds, nil
}

// deliveryColumns reads a delivery aliased d joined with its event aliased e.
const deliveryColumns = `d.id, d.event_id, e.type, d.endpoint_id, d.status, d.attempts, d.last_status_code,
	coalesce(d.last_error, ''), d.last_attempt_at, d.next_attempt_at, d.delivered_at, d.created_at`

func scanDelivery(row pgx.Row) (billing.WebhookDelivery, error) {
	var d billing.WebhookDelivery
	err := row.Scan(&d.ID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status, &d.Attempts, &d.LastStatusCode,
		&d.LastError, &d.LastAttemptAt, &d.NextAttemptAt, &d.DeliveredAt, &d.CreatedAt)
	return d, err
}
