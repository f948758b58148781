package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/jobs"
)

type webhookEndpointJSON struct {
	ID                 uuid.UUID  `json:"id"`
	URL                string     `json:"url"`
	EventTypes         []string   `json:"event_types"`
	Description        string     `json:"description"`
	Enabled            bool       `json:"enabled"`
	OldSecretExpiresAt *time.Time `json:"old_secret_expires_at"`
	FailedDeliveries   int        `json:"failed_deliveries"`
	RetryingDeliveries int        `json:"retrying_deliveries"`
	LastFailureAt      *time.Time `json:"last_failure_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	// Secret is shown once: in the answers that create it (the endpoint's creation and a rotation).
	Secret string `json:"secret,omitempty"`
}

// webhookEndpointOut shows an endpoint: its replaced secret's expiry only while that still
// signs, and its failing deliveries.
func (a *API) webhookEndpointOut(e billing.WebhookEndpoint) webhookEndpointJSON {
	return webhookEndpointJSON{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Enabled: e.Enabled, OldSecretExpiresAt: e.OldSecretSigningUntil(a.clock.Now()),
		FailedDeliveries: e.Failing.Failed, RetryingDeliveries: e.Failing.Retrying, LastFailureAt: e.Failing.LastFailureAt,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// createWebhookEndpoint registers a URL for the event types it names (or "*"), and answers with
// its signing secret, the only time the secret is shown.
func (a *API) createWebhookEndpoint(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		URL         string   `json:"url"`
		EventTypes  []string `json:"event_types"`
		Description string   `json:"description"`
		Enabled     *bool    `json:"enabled"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	now := a.clock.Now()
	e := billing.WebhookEndpoint{ID: billing.NewID(), URL: in.URL, EventTypes: in.EventTypes, Description: in.Description,
		Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
	if err := e.Validate(); err != nil {
		return 0, nil, err
	}
	secret := billing.NewWebhookSecret()
	if err := store.CreateWebhookEndpoint(ctx, tx, e, secret); err != nil {
		return 0, nil, err
	}
	out := a.webhookEndpointOut(e)
	out.Secret = secret
	return http.StatusCreated, out, nil
}

// updateWebhookEndpoint changes the fields given: url, event_types, description, enabled. A
// disabled endpoint is sent nothing, its pending retries included.
func (a *API) updateWebhookEndpoint(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		URL         *string   `json:"url"`
		EventTypes  *[]string `json:"event_types"`
		Description *string   `json:"description"`
		Enabled     *bool     `json:"enabled"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	e, err := a.lockWebhookEndpoint(ctx, tx, r)
	if err != nil {
		return 0, nil, err
	}
	if in.URL != nil {
		e.URL = *in.URL
	}
	if in.EventTypes != nil {
		e.EventTypes = *in.EventTypes
	}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if in.Enabled != nil {
		e.Enabled = *in.Enabled
	}
	if err := e.Validate(); err != nil {
		return 0, nil, err
	}
	e.UpdatedAt = a.clock.Now()
	if err := store.UpdateWebhookEndpoint(ctx, tx, e); err != nil {
		return 0, nil, err
	}
	if e, err = store.GetWebhookEndpoint(ctx, tx, e.ID); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, a.webhookEndpointOut(e), nil
}

// deleteWebhookEndpoint deletes an endpoint, its secrets and its delivery log.
func (a *API) deleteWebhookEndpoint(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, err
	}
	if err := store.DeleteWebhookEndpoint(ctx, tx, id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"id": id, "deleted": true}, nil
}

// rotateWebhookSecret gives the endpoint a new secret, shown in the answer. The one it replaces
// keeps signing for {"grace_period_seconds": n} (default 24 h, at most 7 days; 0 ends it now),
// so that deliveries carry both signatures while the receiver moves to the new one. A secret
// replaced by an earlier rotation stops signing at once.
func (a *API) rotateWebhookSecret(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		GracePeriodSeconds *int64 `json:"grace_period_seconds"`
	}
	if err := decodeOptional(r, &in); err != nil {
		return 0, nil, err
	}
	grace := billing.DefaultRotationGrace
	if in.GracePeriodSeconds != nil {
		if *in.GracePeriodSeconds < 0 || *in.GracePeriodSeconds > int64(billing.MaxRotationGrace/time.Second) {
			return 0, nil, &billing.ValidationError{Field: "grace_period_seconds", Reason: "must be from 0 to 604800 (7 days)"}
		}
		grace = time.Duration(*in.GracePeriodSeconds) * time.Second // checked first: a huge count would overflow
	}
	e, err := a.lockWebhookEndpoint(ctx, tx, r)
	if err != nil {
		return 0, nil, err
	}
	now, secret := a.clock.Now(), billing.NewWebhookSecret()
	if err := store.RotateWebhookSecret(ctx, tx, e.ID, secret, now, now.Add(grace)); err != nil {
		return 0, nil, err
	}
	if e, err = store.GetWebhookEndpoint(ctx, tx, e.ID); err != nil {
		return 0, nil, err
	}
	out := a.webhookEndpointOut(e)
	out.Secret = secret
	return http.StatusOK, out, nil
}

func (a *API) lockWebhookEndpoint(ctx context.Context, tx pgx.Tx, r *http.Request) (billing.WebhookEndpoint, error) {
	id, err := pathID(r)
	if err != nil {
		return billing.WebhookEndpoint{}, err
	}
	return store.LockWebhookEndpoint(ctx, tx, id)
}

// listWebhookEndpoints lists endpoints, newest first, without their secrets.
func (a *API) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.WebhookEndpoint, error) {
		return store.ListWebhookEndpoints(r.Context(), a.db, after, n)
	}, as(a.webhookEndpointOut))
}

type webhookDeliveryJSON struct {
	ID             uuid.UUID  `json:"id"`
	EventID        uuid.UUID  `json:"event_id"`
	EventType      string     `json:"event_type"`
	EndpointID     uuid.UUID  `json:"endpoint_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextRetryAt    *time.Time `json:"next_retry_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func webhookDeliveryOut(d billing.WebhookDelivery) webhookDeliveryJSON {
	out := webhookDeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: string(d.EventType), EndpointID: d.EndpointID,
		Status: string(d.Status), Attempts: d.Attempts, LastStatusCode: d.LastStatusCode, LastAttemptAt: d.LastAttemptAt,
		NextRetryAt: d.NextAttemptAt, DeliveredAt: d.DeliveredAt, CreatedAt: d.CreatedAt}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	return out
}

// listWebhookDeliveries is an endpoint's delivery log, newest first; ?event_id= picks one
// event's delivery.
func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	eventID, err := queryID(r, "event_id")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	listOf(a, w, r, func(after *uuid.UUID, n int) ([]billing.WebhookDelivery, error) {
		id, err := pathID(r)
		if err != nil {
			return nil, err
		}
		if _, err := store.GetWebhookEndpointSettings(r.Context(), a.db, id); err != nil {
			return nil, err
		}
		f := store.DeliveryFilter{EndpointID: id, EventID: eventID, StartingAfter: after}
		return store.ListWebhookDeliveries(r.Context(), a.db, f, n)
	}, as(webhookDeliveryOut))
}

