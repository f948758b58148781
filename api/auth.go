package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// keyPrefix starts every Recur API key, so that leaked keys are easy to recognise in scans.
const keyPrefix = "rk_"

// CreateAPIKey makes a new API key named name, stores its hash and returns the key. The key
// itself is never stored: it is shown once.
func CreateAPIKey(ctx context.Context, db store.DBTX, name string, clock billing.Clock) (string, error) {
	key := keyPrefix + strings.ToLower(rand.Text()) // 130 random bits
	hash := sha256.Sum256([]byte(key))
	if err := store.CreateAPIKey(ctx, db, billing.NewID(), name, key[:len(keyPrefix)+6], hash[:], clock.Now()); err != nil {
		return "", err
	}
	return key, nil
}

// authenticate lets through requests that carry a valid API key as a bearer token.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !strings.HasPrefix(key, keyPrefix) {
			unauthorized(w, "send an API key as Authorization: Bearer rk_...")
			return
		}
		// Keys carry 130 random bits, so one SHA-256 is as good as a slow hash here.
		hash := sha256.Sum256([]byte(key))
		id, err := store.FindAPIKey(r.Context(), a.db, hash[:])
		if errors.Is(err, billing.ErrNotFound) {
			unauthorized(w, "the API key is not valid")
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyIDKey{}, id)))
	})
}

// apiKeyIDKey is the request context key of the authenticated API key's id (a uuid.UUID).
type apiKeyIDKey struct{}

// apiKeyID returns the id of the API key that authenticated the request.
func apiKeyID(ctx context.Context) uuid.UUID {
	id, _ := ctx.Value(apiKeyIDKey{}).(uuid.UUID)
	return id
}

func unauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="recur"`)
	writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: detail})
}
