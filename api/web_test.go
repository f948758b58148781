package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestFinancePagesSession checks what the browser test cannot see: the session cookie's
// attributes, the CSRF token of sign-out, cross-origin posts, redirects that stay on the site, and
// sessions that end with time or with their key.
func TestFinancePagesSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	clock := billing.NewManualClock(time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC))
	srv := httptest.NewServer(api.New(api.Deps{Pool: db, Clock: clock, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	key, err := api.CreateAPIKeyWithRole(ctx, db, "finance", api.RoleFinance, clock)
	require.NoError(t, err)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values, header ...string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	get := func(path string, cookie *http.Cookie) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	signIn := func(header ...string) *http.Cookie {
		resp := post("/ui/sign-in", url.Values{"key": {key}, "next": {"/ui/at-risk"}}, header...)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/ui/at-risk", resp.Header.Get("Location"))
		require.Len(t, resp.Cookies(), 1)
		return resp.Cookies()[0]
	}

	c := signIn()
	require.True(t, c.HttpOnly)
	require.False(t, c.Secure, "plain HTTP")
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/ui", c.Path)
	require.NotContains(t, c.Value, key)
	require.True(t, signIn("X-Forwarded-Proto", "https").Secure, "behind a TLS proxy")

	resp, page := get("/ui/", c)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	require.Len(t, csrf, 2, "the sign-out form carries the token")

	// Wrong keys, foreign redirects and cross-origin posts get nowhere.
	resp = post("/ui/sign-in", url.Values{"key": {"rk_nope"}})
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Empty(t, resp.Cookies())
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/v1/customers", `/ui/\evil`} {
		resp = post("/ui/sign-in", url.Values{"key": {key}, "next": {next}})
		require.Equal(t, "/ui/", resp.Header.Get("Location"), next)
	}
	resp = post("/ui/sign-in", url.Values{"key": {key}}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	signOut := func(token string, header ...string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/ui/sign-out", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		req.AddCookie(c)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	require.Equal(t, http.StatusForbidden, signOut("not-the-token").StatusCode)
	require.Equal(t, http.StatusForbidden, signOut(csrf[1], "Sec-Fetch-Site", "cross-site").StatusCode)
	resp, _ = get("/ui/", c)
	require.Equal(t, http.StatusOK, resp.StatusCode, "still signed in")

	// Signing out ends the session on the server, not just in the browser.
	resp = signOut(csrf[1])
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, -1, resp.Cookies()[0].MaxAge)
	resp, _ = get("/ui/runs/"+billing.NewID().String(), c)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/sign-in?next=%2Fui%2Fruns%2F"))

	// Sessions end after eight hours, and when their key is revoked.
	c = signIn()
	clock.Set(clock.Now().Add(8 * time.Hour))
	resp, _ = get("/ui/", c)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	c = signIn()
	_, err = db.Exec(ctx, `UPDATE api_keys SET revoked_at = $1`, clock.Now())
	require.NoError(t, err)
	resp, _ = get("/ui/", c)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	// The pages' own bad input is a page that names the field, not a 500.
	key, err = api.CreateAPIKeyWithRole(ctx, db, "admin", api.RoleAdmin, clock)
	require.NoError(t, err)
	c = signIn()
	resp, page = get("/ui/revenue?interval=fortnight", c)
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, page, "<code>interval</code> must be day or month")
	resp, _ = get("/ui/charges/"+billing.NewID().String(), c)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
