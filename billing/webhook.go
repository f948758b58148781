package billing

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/google/uuid"
)

// EventTypes lists every EventType, the order of the declarations; a test holds it to them. An
// endpoint may subscribe to these.
var EventTypes = []EventType{
	EventSubscriptionCreated, EventSubscriptionRenewed, EventSubscriptionPastDue, EventSubscriptionCanceled,
	EventSubscriptionPaused, EventSubscriptionResumed,
	EventChargeSucceeded, EventChargeFailed, EventChargeRefunded, EventChargeNeedsReview,
	EventRefundNeedsReview,
	EventPaymentMethodExpiring, EventPaymentMethodSuspended, EventPaymentMethodUpdated,
}

// MarshalJSON is an event as GET /v1/events shows it and as webhooks deliver it.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         uuid.UUID       `json:"id"`
		Type       EventType       `json:"type"`
		ObjectType string          `json:"object_type"`
		ObjectID   uuid.UUID       `json:"object_id"`
		CustomerID uuid.UUID       `json:"customer_id"`
		CreatedAt  time.Time       `json:"created_at"`
		Data       json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.ObjectType, e.ObjectID, e.CustomerID, e.CreatedAt, e.Data})
}

// StatusEvent is the event that reports a subscription's move from one state to another, when
// there is one that this function knows: canceled, paused, and resumed (from paused or unpaid).
func StatusEvent(from, to SubscriptionStatus) (EventType, bool) {
	switch {
	case from == to:
		return "", false
	case to == SubscriptionCanceled:
		return EventSubscriptionCanceled, true
	case to == SubscriptionPaused:
		return EventSubscriptionPaused, true
	case (to == SubscriptionActive || to == SubscriptionPastDue) && (from == SubscriptionPaused || from == SubscriptionUnpaid):
		return EventSubscriptionResumed, true
	}
	return "", false
}

// AllEvents, as an endpoint's only event type, subscribes it to every event, those added later too.
const AllEvents = "*"

// WebhookEndpoint is a URL of the merchant's that receives the events it subscribes to, signed
// with its secret.
type WebhookEndpoint struct {
	ID          uuid.UUID
	URL         string
	EventTypes  []string // AllEvents alone, or EventTypes
	Description string
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// OldSecretExpiresAt, when set, is when the secret replaced by the latest rotation stops
	// signing.
	OldSecretExpiresAt *time.Time
	// Failing counts its deliveries whose latest attempt failed; read with it, not stored.
	Failing DeliveryFailures
}

// DeliveryFailures are an endpoint's deliveries whose latest attempt failed.
type DeliveryFailures struct {
	Failed        int        // given up on: nothing sends them again but a redelivery
	Retrying      int        // pending, their next retry planned
	LastFailureAt *time.Time // the latest of their attempts
}

// OldSecretSigningUntil is when the secret replaced by the latest rotation stops signing, while
// it still signs at now; nil once its grace period has passed (or when there is none).
func (e WebhookEndpoint) OldSecretSigningUntil(now time.Time) *time.Time {
	if e.OldSecretExpiresAt == nil || !e.OldSecretExpiresAt.After(now) {
		return nil
	}
	return e.OldSecretExpiresAt
}

// Validate checks the endpoint's fields and sorts its event types.
func (e *WebhookEndpoint) Validate() error {
	u, err := url.Parse(e.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(e.URL) > 2048:
		return &ValidationError{Field: "url", Reason: "must be an absolute http or https URL, at most 2048 characters"}
	case u.User != nil:
		return &ValidationError{Field: "url", Reason: "must not carry a user name or password"}
	case NoReceiverAt(u.Hostname()):
		return &ValidationError{Field: "url", Reason: "must not be a link-local, multicast or unspecified address"}
	case len(e.Description) > 500:
		return &ValidationError{Field: "description", Reason: "must be at most 500 characters"}
	case len(e.EventTypes) == 0:
		return &ValidationError{Field: "event_types", Reason: `is required: event types, or ["*"] for all`}
	}
	for _, t := range e.EventTypes {
		if t == AllEvents && len(e.EventTypes) > 1 {
			return &ValidationError{Field: "event_types", Reason: `"*" must be alone`}
		}
		if t != AllEvents && !slices.Contains(EventTypes, EventType(t)) {
			return &ValidationError{Field: "event_types", Reason: fmt.Sprintf("%q is not an event type", t)}
		}
	}
	slices.Sort(e.EventTypes)
	e.EventTypes = slices.Compact(e.EventTypes)
	return nil
}

