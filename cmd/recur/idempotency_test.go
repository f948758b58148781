package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// keyedAnswer is the answer to a POST sent with an Idempotency-Key.
type keyedAnswer struct {
	status   int
	replayed bool
	body     string
}

// problem decodes the answer as a problem.
func (a keyedAnswer) problem(t *testing.T) problemOut {
	t.Helper()
	var p problemOut
	require.NoError(t, json.Unmarshal([]byte(a.body), &p), a.body)
	return p
}

// id reads the id of the created thing.
func (a keyedAnswer) id(t *testing.T) string {
	t.Helper()
	var out idJSON
	require.NoError(t, json.Unmarshal([]byte(a.body), &out), a.body)
	require.NotEmpty(t, out.ID, a.body)
	return out.ID
}

// postKeyed sends a POST with the API key apiKey and the Idempotency-Key header set to each of
// idemKeys (none: no header).
func (e *testEnv) postKeyed(apiKey, path, body string, idemKeys ...string) keyedAnswer {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	for _, k := range idemKeys {
		req.Header.Add("Idempotency-Key", k)
	}
	resp, err := e.client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return keyedAnswer{status: resp.StatusCode, replayed: resp.Header.Get("Idempotent-Replayed") == "true", body: string(b)}
}

// count counts the rows of a table.
func (e *testEnv) count(table string) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.db.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n))
	return n
}

// requireReplay checks that again is first replayed.
func requireReplay(t *testing.T, first, again keyedAnswer) {
	t.Helper()
	require.False(t, first.replayed, "the first answer is not a replay")
	require.True(t, again.replayed, "the second answer is a replay: %s", again.body)
	require.Equal(t, first.status, again.status)
	require.Equal(t, first.body, again.body)
}

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	cusBody := `{"external_id":"acct_1","email":"ada@example.com","name":"Ada"}`
	cus := e.postKeyed(e.key, "/v1/customers", cusBody, "create-customer-1")
	require.Equal(t, http.StatusCreated, cus.status, cus.body)
	requireReplay(t, cus, e.postKeyed(e.key, "/v1/customers", cusBody, "create-customer-1"))

	pmPath := "/v1/customers/" + cus.id(t) + "/payment_methods"
	pmBody := `{"gateway_token_id":"` + egwsim.TokenActive + `"}`
	pm := e.postKeyed(e.key, pmPath, pmBody, "register-token-1")
	require.Equal(t, http.StatusCreated, pm.status, pm.body)
	requireReplay(t, pm, e.postKeyed(e.key, pmPath, pmBody, "register-token-1"))

	subBody := `{"customer_id":"` + cus.id(t) + `","payment_method_id":"` + pm.id(t) +
		`","amount":1250,"currency":"EUR","interval":"month","interval_count":1}`
	sub := e.postKeyed(e.key, "/v1/subscriptions", subBody, "subscribe-1")
	require.Equal(t, http.StatusCreated, sub.status, sub.body)
	requireReplay(t, sub, e.postKeyed(e.key, "/v1/subscriptions", subBody, "subscribe-1"))

	require.Equal(t, 1, e.count("customers"))
	require.Equal(t, 1, e.count("payment_methods"))
	require.Equal(t, 1, e.count("subscriptions"), "a retried subscription would be charged twice")

	// Without a key, the same request runs again: here, a second subscription.
	again := e.postKeyed(e.key, "/v1/subscriptions", subBody)
	require.Equal(t, http.StatusCreated, again.status, again.body)
	require.False(t, again.replayed)
	require.NotEqual(t, sub.id(t), again.id(t))
}

