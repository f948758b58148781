package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// testEnv is the whole service over real HTTP: its own database, River workers, the EGW
// simulator behind the real EGW client, and a clock the test moves.
type testEnv struct {
	t     *testing.T
	url   string
	key   string
	clock *billing.ManualClock
	sim   *egwsim.Sim
	river *jobs.Client
	db    *pgxpool.Pool // the service's database, for checking what it stored
}

func newTestEnv(t *testing.T) *testEnv { return newTestEnvWith(t, egwsim.Options{}) }

// newTestEnvWith is newTestEnv with a simulator made with simOpts (its clock is the env's) and
// the jobs' configuration edited.
func newTestEnvWith(t *testing.T, simOpts egwsim.Options, edits ...func(*jobs.Config)) *testEnv {
	t.Helper()
	clock := billing.NewManualClock(time.Date(2026, time.January, 31, 9, 0, 0, 0, time.UTC))
	e := newTestEnvOn(t, clock, simOpts, edits...)
	e.clock = clock
	return e
}

// ownCallbacks, as the simulator's CallbackURL, sends its callbacks to the env's own API.
const ownCallbacks = "/v1/egw/callbacks"

// newTestEnvOn is newTestEnvWith on the given clock (the env's clock field is left nil). A
// simulator CallbackURL that is a path (ownCallbacks) is on the env's API.
func newTestEnvOn(t *testing.T, clock billing.Clock, simOpts egwsim.Options, edits ...func(*jobs.Config)) *testEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	if strings.HasPrefix(simOpts.CallbackURL, "/") {
		simOpts.CallbackURL = url + simOpts.CallbackURL
	}
	pool := storetest.NewDB(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	simOpts.Clock = clock
	sim := egwsim.New(simOpts, log)
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	t.Cleanup(sim.Close) // ends callbacks waiting to be sent again
	gw, err := egw.New(egw.Config{BaseURL: simSrv.URL, TokenURL: simSrv.URL + "/oauth2/token",
		ClientID: egwsim.DefaultClientID, ClientSecret: egwsim.DefaultClientSecret,
		ParticipantID: egwsim.DefaultParticipantID, ShopAgreementID: egwsim.DefaultShopAgreementID,
		Timeout: 5 * time.Second}, log)
	require.NoError(t, err)

	jc := jobs.Config{BillingInterval: 200 * time.Millisecond, PollInterval: 100 * time.Millisecond,
		ReconcileInterval: 200 * time.Millisecond, Lease: 3 * time.Second}
	for _, edit := range edits {
		edit(&jc)
	}
	a, err := newApp(pool, gw, clock, log, jc, modeAll, url)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	key, err := api.CreateAPIKey(ctx, pool, "test", clock)
	require.NoError(t, err)
	return &testEnv{t: t, url: url, key: key, sim: sim, river: a.river, db: pool}
}

// do sends a request with the API key and decodes the JSON answer into out (when not nil). It
// returns the status code.
func (e *testEnv) do(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+e.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(e.t, json.NewDecoder(resp.Body).Decode(out), "%s %s answered %d", method, path, resp.StatusCode)
	}
	return resp.StatusCode
}

// client sends the tests' requests. It checks those to /v1, and their answers, against the API's
// OpenAPI document (see validating in openapi_test.go).
func (e *testEnv) client() *http.Client {
	return &http.Client{Transport: validating{t: e.t, next: http.DefaultTransport}}
}

// post sends a POST, requires the given status and decodes the answer into out.
func (e *testEnv) post(path string, body any, wantStatus int, out any) {
	e.t.Helper()
	var raw json.RawMessage
	status := e.do(http.MethodPost, path, body, &raw)
	require.Equal(e.t, wantStatus, status, "POST %s: %s", path, raw)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(raw, out))
	}
}

type idJSON struct {
	ID string `json:"id"`
}

// subscribe registers a customer with the token and a monthly subscription of 12.50 EUR on it.
func (e *testEnv) subscribe(tokenID string) (subID string) {
	e.t.Helper()
	var cus, pm, sub idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_" + tokenID, "email": "ada@example.com", "name": "Ada"}, 201, &cus)
	e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": tokenID}, 201, &pm)
	e.post("/v1/subscriptions", map[string]any{"customer_id": cus.ID, "payment_method_id": pm.ID,
		"amount": 1250, "currency": "EUR", "interval": "month", "interval_count": 1}, 201, &sub)
	return sub.ID
}

type chargeOut struct {
	ID               string  `json:"id"`
	Status           string  `json:"status"`
	Amount           int64   `json:"amount"`
	Currency         string  `json:"currency"`
	GatewayPaymentID *string `json:"gateway_payment_id"`
	Failure          *struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"failure"`
	Period struct {
		Index int       `json:"index"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"period"`
	Attempts []struct {
		Steps []struct {
			Step    string `json:"step"`
			Outcome string `json:"outcome"`
		} `json:"steps"`
	} `json:"attempts"`
}

// settledCharges waits until the subscription has n charges, all of them finished (see
// billing.ChargeStatus.Terminal), and returns them, newest period first.
func (e *testEnv) settledCharges(subID string, n int) []chargeOut {
	e.t.Helper()
	return e.chargesWhen(subID, n, billing.ChargeStatus.Terminal)
}

// restingCharges is settledCharges that also takes charges retrying (waiting for their next
// attempt) as settled.
func (e *testEnv) restingCharges(subID string, n int) []chargeOut {
	e.t.Helper()
	return e.chargesWhen(subID, n, func(s billing.ChargeStatus) bool { return s.Terminal() || s == billing.ChargeRetrying })
}

// chargesWhen waits until the subscription has n charges, each in a status for which ok is true,
// and returns them, newest period first.
func (e *testEnv) chargesWhen(subID string, n int, ok func(billing.ChargeStatus) bool) []chargeOut {
	e.t.Helper()
	var page struct {
		Data []chargeOut `json:"data"`
	}
	require.Eventually(e.t, func() bool {
		page.Data = nil
		require.Equal(e.t, 200, e.do(http.MethodGet, "/v1/subscriptions/"+subID+"/charges", nil, &page))
		if len(page.Data) != n {
			return false
		}
		for _, c := range page.Data {
			if !ok(billing.ChargeStatus(c.Status)) {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "waiting for %d settled charges", n)
	return page.Data
}

// waitSchedulerPasses waits until n scheduler passes have completed from now on.
func (e *testEnv) waitSchedulerPasses(n int) {
	e.t.Helper()
	e.waitJobs(jobs.BillDueSubscriptionsArgs{}.Kind(), n)
}

// waitJobs waits until n jobs of kind have completed from now on.
func (e *testEnv) waitJobs(kind string, n int) {
	e.t.Helper()
	events, cancel := e.river.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	timeout := time.After(20 * time.Second)
	for n > 0 {
		select {
		case ev := <-events:
			if ev.Job.Kind == kind {
				n--
			}
		case <-timeout:
			e.t.Fatalf("%s jobs did not complete; %d to go", kind, n)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
