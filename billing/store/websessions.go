package store

import (
	"context"
	"fmt"
	"time"
)

// WebSession is a browser signed in to the finance pages with an API key.
type WebSession struct {
	IDHash    []byte // SHA-256 of the id that the cookie carries
	Key       APIKey // the key it signed in with, and so what it may do
	CSRFToken string // sent back with every form that changes something
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateWebSession stores a new session and deletes the expired ones.
func CreateWebSession(ctx context.Context, db DBTX, s WebSession) error {
	if _, err := db.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= $1`, s.CreatedAt); err != nil {
		return fmt.Errorf("delete expired web sessions: %w", err)
	}
	_, err := db.Exec(ctx, `
		INSERT INTO web_sessions (id_hash, api_key_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.IDHash, s.Key.ID, s.CSRFToken, s.CreatedAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// FindWebSession returns the session with the given id hash if it has not expired at now and
// its key has not been revoked.
func FindWebSession(ctx context.Context, db DBTX, idHash []byte, now time.Time) (WebSession, error) {
	s := WebSession{IDHash: idHash}
	err := db.QueryRow(ctx, `
		SELECT k.id, k.role, s.csrf_token, s.created_at, s.expires_at
		FROM web_sessions s JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.id_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL`, idHash, now).
		Scan(&s.Key.ID, &s.Key.Role, &s.CSRFToken, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return s, notFound(err, "web session")
	}
	return s, nil
}

// DeleteWebSession ends a session.
func DeleteWebSession(ctx context.Context, db DBTX, idHash []byte) error {
	if _, err := db.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, idHash); err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}
