package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/api/webhooksig"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// DispatchEventsArgs asks for one dispatcher pass: a delivery, and its job, for each new event
// and each enabled endpoint subscribed to its type.
type DispatchEventsArgs struct{}

// Kind names the job in River.
func (DispatchEventsArgs) Kind() string { return "dispatch_events" }

// InsertOpts keeps passes from piling up.
func (DispatchEventsArgs) InsertOpts() river.InsertOpts { return onePassAtATime() }

// DispatchEventsWorker fans the event log out to the webhook endpoints.
//
// Events are appended by store code in the transactions of the changes they report, which have
// no River client, so a dispatcher follows the log instead: with a cursor in the order of the
// writing transactions' ids, reading only events whose transactions are older than any still
// running (store.EventsAfter), so that an event committed late is never passed over. Each batch
// is one transaction that locks the cursor, inserts the deliveries (unique per event and
// endpoint), enqueues their jobs and moves the cursor: a crash leaves all of it or none, and a
// second dispatcher waits for the cursor. No trigger, and no change to the code that emits.
type DispatchEventsWorker struct {
	river.WorkerDefaults[DispatchEventsArgs]
	deps      Deps
	batchSize int
}

// Work dispatches every event whose transaction has ended.
func (w *DispatchEventsWorker) Work(ctx context.Context, _ *river.Job[DispatchEventsArgs]) error {
	for {
		n, err := w.dispatchBatch(ctx)
		if err != nil {
			return fmt.Errorf("dispatch events: %w", err)
		}
		if n < w.batchSize {
			return nil
		}
	}
}

// dispatchBatch dispatches up to a batch of events in one transaction and returns how many.
func (w *DispatchEventsWorker) dispatchBatch(ctx context.Context) (n int, err error) {
	err = store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) error {
		cursor, err := store.LockDispatchCursor(ctx, tx)
		if err != nil {
			return err
		}
		events, cursors, err := store.EventsAfter(ctx, tx, cursor, w.batchSize)
		if err != nil || len(events) == 0 {
			return err
		}
		endpoints, err := store.EnabledWebhookEndpoints(ctx, tx)
		if err != nil {
			return err
		}
		ids, err := store.InsertDeliveries(ctx, tx, billing.NewDeliveries(events, endpoints, w.deps.Clock.Now()))
		if err != nil {
			return err
		}
		if err := EnqueueDeliveries(ctx, river.ClientFromContext[pgx.Tx](ctx), tx, ids, false); err != nil {
			return err
		}
		n = len(events)
		return store.SetDispatchCursor(ctx, tx, cursors[len(cursors)-1])
	})
	return n, err
}

// DeliverWebhookArgs asks for a webhook delivery to be sent.
type DeliverWebhookArgs struct {
	DeliveryID uuid.UUID `json:"delivery_id"`
	// Redelivery is a single attempt asked for through the API: it is not retried.
	Redelivery bool `json:"redelivery,omitempty"`
}

// EnqueueDeliveries enqueues the sending of the deliveries ids in tx, the transaction that
// stores them pending.
func EnqueueDeliveries(ctx context.Context, client *Client, tx pgx.Tx, ids []uuid.UUID, redelivery bool) error {
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: DeliverWebhookArgs{DeliveryID: id, Redelivery: redelivery}}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue deliveries: %w", err)
	}
	return nil
}

// Kind names the job in River.
func (DeliverWebhookArgs) Kind() string { return "deliver_webhook" }

// InsertOpts keeps one unfinished job per delivery dispatched. A redelivery is not unique by
// args: the job of its previous attempt may not be marked completed yet, and a skipped insert
// would leave the delivery pending with no job. Its delivery's state, set pending under its row
// lock, is what admits one redelivery at a time.
func (a DeliverWebhookArgs) InsertOpts() river.InsertOpts {
	if a.Redelivery {
		return river.InsertOpts{}
	}
	return oneUnfinishedPerArgs()
}

// Headers of a delivery besides the signature.
const (
	EventIDHeader   = "Recur-Event-Id"
	EventTypeHeader = "Recur-Event-Type"
)

// DeliverWebhookWorker POSTs an event to an endpoint, signed with each of the endpoint's secrets
// (two during a rotation), and records the attempt. A 2xx answer delivers it; anything else (a
// redirect too: none is followed), or no answer within WebhookTimeout, is retried after the next
// of WebhookRetryDelays, and the delivery fails once they are used up. Delivery is at least
// once: a run that stops after sending sends again, with the same event id. A disabled or
// deleted endpoint is sent nothing more. A redelivery asked for through the API is one attempt.
type DeliverWebhookWorker struct {
	river.WorkerDefaults[DeliverWebhookArgs]
	deps   Deps
	cfg    Config
	client *http.Client
}

