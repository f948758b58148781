package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
	"github.com/recur-billing/recur/migrations"
)

// TestServeModesSplitAPIAndWorkers runs an API-only process and two worker processes on one
// database: the API enqueues and works nothing, the workers collect the charge once, each process
// serves its metrics, and the JSON logs carry ids but no secret.
func TestServeModesSplitAPIAndWorkers(t *testing.T) {
	t.Parallel()
	pool := storetest.NewDB(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	const secret = "sim-secret-never-logged"
	sim := egwsim.New(egwsim.Options{ClientSecret: secret}, log)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	gwCfg := simulatorConfig(simSrv.URL)
	gwCfg.ClientSecret = secret
	gw, err := egw.New(gwCfg, log)
	require.NoError(t, err)

	apiURL := startApp(t, pool, gw, log, modeAPI)
	key, err := api.CreateAPIKey(context.Background(), pool, "test", billing.SystemClock{})
	require.NoError(t, err)
	e := &testEnv{t: t, url: apiURL, key: key}
	subID := e.subscribe(egwsim.TokenActive)

	// A retried POST with its Idempotency-Key is a replay, and counted as one.
	for range 2 {
		req, err := http.NewRequest(http.MethodPost, apiURL+"/v1/customers",
			strings.NewReader(`{"external_id":"acct_idem","email":"a@example.com","name":"A"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", "create-acct-idem")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	require.Equal(t, 1.0, metricValue(t, apiURL, `recur_idempotency_requests_total{outcome="executed"}`))
	require.Equal(t, 1.0, metricValue(t, apiURL, `recur_idempotency_requests_total{outcome="replayed"}`))

	// The API process enqueued the scheduler pass but works no job.
	require.Equal(t, 1.0, metricValue(t, apiURL, `recur_river_jobs{queue="default",state="available"}`))
	require.Equal(t, 1.0, metricValue(t, apiURL, `recur_gateway_request_duration_seconds_count{operation="get_token",outcome="ok",status="0"}`))
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, sim.Ledger())

	workers := []string{startApp(t, pool, gw, log, modeWorker), startApp(t, pool, gw, log, modeWorker)}
	charges := e.settledCharges(subID, 1)
	require.Equal(t, "succeeded", charges[0].Status)
	require.Len(t, captured(sim), 1)

	var succeeded, runs, captures float64
	for _, w := range workers {
		require.Equal(t, http.StatusNotFound, get(t, w+"/v1/customers/"+billing.NewID().String(), key), "workers serve no API")
		require.Equal(t, http.StatusNoContent, get(t, w+"/healthz", ""))
		require.Equal(t, http.StatusNoContent, get(t, w+"/readyz", ""))
		succeeded += metricValue(t, w, `recur_charges_finished_total{failure_code="",status="succeeded"}`)
		runs += metricValue(t, w, `recur_billing_run_subscriptions_due_count`)
		captures += metricValue(t, w, `recur_gateway_request_duration_seconds_count{operation="capture",outcome="ok",status="0"}`)
	}
	require.Equal(t, 1.0, succeeded)
	require.Equal(t, 1.0, runs)
	require.Equal(t, 1.0, captures)
	require.Equal(t, http.StatusNoContent, get(t, apiURL+"/readyz", ""))

	out := logs.String()
	require.Contains(t, out, `"charge_id":"`+charges[0].ID+`"`)
	require.Contains(t, out, `"request_id":`)
	for _, s := range []string{secret, key, "Bearer", "access_token"} {
		require.NotContains(t, out, s)
	}
}

func TestReadyzWantsACurrentSchema(t *testing.T) {
	t.Parallel()
	pool := storetest.NewDB(t)
	log := slog.New(slog.DiscardHandler)
	h := readyz(pool, log)
	ready := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code
	}
	require.Equal(t, http.StatusNoContent, ready())
	m, err := migrations.New(pool, log)
	require.NoError(t, err)
	defer m.Close()
	_, err = m.Down(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, ready())
}

func TestServeRejectsAnUnknownMode(t *testing.T) {
	t.Parallel()
	_, err := loadConfig(env(map[string]string{"RECUR_MODE": "both"}))
	require.ErrorContains(t, err, "RECUR_MODE")
	err = run(context.Background(), []string{"serve", "--mode", "both"}, env(nil), io.Discard)
	require.ErrorContains(t, err, "--mode")
}

// TestRealGatewayRefusesTestClockCustomers: a database that recur dev's simulator filled with
// customers on test clocks is not served with a real gateway, by serve or by dev: its workers
// would bill those customers at their clocks' frozen times.
func TestRealGatewayRefusesTestClockCustomers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.NewURL(t)
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	clock := billing.FrozenClock{ID: billing.NewID(), Name: "sandbox", FrozenTime: time.Now().UTC(), CreatedAt: time.Now().UTC()}
	require.NoError(t, store.CreateTestClock(ctx, pool, clock))
	storetest.Subscription(t, pool, storetest.SubscriptionOpts{TestClockID: &clock.ID})

	getenv := env(map[string]string{"DATABASE_URL": url, "RECUR_LOG_LEVEL": "error",
		"RECUR_EGW_BASE_URL": "https://egw.example", "RECUR_EGW_TOKEN_URL": "https://egw.example/oauth2/token",
		"RECUR_EGW_CLIENT_ID": "id", "RECUR_EGW_CLIENT_SECRET": "secret", "RECUR_EGW_PARTICIPANT_ID": "p", "RECUR_EGW_SHOP_AGREEMENT_ID": "s"})
	for _, cmd := range []string{"serve", "dev"} {
		err := run(ctx, []string{cmd, "--addr", "127.0.0.1:0"}, getenv, io.Discard)
		require.ErrorContains(t, err, "the database holds 1 customers on test clocks", cmd)
	}
}

// startApp serves an app in mode m on a loopback port until the test ends, and returns its URL.
func startApp(t *testing.T, pool *pgxpool.Pool, gw gateway.Gateway, log *slog.Logger, m mode) string {
	t.Helper()
	a, err := newApp(pool, gw, billing.SystemClock{}, log, jobs.Config{BillingInterval: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond}, m, "")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	return "http://" + ln.Addr().String()
}

// get sends a GET, with the API key when not empty, and returns the status.
func get(t *testing.T, url, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// metricValue scrapes baseURL/metrics and returns the value of one series (0 when absent).
func metricValue(t *testing.T, baseURL, series string) float64 {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return v
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
