package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// keyPrefix starts every Recur API key, so that leaked keys are easy to recognise in scans.
const keyPrefix = "rk_"

// Role is what an API key may do. Each role may also do everything that the roles before it in
// roles may.
type Role string

// The roles of API keys.
const (
	// RoleFinance reads: customers, subscriptions, charges, billing runs, reports and exports, and
	// the finance pages. It changes nothing.
	RoleFinance Role = "finance"
	// RoleWrite also creates customers, payment methods and subscriptions: the SaaS backend's key,
	// and the default of `recur apikey create`.
	RoleWrite Role = "write"
	// RoleAdmin may do everything, operations on Recur itself included.
	RoleAdmin Role = "admin"
)

// roles lists the roles from the least allowed to the most.
var roles = []Role{RoleFinance, RoleWrite, RoleAdmin}

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	if !slices.Contains(roles, Role(s)) {
		return "", &billing.ValidationError{Field: "role", Reason: "must be admin, write or finance"}
	}
	return Role(s), nil
}

// allows reports whether a key with role r may do what needs role need. No role allows nothing.
func (r Role) allows(need Role) bool {
	have := slices.Index(roles, r)
	return have >= 0 && have >= slices.Index(roles, need)
}

// CreateAPIKey makes a new write key named name; see CreateAPIKeyWithRole.
func CreateAPIKey(ctx context.Context, db store.DBTX, name string, clock billing.Clock) (string, error) {
	return CreateAPIKeyWithRole(ctx, db, name, RoleWrite, clock)
}

// CreateAPIKeyWithRole makes a new API key named name with the given role, stores its hash and
// returns the key. The key itself is never stored: it is shown once.
func CreateAPIKeyWithRole(ctx context.Context, db store.DBTX, name string, role Role, clock billing.Clock) (string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	key := keyPrefix + strings.ToLower(rand.Text()) // 130 random bits
	k := store.APIKey{ID: billing.NewID(), Role: string(role)}
	if err := store.CreateAPIKey(ctx, db, k, name, key[:len(keyPrefix)+6], hashSecret(key), clock.Now()); err != nil {
		return "", err
	}
	return key, nil
}

// hashSecret is how API keys and session ids are stored. They carry 130 random bits, so one
// SHA-256 is as good as a slow hash here.
func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// authenticate lets through requests that carry a valid API key as a bearer token, with the key
// in the request's context.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !strings.HasPrefix(secret, keyPrefix) {
			unauthorized(w, "send an API key as Authorization: Bearer rk_...")
			return
		}
		key, err := store.FindAPIKey(r.Context(), a.db, hashSecret(secret))
		if errors.Is(err, billing.ErrNotFound) {
			unauthorized(w, "the API key is not valid")
			return
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withAPIKey(r.Context(), key)))
	})
}

// allow lets through requests whose API key has at least the role need, and answers the others
// 403. Every route declares the role it needs with it; a request with no key gets no further.
func allow(need Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if have := roleOf(r.Context()); !have.allows(need) {
				writeProblem(w, Problem{Type: "/problems/forbidden", Status: http.StatusForbidden,
					Detail: fmt.Sprintf("this needs a key with the %s role (or a role above it); this key's role is %s", need, have)})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// apiKeyKey is the request context key of the authenticated API key (a store.APIKey).
type apiKeyKey struct{}

func withAPIKey(ctx context.Context, k store.APIKey) context.Context {
	return context.WithValue(ctx, apiKeyKey{}, k)
}

// apiKeyID returns the id of the API key that authenticated the request.
func apiKeyID(ctx context.Context) uuid.UUID {
	k, _ := ctx.Value(apiKeyKey{}).(store.APIKey)
	return k.ID
}

// roleOf returns the role of the API key that authenticated the request; none when there is none.
func roleOf(ctx context.Context) Role {
	k, _ := ctx.Value(apiKeyKey{}).(store.APIKey)
	return Role(k.Role)
}

func unauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="recur"`)
	writeProblem(w, Problem{Status: http.StatusUnauthorized, Detail: detail})
}
