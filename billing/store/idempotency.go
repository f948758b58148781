package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// StoredResponse is the answer kept for an idempotency key, to be replayed to a retry of the same
// request.
type StoredResponse struct {
	Fingerprint []byte // SHA-256 of the request that got the answer
	Status      int
	ContentType string
	Body        []byte
}

// LockIdempotencyKey takes a transaction-scoped advisory lock on an API key's idempotency key. It
// does not wait: false means that another transaction holds it, i.e. a request with the same key
// is still being executed. The lock is named by a 64-bit hash of both keys; a collision would
// only answer a request 409 needlessly.
func LockIdempotencyKey(ctx context.Context, tx pgx.Tx, apiKeyID uuid.UUID, key string) (bool, error) {
	var locked bool
	err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency_key:' || $1::text || ':' || $2, 0))`,
		apiKeyID, key).Scan(&locked)
	if err != nil {
		return false, fmt.Errorf("lock idempotency key: %w", err)
	}
	return locked, nil
}

// GetStoredResponse reads the answer stored for an API key's idempotency key, or
// billing.ErrNotFound.
func GetStoredResponse(ctx context.Context, db DBTX, apiKeyID uuid.UUID, key string) (StoredResponse, error) {
	var s StoredResponse
	err := db.QueryRow(ctx, `
		SELECT fingerprint, response_status, content_type, response_body
		FROM idempotency_keys WHERE api_key_id = $1 AND key = $2`, apiKeyID, key).
		Scan(&s.Fingerprint, &s.Status, &s.ContentType, &s.Body)
	if err != nil {
		return s, notFound(err, "idempotency key")
	}
	return s, nil
}

// SaveStoredResponse stores the answer given to an API key's idempotency key.
func SaveStoredResponse(ctx context.Context, db DBTX, apiKeyID uuid.UUID, key string, s StoredResponse, now time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO idempotency_keys (api_key_id, key, fingerprint, response_status, content_type, response_body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		apiKeyID, key, s.Fingerprint, s.Status, s.ContentType, s.Body, now)
	if err != nil {
		return fmt.Errorf("save idempotency key: %w", err)
	}
	return nil
}

// DeleteIdempotencyKeys deletes at most limit idempotency keys created before cutoff and returns
// how many it deleted.
func DeleteIdempotencyKeys(ctx context.Context, db DBTX, cutoff time.Time, limit int) (int, error) {
	tag, err := db.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE (api_key_id, key) IN (
			SELECT api_key_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("delete idempotency keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