func newDeliverWebhookWorker(deps Deps, cfg Config) *DeliverWebhookWorker {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: refuseNoReceiver}).DialContext
	return &DeliverWebhookWorker{deps: deps, cfg: cfg, client: &http.Client{
		Transport:     transport,
		Timeout:       cfg.WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// refuseNoReceiver refuses to connect to an address where no receiver lives
// (billing.NoReceiverAt), at the moment of connecting: after DNS, rebinding included.
func refuseNoReceiver(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil || billing.NoReceiverAt(host) {
		return fmt.Errorf("webhook address %s is link-local, multicast or unspecified: refused", address)
	}
	return nil
}

// Work makes one attempt, and snoozes the job until the next when it failed.
func (w *DeliverWebhookWorker) Work(ctx context.Context, job *river.Job[DeliverWebhookArgs]) error {
	db := w.deps.Pool
	d, err := store.GetWebhookDelivery(ctx, db, job.Args.DeliveryID)
	if errors.Is(err, billing.ErrNotFound) || (err == nil && d.Status != billing.DeliveryPending) {
		return nil // its endpoint was deleted, or it is finished
	}
	if err != nil {
		return err
	}
	log := w.deps.Logger.With(slog.String("delivery_id", d.ID.String()), slog.String("event_id", d.EventID.String()),
		slog.String("endpoint_id", d.EndpointID.String()))
	ep, err := store.GetWebhookEndpointSettings(ctx, db, d.EndpointID)
	if errors.Is(err, billing.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ep.Enabled {
		d.Status, d.LastError, d.NextAttemptAt = billing.DeliveryFailed, "the endpoint was disabled", nil
		_, err := store.RecordDeliveryAttempt(ctx, db, d)
		return err
	}
	status, problem, err := w.send(ctx, ep, d)
	if err != nil {
		return err
	}
	delays := w.cfg.WebhookRetryDelays
	if job.Args.Redelivery {
		delays = nil
	}
	d.Attempted(status, problem, w.deps.Clock.Now(), delays)
	recorded, err := store.RecordDeliveryAttempt(context.WithoutCancel(ctx), db, d)
	if err != nil || !recorded {
		return err
	}
	w.deps.Observer.WebhookAttempted(string(d.Status))
	log.InfoContext(ctx, "webhook attempt", slog.String("status", string(d.Status)), slog.Int("attempts", d.Attempts),
		slog.String("error", d.LastError))
	if d.Status == billing.DeliveryPending {
		return river.JobSnooze(w.cfg.WebhookRetryDelays[d.Attempts-1])
	}
	return nil
}

// send POSTs the delivery's event to ep and returns the answer's status, or 0 and what went
// wrong. The problem never holds the URL (which may carry a token of the merchant's). An error
// is Recur's own (reading the event, the secrets).
func (w *DeliverWebhookWorker) send(ctx context.Context, ep billing.WebhookEndpoint, d billing.WebhookDelivery) (status int, problem string, err error) {
	event, err := store.GetEvent(ctx, w.deps.Pool, d.EventID)
	if err != nil {
		return 0, "", err
	}
	body, err := json.Marshal(event)
	if err != nil {
		return 0, "", err
	}
	secrets, err := store.WebhookSecrets(ctx, w.deps.Pool, ep.ID, w.deps.Clock.Now())
	if err != nil {
		return 0, "", err
	}
	if len(secrets) == 0 {
		return 0, "", fmt.Errorf("webhook endpoint %s has no signing secret", ep.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "the endpoint's URL cannot be requested", nil
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Recur-Webhooks/1")
	req.Header.Set(EventIDHeader, event.ID.String())
	req.Header.Set(EventTypeHeader, string(event.Type))
	req.Header.Set(webhooksig.Header, webhooksig.Sign(body, w.deps.Clock.Now(), secrets...))
	resp, err := w.client.Do(req)
	var ue *url.Error
	switch {
	case ctx.Err() != nil:
		return 0, "", ctx.Err() // stopping: not the endpoint's fault
	case errors.As(err, &ue) && ue.Timeout():
		return 0, "no answer within " + w.cfg.WebhookTimeout.String(), nil
	case errors.As(err, &ue):
		return 0, ue.Err.Error(), nil
	case err != nil:
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // read a little, so the connection may be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, "the endpoint answered " + strconv.Itoa(resp.StatusCode), nil
	}
	return resp.StatusCode, "", nil
}
