package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// CreateAPIKey stores an API key by the SHA-256 hash of its secret.
func CreateAPIKey(ctx context.Context, db DBTX, id uuid.UUID, name, prefix string, hash []byte, now time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO api_keys (id, name, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, name, prefix, hash, now)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// FindAPIKey returns the id of the unrevoked key with the given hash.
func FindAPIKey(ctx context.Context, db DBTX, hash []byte) (uuid.UUID, error) {
	var id uuid.UUID
	err := db.QueryRow(ctx, `SELECT id FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`, hash).Scan(&id)
	if err != nil {
		return id, notFound(err, "api key")
	}
	return id, nil
}