// retryWebhookDelivery sends a delivery again now, failed or succeeded, as one more attempt
// recorded in its log (not retried if it fails). A pending delivery, or one of a disabled
// endpoint, is a conflict. The answer is 202 with the delivery pending.
func (a *API) retryWebhookDelivery(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	deliveryID, err := parseID("delivery_id", chi.URLParam(r, "delivery_id"))
	if err != nil {
		return 0, nil, err
	}
	ep, err := a.lockWebhookEndpoint(ctx, tx, r)
	if err != nil {
		return 0, nil, err
	}
	if err := ep.Redeliverable(); err != nil {
		return 0, nil, err
	}
	d, err := store.LockWebhookDelivery(ctx, tx, ep.ID, deliveryID)
	if err != nil {
		return 0, nil, err
	}
	if err := d.Redeliver(a.clock.Now()); err != nil {
		return 0, nil, err
	}
	if err := store.RedeliverWebhookDelivery(ctx, tx, d); err != nil {
		return 0, nil, err
	}
	if err := jobs.EnqueueDeliveries(ctx, a.jobs, tx, []uuid.UUID{d.ID}, true); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, webhookDeliveryOut(d), nil
}

// retryFailedWebhookDeliveries sends again, now, the endpoint's failed deliveries of events
// dispatched since {"since": RFC 3339 time}, oldest first, at most {"limit": n} (default and
// most billing.MaxRedeliveries) per request: a receiver that was down asks again while the
// answer says has_more. Each is one more attempt, as retryWebhookDelivery makes.
func (a *API) retryFailedWebhookDeliveries(ctx context.Context, tx pgx.Tx, r *http.Request) (int, any, error) {
	var in struct {
		Since string `json:"since"`
		Limit *int   `json:"limit"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		return 0, nil, &billing.ValidationError{Field: "since", Reason: "is required: an RFC 3339 time, such as 2026-01-01T00:00:00Z"}
	}
	n := billing.MaxRedeliveries
	if in.Limit != nil {
		if n = *in.Limit; n < 1 || n > billing.MaxRedeliveries {
			return 0, nil, &billing.ValidationError{Field: "limit", Reason: fmt.Sprintf("must be from 1 to %d", billing.MaxRedeliveries)}
		}
	}
	ep, err := a.lockWebhookEndpoint(ctx, tx, r)
	if err != nil {
		return 0, nil, err
	}
	if err := ep.Redeliverable(); err != nil {
		return 0, nil, err
	}
	ids, more, err := store.RedeliverFailedDeliveries(ctx, tx, ep.ID, since, a.clock.Now(), n)
	if err != nil {
		return 0, nil, err
	}
	if err := jobs.EnqueueDeliveries(ctx, a.jobs, tx, ids, true); err != nil {
		return 0, nil, err
	}
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return http.StatusAccepted, map[string]any{"delivery_ids": ids, "has_more": more}, nil
}
