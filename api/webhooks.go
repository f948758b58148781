package api

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

type webhookEndpointJSON struct {
	ID                 uuid.UUID  `json:"id"`
	URL                string     `json:"url"`
	EventTypes         []string   `json:"event_types"`
	Description        string     `json:"description"`
	Enabled            bool       `json:"enabled"`
	OldSecretExpiresAt *time.Time `json:"old_secret_expires_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	// Secret is shown once: in the answers that create it (the endpoint's creation and a rotation).
	Secret string `json:"secret,omitempty"`
}

func webhookEndpointOut(e billing.WebhookEndpoint) webhookEndpointJSON {
	return webhookEndpointJSON{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Enabled: e.Enabled, OldSecretExpiresAt: e.OldSecretExpiresAt, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
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
	out := webhookEndpointOut(e)
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
	return http.StatusOK, webhookEndpointOut(e), nil
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
		grace = time.Duration(*in.GracePeriodSeconds) * time.Second
		if *in.GracePeriodSeconds < 0 || grace > billing.MaxRotationGrace {
			return 0, nil, &billing.ValidationError{Field: "grace_period_seconds", Reason: "must be from 0 to 604800 (7 days)"}
		}
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
	out := webhookEndpointOut(e)
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
	}, as(webhookEndpointOut))
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
		if _, err := store.GetWebhookEndpoint(r.Context(), a.db, id); err != nil {
			return nil, err
		}
		f := store.DeliveryFilter{EndpointID: id, EventID: eventID, StartingAfter: after}
		return store.ListWebhookDeliveries(r.Context(), a.db, f, n)
	}, as(webhookDeliveryOut))
}
