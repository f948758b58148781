package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway"
)

// wrapped serves h behind authenticate and idempotent at POST /things, on its own database.
type wrapped struct {
	t   *testing.T
	url string
	key string
	db  *pgxpool.Pool
}

func newWrapped(t *testing.T, h txHandler) *wrapped {
	t.Helper()
	db := storetest.NewDB(t)
	clock := billing.NewManualClock(time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC))
	a := &API{db: db, clock: clock, log: slog.New(slog.DiscardHandler)}
	key, err := CreateAPIKey(context.Background(), db, "test", clock)
	require.NoError(t, err)
	r := chi.NewRouter()
	r.With(a.authenticate).Post("/things", a.idempotent(h))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &wrapped{t: t, url: srv.URL, key: key, db: db}
}

// post sends body to /things with the Idempotency-Key idemKey, and the headers in extra, and
// returns the status, whether the answer was a replay, and the body.
func (w *wrapped) post(idemKey, body string, extra ...string) (int, bool, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+"/things", strings.NewReader(body))
	require.NoError(w.t, err)
	req.Header.Set("Authorization", "Bearer "+w.key)
	req.Header.Set("Idempotency-Key", idemKey)
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(w.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(w.t, err)
	return resp.StatusCode, resp.Header.Get("Idempotent-Replayed") == "true", string(b)
}

func (w *wrapped) count(table string) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

// createCustomer is a handler that stores a customer with the external id in the body.
func createCustomer(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return 0, nil, err
	}
	c := billing.Customer{ID: billing.NewID(), ExternalID: string(body), Email: "a@example.com", Name: "A", CreatedAt: time.Now()}
	if err := store.CreateCustomer(ctx, tx, c); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]string{"id": c.ID.String()}, nil
}

// TestFailedHandlerLeavesNoEffect: the writes of a handler that fails are rolled back. A 4xx
// answer is stored and replayed; a 5xx one is not, so that the retry runs again.
func TestFailedHandlerLeavesNoEffect(t *testing.T) {
	t.Parallel()
	// The handler writes a customer, then fails as the header X-Fail says (the fingerprint
	// leaves headers out, so a retry may behave otherwise).
	w := newWrapped(t, func(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
		status, body, err := createCustomer(ctx, tx, r)
		switch r.Header.Get("X-Fail") {
		case "503":
			err = &gateway.Error{Class: gateway.Transient, Op: "getToken"}
		case "422":
			err = &billing.ValidationError{Field: "f", Reason: "is wrong"}
		}
		return status, body, err
	})

	status, _, body := w.post("unavailable", "acct_1", "X-Fail", "503")
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.Zero(t, w.count("customers"))
	require.Zero(t, w.count("idempotency_keys"))

	status, _, first := w.post("invalid", "acct_1", "X-Fail", "422")
	require.Equal(t, http.StatusUnprocessableEntity, status, first)
	require.Zero(t, w.count("customers"))
	status, replayed, again := w.post("invalid", "acct_1") // would succeed if it ran
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.True(t, replayed)
	require.Equal(t, first, again)

	status, replayed, body = w.post("unavailable", "acct_1")
	require.Equal(t, http.StatusCreated, status, body)
	require.False(t, replayed)
	require.Equal(t, 1, w.count("customers"))
}
