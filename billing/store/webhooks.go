package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreateWebhookEndpoint stores a new endpoint and its signing secret.
func CreateWebhookEndpoint(ctx context.Context, db DBTX, e billing.WebhookEndpoint, secret string) error {
	_, err := db.Exec(ctx, `
		WITH e AS (
			INSERT INTO webhook_endpoints (id, url, event_types, description, enabled, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
		)
		INSERT INTO webhook_secrets (id, endpoint_id, secret, created_at) VALUES ($8, $1, $9, $6)`,
		e.ID, e.URL, e.EventTypes, e.Description, e.Enabled, e.CreatedAt, e.UpdatedAt, billing.NewID(), secret)
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", err)
	}
	return nil
}

// GetWebhookEndpoint reads an endpoint (not its secrets), with its failing deliveries.
func GetWebhookEndpoint(ctx context.Context, db DBTX, id uuid.UUID) (billing.WebhookEndpoint, error) {
	e, err := scanEndpoint(db.QueryRow(ctx, `
		SELECT `+endpointColumns+`, `+failingColumns+` FROM webhook_endpoints e, `+failingJoin+` WHERE id = $1`, id), true)
	if err != nil {
		return e, notFound(err, "webhook endpoint "+id.String())
	}
	return e, nil
}

// GetWebhookEndpointSettings reads an endpoint (not its secrets) without counting its failing
// deliveries, as sending needs it.
func GetWebhookEndpointSettings(ctx context.Context, db DBTX, id uuid.UUID) (billing.WebhookEndpoint, error) {
	e, err := scanEndpoint(db.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints e WHERE id = $1`, id), false)
	if err != nil {
		return e, notFound(err, "webhook endpoint "+id.String())
	}
	return e, nil
}

// LockWebhookEndpoint reads an endpoint and locks it until the end of tx.
func LockWebhookEndpoint(ctx context.Context, tx pgx.Tx, id uuid.UUID) (billing.WebhookEndpoint, error) {
	e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints e WHERE id = $1 FOR UPDATE`, id), false)
	if err != nil {
		return e, notFound(err, "webhook endpoint "+id.String())
	}
	return e, nil
}

// ListWebhookEndpoints returns up to limit endpoints, newest first, after the one startingAfter
// names if set, with their failing deliveries.
func ListWebhookEndpoints(ctx context.Context, db DBTX, startingAfter *uuid.UUID, limit int) ([]billing.WebhookEndpoint, error) {
	rows, err := db.Query(ctx, `
		SELECT `+endpointColumns+`, `+failingColumns+` FROM webhook_endpoints e, `+failingJoin+`
		WHERE $1::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM webhook_endpoints WHERE id = $1)
		ORDER BY created_at DESC, id DESC LIMIT $2`, startingAfter, limit)
	return collectEndpoints(rows, err, true)
}

// EnabledWebhookEndpoints returns every enabled endpoint.
func EnabledWebhookEndpoints(ctx context.Context, db DBTX) ([]billing.WebhookEndpoint, error) {
	rows, err := db.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints e WHERE enabled ORDER BY id`)
	return collectEndpoints(rows, err, false)
}

// UpdateWebhookEndpoint stores an endpoint's url, event types, description and enabled flag.
func UpdateWebhookEndpoint(ctx context.Context, db DBTX, e billing.WebhookEndpoint) error {
	_, err := db.Exec(ctx, `
		UPDATE webhook_endpoints SET url = $2, event_types = $3, description = $4, enabled = $5, updated_at = $6
		WHERE id = $1`, e.ID, e.URL, e.EventTypes, e.Description, e.Enabled, e.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update webhook endpoint: %w", err)
	}
	return nil
}

// DeleteWebhookEndpoint deletes an endpoint with its secrets and its deliveries.
func DeleteWebhookEndpoint(ctx context.Context, db DBTX, id uuid.UUID) error {
	tag, err := db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook endpoint %s: %w", id, billing.ErrNotFound)
	}
	return nil
}

// RotateWebhookSecret makes secret the endpoint's current one: the secret it replaces signs
// until oldExpiresAt, and one replaced before stops at once. Lock the endpoint first.
func RotateWebhookSecret(ctx context.Context, tx pgx.Tx, endpointID uuid.UUID, secret string, now, oldExpiresAt time.Time) error {
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM webhook_secrets WHERE endpoint_id = $1 AND expires_at IS NOT NULL`, endpointID)
	batch.Queue(`UPDATE webhook_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND expires_at IS NULL`, endpointID, oldExpiresAt)
	batch.Queue(`INSERT INTO webhook_secrets (id, endpoint_id, secret, created_at) VALUES ($1, $2, $3, $4)`,
		billing.NewID(), endpointID, secret, now)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("rotate webhook secret: %w", err)
	}
	return nil
}

// WebhookSecrets returns the endpoint's secrets that sign at now: the current one first, then
// the one it replaced while that is within its grace period.
func WebhookSecrets(ctx context.Context, db DBTX, endpointID uuid.UUID, now time.Time) ([]string, error) {
	rows, err := db.Query(ctx, `
		SELECT secret FROM webhook_secrets WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)
		ORDER BY expires_at DESC NULLS FIRST`, endpointID, now)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	secrets, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	return secrets, nil
}

// endpointColumns reads an endpoint aliased e, with when its replaced secret stops signing.
const endpointColumns = `id, url, event_types, description, enabled, created_at, updated_at,
	(SELECT max(expires_at) FROM webhook_secrets s WHERE s.endpoint_id = e.id)`

// failingJoin counts the failing deliveries of the endpoint aliased e (from the partial index
// webhook_deliveries_failing), and failingColumns reads them.
const (
	failingJoin = `LATERAL (SELECT count(*) FILTER (WHERE d.status = 'failed') AS failed,
		count(*) FILTER (WHERE d.status = 'pending') AS retrying, max(d.last_attempt_at) AS last_failure_at
		FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.last_error IS NOT NULL) f`
	failingColumns = `f.failed, f.retrying, f.last_failure_at`
)

// scanEndpoint reads endpointColumns, then failingColumns if failing.
func scanEndpoint(row pgx.Row, failing bool) (billing.WebhookEndpoint, error) {
	var e billing.WebhookEndpoint
	dest := []any{&e.ID, &e.URL, &e.EventTypes, &e.Description, &e.Enabled, &e.CreatedAt, &e.UpdatedAt, &e.OldSecretExpiresAt}
	if failing {
		dest = append(dest, &e.Failing.Failed, &e.Failing.Retrying, &e.Failing.LastFailureAt)
	}
	err := row.Scan(dest...)
	return e, err
}

func collectEndpoints(rows pgx.Rows, err error, failing bool) ([]billing.WebhookEndpoint, error) {
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	endpoints, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.WebhookEndpoint, error) { return scanEndpoint(row, failing) })
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return endpoints, nil
}