// NoReceiverAt reports whether host is an IP address where no webhook receiver lives, so that
// deliveries never go there: link-local (where clouds serve instance metadata and credentials,
// 169.254.169.254, fe80::/10), multicast or unspecified. A name is checked by the sender once
// resolved. Private and loopback addresses are allowed: a merchant's receiver may be there.
func NoReceiverAt(host string) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()
}

// Subscribed reports whether the endpoint takes events of type t (whether or not it is enabled).
func (e WebhookEndpoint) Subscribed(t EventType) bool {
	return slices.Contains(e.EventTypes, AllEvents) || slices.Contains(e.EventTypes, string(t))
}

// NewWebhookSecret returns a new signing secret: 130 random bits.
func NewWebhookSecret() string { return "whsec_" + rand.Text() }

// Rotation grace periods: how long a replaced secret keeps signing by default, and at most.
const (
	DefaultRotationGrace = 24 * time.Hour
	MaxRotationGrace     = 7 * 24 * time.Hour
)

// DeliveryStatus is where a webhook delivery is: pending until the endpoint has answered 2xx
// (succeeded) or every retry has failed (failed).
type DeliveryStatus string

// Delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// DefaultRetryDelays are the waits between a webhook delivery's attempts: about three days in
// all, then the delivery fails.
var DefaultRetryDelays = []time.Duration{
	30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 3 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// WebhookDelivery is one event sent to one endpoint, with how its attempts went.
type WebhookDelivery struct {
	ID             uuid.UUID
	EventID        uuid.UUID
	EventType      EventType
	EndpointID     uuid.UUID
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode *int
	LastError      string
	LastAttemptAt  *time.Time
	NextAttemptAt  *time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// Attempted records an attempt made at now that the endpoint answered with status (0 when it did
// not answer) or that failed with problem: a 2xx succeeds; anything else waits the next of delays
// before the next attempt, and fails the delivery once they are used up.
func (d *WebhookDelivery) Attempted(status int, problem string, now time.Time, delays []time.Duration) {
	d.Attempts++
	d.LastAttemptAt, d.LastError, d.LastStatusCode, d.NextAttemptAt = &now, problem, nil, nil
	if status != 0 {
		d.LastStatusCode = &status
	}
	switch {
	case status >= 200 && status < 300:
		d.Status, d.DeliveredAt, d.LastError = DeliverySucceeded, &now, ""
	case d.Attempts > len(delays):
		d.Status = DeliveryFailed
	default:
		next := now.Add(delays[d.Attempts-1])
		d.NextAttemptAt = &next
	}
}

// Redeliverable refuses a redelivery to a disabled endpoint (a deleted one is not found).
func (e WebhookEndpoint) Redeliverable() error {
	if !e.Enabled {
		return &ConflictError{Reason: "the webhook endpoint is disabled: enable it to redeliver"}
	}
	return nil
}

// Redeliver makes d, failed or succeeded, pending again for one more attempt at now, outside its
// retry schedule (the attempt is made with no retry delays: it succeeds or fails at once). A
// pending delivery is already on its way.
func (d *WebhookDelivery) Redeliver(now time.Time) error {
	if d.Status == DeliveryPending {
		return &ConflictError{Reason: "the delivery is pending: its next attempt is already planned"}
	}
	d.Status, d.NextAttemptAt = DeliveryPending, &now
	return nil
}

// MaxRedeliveries bounds the failed deliveries that one request sends again.
const MaxRedeliveries = 1000

// NewDeliveries makes one pending delivery of each event to each endpoint subscribed to its type.
func NewDeliveries(events []Event, endpoints []WebhookEndpoint, now time.Time) []WebhookDelivery {
	var ds []WebhookDelivery
	for _, e := range events {
		for _, ep := range endpoints {
			if ep.Subscribed(e.Type) {
				ds = append(ds, WebhookDelivery{ID: NewID(), EventID: e.ID, EventType: e.Type, EndpointID: ep.ID,
					Status: DeliveryPending, CreatedAt: now})
			}
		}
	}
	return ds
}
