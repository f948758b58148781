package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/api/webhooksig"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// receiver is a merchant's webhook endpoint: it records what it is sent, and when on the clock
// that it shares with Recur, and answers with the status that answer gives for the nth request
// (from 1; 200 when answer is nil).
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	mu  sync.Mutex
	got []received
}

type received struct {
	body   []byte
	header http.Header
	now    time.Time // the shared clock's
	at     time.Time // the wall clock's
}

func newReceiver(t *testing.T, clock billing.Clock, answer func(n int) int) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		rc.mu.Lock()
		rc.got = append(rc.got, received{body: body, header: r.Header.Clone(), now: clock.Now(), at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		if answer == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		if status := answer(n); status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
		} else {
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// wait waits until the receiver has had n requests and returns them.
func (rc *receiver) wait(n int) []received {
	rc.t.Helper()
	require.Eventually(rc.t, func() bool { return len(rc.requests()) >= n }, 20*time.Second, 20*time.Millisecond,
		"waiting for %d webhook requests", n)
	return rc.requests()
}

type webhookEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	ObjectType string         `json:"object_type"`
	ObjectID   string         `json:"object_id"`
	CustomerID string         `json:"customer_id"`
	CreatedAt  time.Time      `json:"created_at"`
	Data       map[string]any `json:"data"`
}

// event decodes a delivery's body and checks that its event id header names it.
func (r received) event(t *testing.T) webhookEvent {
	t.Helper()
	var ev webhookEvent
	require.NoError(t, json.Unmarshal(r.body, &ev))
	require.Equal(t, ev.ID, r.header.Get("Recur-Event-Id"))
	require.Equal(t, ev.Type, r.header.Get("Recur-Event-Type"))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	return ev
}

type endpointOut struct {
	ID                 string     `json:"id"`
	URL                string     `json:"url"`
	EventTypes         []string   `json:"event_types"`
	Enabled            bool       `json:"enabled"`
	Secret             string     `json:"secret"`
	OldSecretExpiresAt *time.Time `json:"old_secret_expires_at"`
	FailedDeliveries   int        `json:"failed_deliveries"`
	RetryingDeliveries int        `json:"retrying_deliveries"`
	LastFailureAt      *time.Time `json:"last_failure_at"`
}

type deliveryOut struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextRetryAt    *time.Time `json:"next_retry_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

// endpoint registers a webhook endpoint for url and returns it with its secret.
func (e *testEnv) endpoint(url string, eventTypes []string, enabled bool) endpointOut {
	e.t.Helper()
	var ep endpointOut
	e.post("/v1/webhook_endpoints", map[string]any{"url": url, "event_types": eventTypes, "enabled": enabled,
		"description": "test"}, http.StatusCreated, &ep)
	require.True(e.t, strings.HasPrefix(ep.Secret, "whsec_"), ep.Secret)
	return ep
}

func (e *testEnv) deliveries(endpointID string) []deliveryOut {
	e.t.Helper()
	var page struct {
		Data []deliveryOut `json:"data"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/webhook_endpoints/"+endpointID+"/deliveries", nil, &page))
	return page.Data
}