func TestIdempotencyKeyUsedWithAnotherRequestIs422(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	first := e.postKeyed(e.key, "/v1/customers", `{"external_id":"acct_1","email":"ada@example.com","name":"Ada"}`, "k1")
	require.Equal(t, http.StatusCreated, first.status, first.body)
	for name, req := range map[string][2]string{
		"another body": {"/v1/customers", `{"external_id":"acct_2","email":"bob@example.com","name":"Bob"}`},
		"another path": {"/v1/subscriptions", `{"external_id":"acct_1","email":"ada@example.com","name":"Ada"}`},
	} {
		got := e.postKeyed(e.key, req[0], req[1], "k1")
		require.Equal(t, http.StatusUnprocessableEntity, got.status, "%s: %s", name, got.body)
		p := got.problem(t)
		require.Len(t, p.Errors, 1, name)
		require.Equal(t, "Idempotency-Key", p.Errors[0].Field, name)
		require.Contains(t, p.Errors[0].Reason, "another request", name)
	}
	require.Equal(t, 1, e.count("customers"))
}

func TestIdempotencyKeyReplaysProblems(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	bad := `{"external_id":"acct_1","email":"not-an-email","name":"Ada"}`
	first := e.postKeyed(e.key, "/v1/customers", bad, "bad-email")
	require.Equal(t, http.StatusUnprocessableEntity, first.status, first.body)
	require.Equal(t, "email", first.problem(t).Errors[0].Field)
	requireReplay(t, first, e.postKeyed(e.key, "/v1/customers", bad, "bad-email"))

	// A problem that comes from the database (the unique external id) is stored too, in the
	// transaction that the failed insert left usable.
	e.post("/v1/customers", map[string]any{"external_id": "acct_2", "email": "ada@example.com", "name": "Ada"}, 201, nil)
	dup := `{"external_id":"acct_2","email":"bob@example.com","name":"Bob"}`
	first = e.postKeyed(e.key, "/v1/customers", dup, "duplicate")
	require.Equal(t, http.StatusConflict, first.status, first.body)
	requireReplay(t, first, e.postKeyed(e.key, "/v1/customers", dup, "duplicate"))
	require.Equal(t, 1, e.count("customers"))
}

func TestIdempotencyKeyIsNotStoredFor503(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var cus idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_1", "email": "ada@example.com", "name": "Ada"}, 201, &cus)
	path, body := "/v1/customers/"+cus.ID+"/payment_methods", `{"gateway_token_id":"`+egwsim.TokenActive+`"}`

	e.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{Status: http.StatusServiceUnavailable})
	unavailable := e.postKeyed(e.key, path, body, "register-token")
	require.Equal(t, http.StatusServiceUnavailable, unavailable.status, unavailable.body)
	require.Zero(t, e.count("idempotency_keys"))

	retry := e.postKeyed(e.key, path, body, "register-token")
	require.Equal(t, http.StatusCreated, retry.status, retry.body)
	require.False(t, retry.replayed, "the retry ran again")
	requireReplay(t, retry, e.postKeyed(e.key, path, body, "register-token"))
}

// TestConcurrentDuplicateIs409 holds a payment-method registration at the gateway (a latency
// fault that lasts until the simulator lets go) while duplicates come: they are answered 409 at
// once, whatever their body. Once the first has finished, its answer is replayed.
func TestConcurrentDuplicateIs409(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	var cus idJSON
	e.post("/v1/customers", map[string]any{"external_id": "acct_1", "email": "ada@example.com", "name": "Ada"}, 201, &cus)
	path, body := "/v1/customers/"+cus.ID+"/payment_methods", `{"gateway_token_id":"`+egwsim.TokenActive+`"}`

	e.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{Kind: egwsim.KindLatency, Duration: egwsim.Forever})
	first := make(chan keyedAnswer)
	go func() { first <- e.postKeyed(e.key, path, body, "register-token") }()
	require.Eventually(t, func() bool { return len(e.sim.Faults()) == 1 }, 10*time.Second, 5*time.Millisecond,
		"the first request reaches the gateway")
	for _, b := range []string{body, `{"gateway_token_id":"` + egwsim.TokenDeclined + `"}`} {
		dup := e.postKeyed(e.key, path, b, "register-token")
		require.Equal(t, http.StatusConflict, dup.status, dup.body)
		require.Contains(t, dup.problem(t).Detail, "still being executed")
	}
	e.sim.Close() // ends the latency

	got := <-first
	require.Equal(t, http.StatusCreated, got.status, got.body)
	requireReplay(t, got, e.postKeyed(e.key, path, body, "register-token"))
	require.Equal(t, 1, e.count("payment_methods"))
}

func TestIdempotencyKeysArePerAPIKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	other, err := api.CreateAPIKey(context.Background(), e.db, "other", e.clock)
	require.NoError(t, err)
	ada := `{"external_id":"acct_1","email":"ada@example.com","name":"Ada"}`
	bob := `{"external_id":"acct_2","email":"bob@example.com","name":"Bob"}`
	mine := e.postKeyed(e.key, "/v1/customers", ada, "same-key")
	theirs := e.postKeyed(other, "/v1/customers", bob, "same-key")
	require.Equal(t, http.StatusCreated, mine.status, mine.body)
	require.Equal(t, http.StatusCreated, theirs.status, theirs.body)
	require.False(t, theirs.replayed)
	requireReplay(t, mine, e.postKeyed(e.key, "/v1/customers", ada, "same-key"))
	requireReplay(t, theirs, e.postKeyed(other, "/v1/customers", bob, "same-key"))
	require.Equal(t, 2, e.count("customers"))
}

func TestBadIdempotencyKeyIs422(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	body := `{"external_id":"acct_1","email":"ada@example.com","name":"Ada"}`
	for name, keys := range map[string][]string{
		"empty":     {""},
		"too long":  {strings.Repeat("k", 256)},
		"not ASCII": {"clé"},
		"a tab":     {"a\tb"},
		"twice":     {"k1", "k2"},
	} {
		got := e.postKeyed(e.key, "/v1/customers", body, keys...)
		require.Equal(t, http.StatusUnprocessableEntity, got.status, "%s: %s", name, got.body)
		p := got.problem(t)
		require.Len(t, p.Errors, 1, name)
		require.Equal(t, "Idempotency-Key", p.Errors[0].Field, name)
	}
	require.Zero(t, e.count("customers"))
	longest := e.postKeyed(e.key, "/v1/customers", body, strings.Repeat("k", 255))
	require.Equal(t, http.StatusCreated, longest.status, longest.body)
}

func TestReaperDeletesIdempotencyKeysOlderThan24h(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	customer := func(n string) string {
		return `{"external_id":"acct_` + n + `","email":"ada@example.com","name":"Ada"}`
	}
	old := e.postKeyed(e.key, "/v1/customers", customer("1"), "old")
	require.Equal(t, http.StatusCreated, old.status, old.body)
	e.clock.Advance(23 * time.Hour)
	young := e.postKeyed(e.key, "/v1/customers", customer("2"), "young")
	require.Equal(t, http.StatusCreated, young.status, young.body)
	e.clock.Advance(2 * time.Hour) // old is 25 h old, young 2 h

	e.reapIdempotencyKeys()
	rows, err := e.db.Query(context.Background(), `SELECT key FROM idempotency_keys`)
	require.NoError(t, err)
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"young"}, kept)

	// The reaped key is free again; the kept one still replays.
	reused := e.postKeyed(e.key, "/v1/customers", customer("3"), "old")
	require.Equal(t, http.StatusCreated, reused.status, reused.body)
	require.False(t, reused.replayed)
	requireReplay(t, young, e.postKeyed(e.key, "/v1/customers", customer("2"), "young"))
}

// reapIdempotencyKeys runs the reaper job once and waits until it has completed.
func (e *testEnv) reapIdempotencyKeys() {
	e.t.Helper()
	events, cancel := e.river.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancel()
	res, err := e.river.Insert(context.Background(), jobs.ReapIdempotencyKeysArgs{}, nil)
	require.NoError(e.t, err)
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Job.ID == res.Job.ID {
				require.Equal(e.t, river.EventKindJobCompleted, ev.Kind, "reaper: %v", ev.Job.Errors)
				return
			}
		case <-timeout:
			e.t.Fatal("the reaper job did not finish")
		}
	}
}
