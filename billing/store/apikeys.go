package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// APIKey is a stored API key: who it is and what it may do. The key itself is never stored.
type APIKey struct {
	ID   uuid.UUID
	Role string // admin, write or finance
}

// CreateAPIKey stores an API key by the SHA-256 hash of its secret.
func CreateAPIKey(ctx context.Context, db DBTX, k APIKey, name, prefix string, hash []byte, now time.Time) error {
	_, err := db.Exec(ctx, `
		INSERT INTO api_keys (id, name, role, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, name, k.Role, prefix, hash, now)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// FindAPIKey returns the unrevoked key with the given hash.
func FindAPIKey(ctx context.Context, db DBTX, hash []byte) (APIKey, error) {
	var k APIKey
	err := db.QueryRow(ctx, `SELECT id, role FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`, hash).Scan(&k.ID, &k.Role)
	if err != nil {
		return k, notFound(err, "api key")
	}
	return k, nil
}