// listedEventTypes lists the types of the events that GET /v1/events?query selects, newest first.
func (e *testEnv) listedEventTypes(query string) []string {
	e.t.Helper()
	var page struct {
		Data []webhookEvent `json:"data"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/events?"+query, nil, &page))
	types := make([]string, len(page.Data))
	for i, ev := range page.Data {
		types[i] = ev.Type
	}
	return types
}

func webhookEnv(t *testing.T, edits ...func(*jobs.Config)) *testEnv {
	return newTestEnvWith(t, egwsim.Options{}, append([]func(*jobs.Config){func(c *jobs.Config) {
		c.WebhookDispatchInterval = 100 * time.Millisecond
	}}, edits...)...)
}

// TestWebhookEventsOfASubscriptionsLife: the event log shows a subscription's life, from the API
// (created, paused, resumed, canceled) and from the scheduler (a pause that ends, a cancel at
// period end) and a refund of its charge; an endpoint for every event receives each one signed,
// verifiably with webhooksig; one subscribed to a single type gets only that type; a disabled one
// gets nothing.
func TestWebhookEventsOfASubscriptionsLife(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	all, pausedOnly, disabled := newReceiver(t, e.clock, nil), newReceiver(t, e.clock, nil), newReceiver(t, e.clock, nil)
	allEP := e.endpoint(all.srv.URL+"/hooks?token=abc", []string{"*"}, true)
	pausedEP := e.endpoint(pausedOnly.srv.URL, []string{"subscription.paused"}, true)
	disabledEP := e.endpoint(disabled.srv.URL, []string{"*"}, false)

	// Through the API: created, paused, resumed, canceled.
	api := e.subscribe("tok_sim_active_api")
	e.settledCharges(api, 1)
	for _, op := range []string{"pause", "resume", "cancel"} {
		e.clock.Advance(time.Minute)
		e.post("/v1/subscriptions/"+api+"/"+op, nil, http.StatusOK, nil)
	}
	e.post("/v1/subscriptions/"+api+"/cancel", nil, http.StatusOK, nil) // canceled already: no event
	require.Equal(t, []string{"subscription.canceled", "subscription.resumed", "subscription.paused", "subscription.created"},
		e.listedEventTypes("object_id="+api))
	require.Len(t, e.listedEventTypes("type=charge.succeeded"), 1)

	// Through the scheduler: a pause that ends, a cancel at the period's end; and a refund.
	sched := e.subscribe("tok_sim_active_sched")
	charge := e.settledCharges(sched, 1)[0]
	e.clock.Advance(time.Minute)
	e.post("/v1/subscriptions/"+sched+"/pause", map[string]any{"until": e.clock.Now().Add(24 * time.Hour)}, http.StatusOK, nil)
	// Deliveries are signed at the time they are sent and checked at the time they arrive: before
	// the clock jumps by more than the tolerance, what has been sent has arrived.
	arrived := func() { all.wait(len(e.listedEventTypes("limit=100"))) }
	arrived()
	pausedOnly.wait(2)
	e.clock.Advance(25 * time.Hour)
	require.Eventually(t, func() bool { return e.getSubscription(sched).Status == "active" }, 20*time.Second, 20*time.Millisecond)
	var s subscriptionOut
	e.post("/v1/subscriptions/"+sched+"/cancel", map[string]any{"at_period_end": true}, http.StatusOK, &s)
	arrived()
	e.clock.Set(*s.CancelAt)
	require.Eventually(t, func() bool { return e.getSubscription(sched).Status == "canceled" }, 20*time.Second, 20*time.Millisecond)
	e.clock.Advance(time.Minute)
	e.refund(charge.ID, nil)
	e.settledRefunds(charge.ID, 1)
	require.Equal(t, []string{"subscription.canceled", "subscription.resumed", "subscription.paused", "subscription.created"},
		e.listedEventTypes("object_id="+sched))
	require.Equal(t, []string{"charge.refunded", "charge.succeeded"}, e.listedEventTypes("object_id="+charge.ID))
	require.Equal(t, []string{"subscription.paused", "subscription.paused"}, e.listedEventTypes("type=subscription.paused"))
	require.Equal(t, []string{"charge.refunded", "subscription.canceled", "subscription.resumed", "subscription.paused",
		"charge.succeeded", "subscription.created"}, e.listedEventTypes("customer_id="+e.getSubscriptionCustomer(sched)))
	// Paging: ?starting_after= the last of a page.
	var page struct {
		Data    []webhookEvent `json:"data"`
		HasMore bool           `json:"has_more"`
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/events?limit=2&object_id="+sched, nil, &page))
	require.True(t, page.HasMore)
	require.Equal(t, []string{"subscription.paused", "subscription.created"},
		e.listedEventTypes("limit=2&object_id="+sched+"&starting_after="+page.Data[1].ID))
	var one webhookEvent
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/events/"+page.Data[0].ID, nil, &one))
	require.Equal(t, page.Data[0], one)
	require.Equal(t, "subscription", one.ObjectType)
	require.Equal(t, "canceled", one.Data["status"])
	var p problemOut
	require.Equal(t, http.StatusUnprocessableEntity, e.do(http.MethodGet, "/v1/events?type=charge.bounced", nil, &p))
	require.Equal(t, "type", p.Errors[0].Field)

	// Every event of the log reached the endpoint for all of them, once, signed.
	var log struct {
		Data []webhookEvent `json:"data"`
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/events?limit=100", nil, &log))
	got := all.wait(len(log.Data))
	time.Sleep(300 * time.Millisecond) // a few dispatcher passes more: nothing else comes
	got = all.requests()
	require.Len(t, got, len(log.Data))
	ids := map[string]bool{}
	for _, ev := range log.Data {
		ids[ev.ID] = true
	}
	for _, r := range got {
		ev := r.event(t)
		require.NoError(t, webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, allEP.Secret, webhooksig.Tolerance, r.now))
		require.Equal(t, webhooksig.ErrMismatch, webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, pausedEP.Secret,
			webhooksig.Tolerance, r.now), "signed with its own endpoint's secret")
		require.Equal(t, webhooksig.ErrTooOld, webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, allEP.Secret,
			webhooksig.Tolerance, r.now.Add(webhooksig.Tolerance+time.Second)), "a replay later is refused")
		require.True(t, ids[ev.ID], "an event of the log")
		delete(ids, ev.ID)
	}
	require.Empty(t, ids, "each event once")
	for _, d := range e.deliveries(allEP.ID) {
		require.Equal(t, "succeeded", d.Status)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, 200, *d.LastStatusCode)
		require.NotNil(t, d.DeliveredAt)
		require.Nil(t, d.NextRetryAt)
		require.Nil(t, d.LastError)
	}

	// The endpoint for one type got its two events only; the disabled one nothing.
	got = pausedOnly.wait(2)
	require.Len(t, got, 2)
	for _, r := range got {
		require.Equal(t, "subscription.paused", r.event(t).Type)
		require.NoError(t, webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, pausedEP.Secret, webhooksig.Tolerance, r.now))
	}
	require.Empty(t, disabled.requests())
	require.Empty(t, e.deliveries(disabledEP.ID))
}

// TestWebhookRetries: an endpoint that answers 500 is retried after the configured backoff until
// it answers 2xx, and the log shows each step; one that redirects is not followed and, like one
// that does not answer in time, fails once the retries are used up; one disabled while its retry
// waits is not sent it; /metrics counts the attempts.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	delays := []time.Duration{time.Second, 500 * time.Millisecond}
	e := webhookEnv(t, func(c *jobs.Config) {
		c.WebhookRetryDelays = delays
		c.WebhookTimeout = 300 * time.Millisecond
	})
	flaky := newReceiver(t, e.clock, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	redirecting := newReceiver(t, e.clock, func(int) int { return http.StatusFound })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	down := newReceiver(t, e.clock, func(int) int { return http.StatusServiceUnavailable })
	flakyEP := e.endpoint(flaky.srv.URL, []string{"subscription.created"}, true)
	downEP := e.endpoint(down.srv.URL, []string{"subscription.created"}, true)
	redirectingEP := e.endpoint(redirecting.srv.URL, []string{"subscription.created"}, true)
	slowEP := e.endpoint(slow.URL, []string{"subscription.created"}, true)
	e.subscribe(egwsim.TokenActive)

	// An endpoint disabled while a retry is pending is not sent it.
	down.wait(1)
	e.post("/v1/webhook_endpoints/"+downEP.ID, map[string]any{"enabled": false}, http.StatusOK, nil)

	// After the first attempt: a 500, recorded, and the next one planned.
	flaky.wait(1)
	var d deliveryOut
	require.Eventually(t, func() bool {
		ds := e.deliveries(flakyEP.ID)
		require.Len(t, ds, 1)
		d = ds[0]
		return d.Attempts == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "pending", d.Status)
	require.Equal(t, 500, *d.LastStatusCode)
	require.Equal(t, "the endpoint answered 500", *d.LastError)
	require.Equal(t, d.LastAttemptAt.Add(delays[0]), *d.NextRetryAt)
	require.Nil(t, d.DeliveredAt)

	got := flaky.wait(2)
	require.GreaterOrEqual(t, got[1].at.Sub(got[0].at), delays[0], "retried after the backoff")
	require.Equal(t, got[0].event(t).ID, got[1].event(t).ID, "the same event again")
	require.Eventually(t, func() bool { return e.deliveries(flakyEP.ID)[0].Status == "succeeded" }, 10*time.Second, 10*time.Millisecond)
	d = e.deliveries(flakyEP.ID)[0]
	require.Equal(t, 2, d.Attempts)
	require.Equal(t, 200, *d.LastStatusCode)
	require.Nil(t, d.LastError)
	require.Nil(t, d.NextRetryAt)
	require.NotNil(t, d.DeliveredAt)

	for _, ep := range []endpointOut{redirectingEP, slowEP} {
		require.Eventually(t, func() bool { return e.deliveries(ep.ID)[0].Status == "failed" }, 20*time.Second, 20*time.Millisecond)
		d := e.deliveries(ep.ID)[0]
		require.Equal(t, len(delays)+1, d.Attempts)
		require.Nil(t, d.NextRetryAt)
		require.Nil(t, d.DeliveredAt)
		if ep.ID == redirectingEP.ID {
			require.Equal(t, http.StatusFound, *d.LastStatusCode)
		} else {
			require.Nil(t, d.LastStatusCode)
			require.Equal(t, "no answer within 300ms", *d.LastError)
		}
	}
	require.Len(t, redirecting.requests(), len(delays)+1, "the redirect (to the same server) was never followed")
	d = e.deliveries(downEP.ID)[0]
	require.Equal(t, "failed", d.Status)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, "the endpoint was disabled", *d.LastError)
	require.Len(t, down.requests(), 1)
	for status, n := range map[string]float64{"succeeded": 1, "pending": float64(2 + 2*len(delays)), "failed": 2} {
		require.Equal(t, n, metricValue(t, e.url, `recur_webhook_attempts_total{status="`+status+`"}`), status)
	}
}

// TestWebhookSecretRotation: a rotation shows the new secret once; until the grace period ends
// (on the injected clock) each delivery carries a v1 signature with each secret, and afterwards
// with the new one only. Neither secret is ever in a GET.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	rc := newReceiver(t, e.clock, nil)
	ep := e.endpoint(rc.srv.URL, []string{"subscription.paused", "subscription.resumed"}, true)
	sub := e.subscribe(egwsim.TokenActive)
	toggle := func(op string) received {
		n := len(rc.requests())
		e.post("/v1/subscriptions/"+sub+"/"+op, nil, http.StatusOK, nil)
		return rc.wait(n + 1)[n]
	}
	verify := func(r received, secret string) error {
		return webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, secret, webhooksig.Tolerance, r.now)
	}
	v1s := func(r received) int { return strings.Count(r.header.Get(webhooksig.Header), "v1=") }

	before := toggle("pause")
	require.Equal(t, 1, v1s(before))
	require.NoError(t, verify(before, ep.Secret))

	var p problemOut
	for _, bad := range []int64{-1, 604801, 9223372037} { // the last overflows a time.Duration in nanoseconds
		e.post("/v1/webhook_endpoints/"+ep.ID+"/rotate_secret", map[string]any{"grace_period_seconds": bad}, 422, &p)
		require.Equal(t, "grace_period_seconds", p.Errors[0].Field)
	}
	var rotated endpointOut
	e.post("/v1/webhook_endpoints/"+ep.ID+"/rotate_secret", map[string]any{"grace_period_seconds": 3600}, 200, &rotated)
	require.NotEqual(t, ep.Secret, rotated.Secret)
	require.True(t, strings.HasPrefix(rotated.Secret, "whsec_"))
	require.Equal(t, e.clock.Now().Add(time.Hour), *rotated.OldSecretExpiresAt)

	during := toggle("resume")
	require.Equal(t, 2, v1s(during))
	require.NoError(t, verify(during, ep.Secret), "the old secret still signs")
	require.NoError(t, verify(during, rotated.Secret), "the new one too")

	e.clock.Advance(time.Hour + time.Second)
	var got endpointOut
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/webhook_endpoints/"+ep.ID, nil, &got))
	require.Nil(t, got.OldSecretExpiresAt, "not shown once the grace period has passed")
	after := toggle("pause")
	require.Equal(t, 1, v1s(after))
	require.NoError(t, verify(after, rotated.Secret))
	require.ErrorIs(t, verify(after, ep.Secret), webhooksig.ErrMismatch)

	for _, path := range []string{"/v1/webhook_endpoints", "/v1/webhook_endpoints/" + ep.ID, "/v1/webhook_endpoints/" + ep.ID + "/deliveries"} {
		var raw json.RawMessage
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, path, nil, &raw))
		require.NotContains(t, string(raw), "whsec_", path)
	}
}

// TestWebhookEndpointChanges: bad input is a 422 naming the field; an endpoint can be disabled,
// enabled again for other types (and gets only those), and deleted with its log.
func TestWebhookEndpointChanges(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	rc := newReceiver(t, e.clock, nil)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "example.com/hooks", "event_types": []string{"*"}}, "url"},
		{map[string]any{"url": "ftp://example.com/", "event_types": []string{"*"}}, "url"},
		{map[string]any{"url": "https://example.com/"}, "event_types"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{"charge.bounced"}}, "event_types"},
		{map[string]any{"url": "https://example.com/", "event_types": "*"}, "event_types"},
		{map[string]any{"url": "https://example.com/", "event_types": []string{"*"}, "secret": "mine"}, "secret"},
	} {
		var p problemOut
		e.post("/v1/webhook_endpoints", tc.body, http.StatusUnprocessableEntity, &p)
		require.Equal(t, tc.field, p.Errors[0].Field, "%v", tc.body)
	}
	ep := e.endpoint(rc.srv.URL, []string{"*"}, true)
	var changed endpointOut
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"enabled": false}, http.StatusOK, &changed)
	require.False(t, changed.Enabled)
	require.Empty(t, changed.Secret)
	var p problemOut
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"url": "mailto:a@example.com"}, http.StatusUnprocessableEntity, &p)
	require.Equal(t, "url", p.Errors[0].Field)

	sub := e.subscribe(egwsim.TokenActive)
	e.clock.Advance(time.Minute)
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"enabled": true, "event_types": []string{"subscription.paused"}},
		http.StatusOK, &changed)
	require.Equal(t, []string{"subscription.paused"}, changed.EventTypes)
	e.post("/v1/subscriptions/"+sub+"/pause", nil, http.StatusOK, nil)
	got := rc.wait(1)
	require.Len(t, got, 1)
	require.Equal(t, "subscription.paused", got[0].event(t).Type)
	require.Len(t, e.deliveries(ep.ID), 1)

	require.Equal(t, http.StatusOK, e.do(http.MethodDelete, "/v1/webhook_endpoints/"+ep.ID, nil, nil))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/webhook_endpoints/"+ep.ID, nil, nil))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v1/webhook_endpoints/"+ep.ID+"/deliveries", nil, nil))
	require.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/webhook_endpoints/"+ep.ID, nil, nil))
}

// TestWebhookSecretsAreNeverLogged runs a process that logs everything, as JSON: its delivery
// attempts are logged with their ids and error, but neither signing secret, nor the token in the
// endpoint's URL.
func TestWebhookSecretsAreNeverLogged(t *testing.T) {
	t.Parallel()
	pool := storetest.NewDB(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	simSrv := httptest.NewServer(egwsim.New(egwsim.Options{}, log).Handler())
	t.Cleanup(simSrv.Close)
	gw, err := egw.New(simulatorConfig(simSrv.URL), log)
	require.NoError(t, err)
	apiURL := startApp(t, pool, gw, log, modeAll)
	key, err := api.CreateAPIKey(context.Background(), pool, "test", billing.SystemClock{})
	require.NoError(t, err)
	e := &testEnv{t: t, url: apiURL, key: key}

	rc := newReceiver(t, billing.SystemClock{}, func(int) int { return http.StatusInternalServerError })
	const urlToken = "url-token-never-logged"
	ep := e.endpoint(rc.srv.URL+"/hooks?token="+urlToken, []string{"*"}, true)
	var rotated endpointOut
	e.post("/v1/webhook_endpoints/"+ep.ID+"/rotate_secret", nil, http.StatusOK, &rotated)
	e.subscribe(egwsim.TokenActive)
	got := rc.wait(1)
	require.Equal(t, 2, strings.Count(got[0].header.Get(webhooksig.Header), "v1="))
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `"msg":"webhook attempt"`) }, 10*time.Second, 20*time.Millisecond)

	out := logs.String()
	require.Contains(t, out, `"endpoint_id":"`+ep.ID+`"`)
	require.Contains(t, out, `"error":"the endpoint answered 500"`)
	for _, s := range []string{ep.Secret, rotated.Secret, "whsec_", urlToken} {
		require.NotContains(t, out, s)
	}
}

// TestWebhookRefundEvents: a succeeded refund is delivered as charge.refunded with the charge's
// refunded total and the refund; one whose outcome is unknown, as refund.needs_review (nothing
// else tells anyone), with what was refunded before it.
func TestWebhookRefundEvents(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	rc := newReceiver(t, e.clock, nil)
	e.endpoint(rc.srv.URL, []string{"charge.refunded", "refund.needs_review"}, true)
	id := e.adHocCharge(egwsim.TokenActive, 1000)

	first := e.refund(id, 300)
	ev := rc.wait(1)[0].event(t)
	require.Equal(t, "charge.refunded", ev.Type)
	require.Equal(t, "charge", ev.ObjectType)
	require.Equal(t, id, ev.ObjectID)
	require.Equal(t, "succeeded", ev.Data["status"])
	require.EqualValues(t, 1000, ev.Data["amount"])
	require.EqualValues(t, 300, ev.Data["amount_refunded"])
	refund := ev.Data["refund"].(map[string]any)
	require.Equal(t, first.ID, refund["id"])
	require.EqualValues(t, 300, refund["amount"])
	require.Equal(t, "EUR", refund["currency"])
	require.Equal(t, "succeeded", refund["status"])
	require.NotEmpty(t, refund["gateway_refund_id"])

	e.sim.FailNext(egwsim.OpRefund, egwsim.Fault{Kind: egwsim.KindReset, AfterEffect: true})
	lost := e.refund(id, 400)
	ev = rc.wait(2)[1].event(t)
	require.Equal(t, "refund.needs_review", ev.Type)
	require.Equal(t, id, ev.ObjectID)
	require.EqualValues(t, 300, ev.Data["amount_refunded"], "only the succeeded refund")
	refund = ev.Data["refund"].(map[string]any)
	require.Equal(t, lost.ID, refund["id"])
	require.EqualValues(t, 400, refund["amount"])
	require.Equal(t, "needs_review", refund["status"])
	require.Equal(t, billing.FailureRefundUnknown, refund["failure_code"])
	require.Equal(t, []string{"charge.succeeded", "charge.refunded", "refund.needs_review"}, e.eventTypes(id))

	var listed struct {
		Data []webhookEvent `json:"data"`
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/events?type=refund.needs_review&object_id="+id, nil, &listed))
	require.Len(t, listed.Data, 1)
	require.Equal(t, ev.ID, listed.Data[0].ID)
}

// TestWebhookRedelivery: a receiver that was down has its deliveries failed, which its endpoint
// counts; once it is up, one delivery is sent again on request (one more attempt in its log,
// idempotent with an Idempotency-Key, not retried when it fails), a delivered one too, and then
// all failed ones since a time, a bounded number per request. A disabled endpoint refuses.
func TestWebhookRedelivery(t *testing.T) {
	t.Parallel()
	delays := []time.Duration{100 * time.Millisecond}
	e := webhookEnv(t, func(c *jobs.Config) { c.WebhookRetryDelays = delays })
	var mu sync.Mutex
	up := false
	rc := newReceiver(t, e.clock, func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if up {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	setUp := func(b bool) { mu.Lock(); up = b; mu.Unlock() }
	ep := e.endpoint(rc.srv.URL, []string{"subscription.created", "subscription.paused", "subscription.resumed"}, true)
	getEndpoint := func() endpointOut {
		var got endpointOut
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/webhook_endpoints/"+ep.ID, nil, &got))
		return got
	}
	require.Zero(t, getEndpoint().FailedDeliveries)
	require.Nil(t, getEndpoint().LastFailureAt)

	// Down: each of three events is tried twice, then its delivery fails.
	since := e.clock.Now()
	sub := e.subscribe(egwsim.TokenActive)
	e.post("/v1/subscriptions/"+sub+"/pause", nil, http.StatusOK, nil)
	e.post("/v1/subscriptions/"+sub+"/resume", nil, http.StatusOK, nil)
	rc.wait(6)
	var failed []deliveryOut
	require.Eventually(t, func() bool {
		failed = e.deliveries(ep.ID)
		for _, d := range failed {
			if d.Status != "failed" {
				return false
			}
		}
		return len(failed) == 3
	}, 10*time.Second, 20*time.Millisecond)
	got := getEndpoint()
	require.Equal(t, 3, got.FailedDeliveries)
	require.Zero(t, got.RetryingDeliveries)
	latest := failed[0].LastAttemptAt
	for _, d := range failed {
		require.Equal(t, 2, d.Attempts)
		if d.LastAttemptAt.After(*latest) {
			latest = d.LastAttemptAt
		}
	}
	require.Equal(t, *latest, *got.LastFailureAt)

	// Still down: a redelivery is one attempt, which fails at once and is not retried.
	oldest := failed[len(failed)-1]
	retry := "/v1/webhook_endpoints/" + ep.ID + "/deliveries/" + oldest.ID + "/retry"
	var d deliveryOut
	e.post(retry, nil, http.StatusAccepted, &d)
	require.Equal(t, "pending", d.Status)
	rc.wait(7)
	require.Eventually(t, func() bool { return e.deliveries(ep.ID)[2].Status == "failed" }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, 3, e.deliveries(ep.ID)[2].Attempts)
	time.Sleep(5 * delays[0])
	require.Len(t, rc.requests(), 7, "a redelivery is not retried")

	// Disabled: refused. Unknown delivery: not found.
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"enabled": false}, http.StatusOK, nil)
	e.post(retry, nil, http.StatusConflict, nil)
	e.post("/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed", map[string]any{"since": since}, http.StatusConflict, nil)
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"enabled": true}, http.StatusOK, nil)
	e.post("/v1/webhook_endpoints/"+ep.ID+"/deliveries/"+ep.ID+"/retry", nil, http.StatusNotFound, nil)

	// Up: one delivery, sent again once with one Idempotency-Key; the same event, signed.
	setUp(true)
	first := e.postKeyed(e.key, retry, ``, "redeliver-1")
	require.Equal(t, http.StatusAccepted, first.status, first.body)
	requireReplay(t, first, e.postKeyed(e.key, retry, ``, "redeliver-1"))
	r := rc.wait(8)[7]
	require.Equal(t, oldest.EventID, r.event(t).ID)
	require.NoError(t, webhooksig.Verify(r.header.Get(webhooksig.Header), r.body, ep.Secret, webhooksig.Tolerance, r.now))
	require.Eventually(t, func() bool { return e.deliveries(ep.ID)[2].Status == "succeeded" }, 10*time.Second, 20*time.Millisecond)
	d = e.deliveries(ep.ID)[2]
	require.Equal(t, 4, d.Attempts)
	require.Equal(t, 200, *d.LastStatusCode)
	require.Nil(t, d.LastError)
	require.NotNil(t, d.DeliveredAt)
	require.Equal(t, 2, getEndpoint().FailedDeliveries)

	// A delivered one, again on request.
	e.post(retry, nil, http.StatusAccepted, nil)
	require.Equal(t, oldest.EventID, rc.wait(9)[8].event(t).ID)
	require.Eventually(t, func() bool { d = e.deliveries(ep.ID)[2]; return d.Attempts == 5 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "succeeded", d.Status)

	// All failed ones since the outage began, one per request here: the oldest first.
	var p problemOut
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed", map[string]any{}, &p))
	require.Equal(t, "since", p.Errors[0].Field)
	require.Equal(t, 422, e.do(http.MethodPost, "/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed",
		map[string]any{"since": since, "limit": 1001}, &p))
	require.Equal(t, "limit", p.Errors[0].Field)
	type redeliveries struct {
		DeliveryIDs []string `json:"delivery_ids"`
		HasMore     bool     `json:"has_more"`
	}
	var page redeliveries
	e.post("/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed", map[string]any{"since": since, "limit": 1}, http.StatusAccepted, &page)
	require.Equal(t, []string{e.deliveries(ep.ID)[1].ID}, page.DeliveryIDs)
	require.True(t, page.HasMore)
	e.post("/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed", map[string]any{"since": since, "limit": 1}, http.StatusAccepted, &page)
	require.Equal(t, []string{e.deliveries(ep.ID)[0].ID}, page.DeliveryIDs)
	require.False(t, page.HasMore)
	rc.wait(11)
	require.Eventually(t, func() bool {
		for _, d := range e.deliveries(ep.ID) {
			if d.Status != "succeeded" {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	got = getEndpoint()
	require.Zero(t, got.FailedDeliveries)
	require.Nil(t, got.LastFailureAt)
	e.post("/v1/webhook_endpoints/"+ep.ID+"/deliveries/retry_failed", map[string]any{"since": since}, http.StatusAccepted, &page)
	require.Empty(t, page.DeliveryIDs)
	require.Len(t, rc.requests(), 11, "each failed delivery sent once more")
}

// TestWebhookConfig: the webhook settings an operator has, their defaults, and their checks.
func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(env(nil))
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, cfg.Jobs.WebhookTimeout)
	require.Equal(t, 2*time.Second, cfg.Jobs.WebhookDispatchInterval)
	cfg, err = loadConfig(env(map[string]string{"RECUR_WEBHOOK_TIMEOUT": "30s", "RECUR_WEBHOOK_DISPATCH_INTERVAL": "500ms"}))
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, cfg.Jobs.WebhookTimeout)
	require.Equal(t, 500*time.Millisecond, cfg.Jobs.WebhookDispatchInterval)
	for name, value := range map[string]string{
		"RECUR_WEBHOOK_TIMEOUT": "0s", "RECUR_WEBHOOK_DISPATCH_INTERVAL": "often",
	} {
		_, err := loadConfig(env(map[string]string{name: value}))
		require.ErrorContains(t, err, name)
	}
	_, err = loadConfig(env(map[string]string{"RECUR_WEBHOOK_TIMEOUT": "10m"}))
	require.ErrorContains(t, err, "RECUR_WEBHOOK_TIMEOUT=10m0s: want less than RECUR_JOB_TIMEOUT=5m0s")
}

// TestWebhookNoReceiverAddresses: an endpoint cannot be pointed at a link-local address (a
// cloud's instance metadata, 169.254.169.254), a multicast or an unspecified one: a 422 naming url,
// at creation and on change. Loopback and private addresses stay allowed.
func TestWebhookNoReceiverAddresses(t *testing.T) {
	t.Parallel()
	e := webhookEnv(t)
	var p problemOut
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "https://[fe80::1]/hook",
		"http://0.0.0.0:8080/hook", "http://[::ffff:169.254.169.254]/", "http://224.0.0.1/"} {
		e.post("/v1/webhook_endpoints", map[string]any{"url": url, "event_types": []string{"*"}}, 422, &p)
		require.Equal(t, "url", p.Errors[0].Field, url)
	}
	ep := e.endpoint("http://10.1.2.3/hook", []string{"*"}, false)
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"url": "http://127.0.0.1:9/hook"}, 200, nil)
	e.post("/v1/webhook_endpoints/"+ep.ID, map[string]any{"url": "http://169.254.169.254/"}, 422, &p)
	require.Equal(t, "url", p.Errors[0].Field)
}
