package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// publicRoutes answer without a key or a session, on purpose.
var publicRoutes = map[string]string{
	"GET /healthz":         "liveness probe",
	"GET /v1/openapi.json": "the API's OpenAPI document, public like Stripe's",
	"GET /readyz":          "readiness probe (operations)",
	"GET /metrics":         "Prometheus scrape (operations)",
	"GET /ui/sign-in":      "the finance pages' sign-in form",
	"POST /ui/sign-in":     "signs in with a key typed into the form",
	"GET /ui/static/*":     "style sheet and script of the finance pages",
}

// callbackRoute matches the gateway's callback, which EGW sends unauthenticated (and unsigned).
var callbackRoute = regexp.MustCompile(`(?i)callback`)

func mutating(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// TestEveryRouteNeedsItsRole walks the router: no route answers without credentials unless it is
// public by name, and a finance key is refused (403, problem+json) on every route that changes
// something, while it may read everything else.
func TestEveryRouteNeedsItsRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	clock := billing.NewManualClock(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
	h := api.New(api.Deps{Pool: db, Clock: clock, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	keys := map[api.Role]string{}
	for _, role := range []api.Role{api.RoleFinance, api.RoleWrite, api.RoleAdmin} {
		key, err := api.CreateAPIKeyWithRole(ctx, db, string(role), role, clock)
		require.NoError(t, err)
		keys[role] = key
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path, key string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	param := regexp.MustCompile(`\{[^}]*\}`)

	var apiRoutes, mutatingRoutes int
	err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		name := method + " " + route
		if _, ok := publicRoutes[name]; ok || callbackRoute.MatchString(route) {
			return nil
		}
		path := strings.ReplaceAll(param.ReplaceAllString(route, billing.NewID().String()), "*", "x")
		resp := send(method, path, "")
		switch {
		case strings.HasPrefix(route, "/v1/"):
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s answers without a key", name)
		case strings.HasPrefix(route, "/ui/"):
			require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s answers without a session", name)
			require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/sign-in"), "%s redirects to %s", name, resp.Header.Get("Location"))
			return nil
		default:
			t.Errorf("%s is outside /v1 and /ui and not public by name", name)
			return nil
		}
		apiRoutes++
		resp = send(method, path, keys[api.RoleFinance])
		if mutating(method) {
			mutatingRoutes++
			require.Equal(t, http.StatusForbidden, resp.StatusCode, "a finance key may not %s", name)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), name)
			for _, role := range []api.Role{api.RoleWrite, api.RoleAdmin} {
				status := send(method, path, keys[role]).StatusCode
				require.NotContains(t, []int{401, 403}, status, "a %s key may %s", role, name)
			}
			return nil
		}
		require.NotContains(t, []int{401, 403}, resp.StatusCode, "a finance key may read %s", name)
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, apiRoutes, 10, "the walk found the API's routes")
	require.GreaterOrEqual(t, mutatingRoutes, 3, "the walk found the routes that create things")

	// The 403 says what is missing.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/customers", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+keys[api.RoleFinance])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var p api.Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Contains(t, p.Detail, "write role")
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"admin", "write", "finance"} {
		r, err := api.ParseRole(s)
		require.NoError(t, err)
		require.Equal(t, api.Role(s), r)
	}
	for _, s := range []string{"", "Admin", "read", "root"} {
		_, err := api.ParseRole(s)
		var ve *billing.ValidationError
		require.ErrorAs(t, err, &ve, s)
		require.Equal(t, "role", ve.Field)
	}
}
