package billing

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEventTypesListsEveryType reads event.go: every EventType constant declared there is in
// EventTypes, so that endpoints can subscribe to it.
func TestEventTypesListsEveryType(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "event.go", nil, 0)
	require.NoError(t, err)
	var declared []EventType
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "EventType" {
				for _, v := range vs.Values {
					s, err := strconv.Unquote(v.(*ast.BasicLit).Value)
					require.NoError(t, err)
					declared = append(declared, EventType(s))
				}
			}
		}
		return true
	})
	require.NotEmpty(t, declared)
	require.Equal(t, declared, EventTypes)
}

func TestWebhookEndpointValidate(t *testing.T) {
	t.Parallel()
	ok := func() WebhookEndpoint {
		return WebhookEndpoint{URL: "https://example.com/hooks?x=1", EventTypes: []string{"charge.failed", "charge.failed", "charge.refunded"}}
	}
	e := ok()
	require.NoError(t, e.Validate())
	require.Equal(t, []string{"charge.failed", "charge.refunded"}, e.EventTypes)
	for _, tc := range []struct {
		edit  func(*WebhookEndpoint)
		field string
	}{
		{func(e *WebhookEndpoint) { e.URL = "" }, "url"},
		{func(e *WebhookEndpoint) { e.URL = "/hooks" }, "url"},
		{func(e *WebhookEndpoint) { e.URL = "ftp://example.com/" }, "url"},
		{func(e *WebhookEndpoint) { e.URL = "https://" }, "url"},
		{func(e *WebhookEndpoint) { e.URL = "http://user:pass@example.com/" }, "url"},
		{func(e *WebhookEndpoint) { e.URL = "http://exa mple.com/" }, "url"},
		{func(e *WebhookEndpoint) { e.EventTypes = nil }, "event_types"},
		{func(e *WebhookEndpoint) { e.EventTypes = []string{"charge.bounced"} }, "event_types"},
		{func(e *WebhookEndpoint) { e.EventTypes = []string{"*", "charge.failed"} }, "event_types"},
		{func(e *WebhookEndpoint) { e.Description = string(make([]byte, 501)) }, "description"},
	} {
		e := ok()
		tc.edit(&e)
		var ve *ValidationError
		require.ErrorAs(t, e.Validate(), &ve, "%+v", e)
		require.Equal(t, tc.field, ve.Field, "%+v", e)
	}
}

func TestWebhookEndpointSubscribed(t *testing.T) {
	t.Parallel()
	all := WebhookEndpoint{EventTypes: []string{AllEvents}}
	one := WebhookEndpoint{EventTypes: []string{string(EventChargeFailed)}}
	require.True(t, all.Subscribed(EventSubscriptionCreated))
	require.True(t, one.Subscribed(EventChargeFailed))
	require.False(t, one.Subscribed(EventChargeSucceeded))
}

func TestStatusEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from, to SubscriptionStatus
		want     EventType
	}{
		{SubscriptionActive, SubscriptionCanceled, EventSubscriptionCanceled},
		{SubscriptionTrialing, SubscriptionCanceled, EventSubscriptionCanceled},
		{SubscriptionPastDue, SubscriptionPaused, EventSubscriptionPaused},
		{SubscriptionPaused, SubscriptionActive, EventSubscriptionResumed},
		{SubscriptionUnpaid, SubscriptionActive, EventSubscriptionResumed},
		{SubscriptionTrialing, SubscriptionActive, ""},
		{SubscriptionCanceled, SubscriptionCanceled, ""},
		{SubscriptionActive, SubscriptionActive, ""},
	} {
		got, ok := StatusEvent(tc.from, tc.to)
		require.Equal(t, tc.want, got, "%s -> %s", tc.from, tc.to)
		require.Equal(t, tc.want != "", ok)
	}
}

func TestDeliveryAttempted(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	delays := []time.Duration{time.Minute, time.Hour}
	d := WebhookDelivery{Status: DeliveryPending}

	d.Attempted(500, "the endpoint answered 500", now, delays)
	require.Equal(t, DeliveryPending, d.Status)
	require.Equal(t, 500, *d.LastStatusCode)
	require.Equal(t, now.Add(time.Minute), *d.NextAttemptAt)

	d.Attempted(0, "timed out", now, delays)
	require.Nil(t, d.LastStatusCode)
	require.Equal(t, "timed out", d.LastError)
	require.Equal(t, now.Add(time.Hour), *d.NextAttemptAt)

	d.Attempted(302, "the endpoint answered 302", now, delays)
	require.Equal(t, DeliveryFailed, d.Status)
	require.Equal(t, 3, d.Attempts)
	require.Nil(t, d.NextAttemptAt)
	require.Nil(t, d.DeliveredAt)

	ok := WebhookDelivery{Status: DeliveryPending}
	ok.Attempted(500, "x", now, delays)
	ok.Attempted(204, "", now.Add(time.Minute), delays)
	require.Equal(t, DeliverySucceeded, ok.Status)
	require.Equal(t, now.Add(time.Minute), *ok.DeliveredAt)
	require.Empty(t, ok.LastError)
	require.Equal(t, 2, ok.Attempts)
}

func TestDefaultRetryDelaysLastAboutThreeDays(t *testing.T) {
	t.Parallel()
	var sum time.Duration
	for _, d := range DefaultRetryDelays {
		sum += d
	}
	require.InDelta(t, 72, sum.Hours(), 2)
}

// TestRedeliver: a failed or succeeded delivery becomes pending, due now; a pending one, and any
// of a disabled endpoint, is a conflict.
func TestRedeliver(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, status := range []DeliveryStatus{DeliveryFailed, DeliverySucceeded} {
		d := WebhookDelivery{Status: status, Attempts: 3}
		require.NoError(t, d.Redeliver(now))
		require.Equal(t, DeliveryPending, d.Status)
		require.Equal(t, now, *d.NextAttemptAt)
		require.Equal(t, 3, d.Attempts, "the attempt counts when it is made")
	}
	pending := WebhookDelivery{Status: DeliveryPending}
	require.ErrorIs(t, pending.Redeliver(now), ErrConflict)
	require.NoError(t, WebhookEndpoint{Enabled: true}.Redeliverable())
	require.ErrorIs(t, WebhookEndpoint{}.Redeliverable(), ErrConflict)
}

// TestOldSecretSigningUntil: the replaced secret's expiry shows while it signs, and not after.
func TestOldSecretSigningUntil(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	until := now.Add(time.Hour)
	e := WebhookEndpoint{OldSecretExpiresAt: &until}
	require.Equal(t, &until, e.OldSecretSigningUntil(now))
	require.Nil(t, e.OldSecretSigningUntil(until))
	require.Nil(t, WebhookEndpoint{}.OldSecretSigningUntil(now))
}
