// Package jobs runs Recur's background work on River: a periodic scheduler that turns due
// subscriptions into charges, a worker per charge that collects it at the gateway, and a worker
// per refund that sends it.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// Config tunes the background work. Zero fields get the defaults in parentheses.
type Config struct {
	// BillingInterval is how often the scheduler looks for due subscriptions (5s).
	BillingInterval time.Duration
	// PollInterval is how long a charge waits before reading a payment that is still being
	// processed at the gateway again (2s).
	PollInterval time.Duration
	// MaxWorkers is how many jobs this process works at once (50). Gateway calls mostly wait, so
	// this can be well above the number of database connections.
	MaxWorkers int
	// BatchSize is how many due subscriptions the scheduler bills per transaction (500).
	BatchSize int
	// InsertOnly makes a client that enqueues jobs but works none (for API-only processes).
	InsertOnly bool

	// Lease is how long a worker run holds a charge without renewing it (1m). It must exceed the
	// gateway's call timeout: the lease is renewed before each call.
	Lease time.Duration
	// ReconcileInterval is how often the janitor looks for charges to reconcile (30s); the
	// first look at a reconciling charge comes after it, then at doubling intervals up to 1h.
	ReconcileInterval time.Duration
	// ReviewAfter is how long a charge's outcome may stay unknown, or its payment processing at
	// the gateway, before it goes to needs_review (24h).
	ReviewAfter time.Duration
	// JobTimeout bounds one run of a job (5m). River rescues a job still running after
	// RescueStuckAfter (JobTimeout + 1h), which happens only when its process died.
	JobTimeout       time.Duration
	RescueStuckAfter time.Duration

	// Dunning is the retry policy of declined charges (billing.DefaultDunning when its schedule
	// is empty).
	Dunning billing.Dunning
	// TokenCheckAhead is how far ahead the token check looks: it checks the tokens of the
	// subscriptions due within it (7 days). TokenCheckInterval is how often it runs (1h).
	TokenCheckAhead    time.Duration
	TokenCheckInterval time.Duration
	// WebhookDispatchInterval is how often new events are dispatched to webhook endpoints (2s).
	WebhookDispatchInterval time.Duration
	// WebhookRetryDelays are the waits between the attempts of a webhook delivery
	// (billing.DefaultRetryDelays: about 3 days in all); it fails after the last.
	WebhookRetryDelays []time.Duration
	// WebhookTimeout bounds each attempt of a webhook delivery (10s).
	WebhookTimeout time.Duration

	// FaultPoint, when set, is called just before ("before:<step>") and just after
	// ("after:<step>") every gateway call of a charge, and of a refund ("before:refund"). Crash tests use it to kill the process at
	// exact points; it is nil otherwise.
	FaultPoint func(point string)
}

func (c Config) withDefaults() Config {
	if c.BillingInterval <= 0 {
		c.BillingInterval = 5 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 50
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.ReconcileInterval <= 0 {
		c.ReconcileInterval = 30 * time.Second
	}
	if c.ReviewAfter <= 0 {
		c.ReviewAfter = 24 * time.Hour
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 5 * time.Minute
	}
	if len(c.Dunning.Schedule) == 0 {
		c.Dunning = billing.DefaultDunning()
	}
	if c.TokenCheckAhead <= 0 {
		c.TokenCheckAhead = 7 * 24 * time.Hour
	}
	if c.TokenCheckInterval <= 0 {
		c.TokenCheckInterval = time.Hour
	}
	if c.WebhookDispatchInterval <= 0 {
		c.WebhookDispatchInterval = 2 * time.Second
	}
	if len(c.WebhookRetryDelays) == 0 {
		c.WebhookRetryDelays = billing.DefaultRetryDelays
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = 10 * time.Second
	}
	if c.RescueStuckAfter <= c.JobTimeout {
		c.RescueStuckAfter = c.JobTimeout + time.Hour
	}
	return c
}

// Deps are what the jobs work with.
type Deps struct {
	Pool    *pgxpool.Pool
	Gateway gateway.Gateway
	Clock   billing.Clock
	Logger  *slog.Logger
	// Observer is told about finished charges and billing runs (NopObserver when nil).
	Observer Observer
}

// Client is the River client that enqueues and works Recur's jobs.
type Client = river.Client[pgx.Tx]

// NewClient returns a River client with Recur's workers and the periodic scheduler. Start it to
// work jobs; River elects one leader among all processes on the database to enqueue periodic jobs.
func NewClient(deps Deps, cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if deps.Observer == nil {
		deps.Observer = NopObserver{}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &BillDueSubscriptionsWorker{deps: deps, batchSize: cfg.BatchSize})
	river.AddWorker(workers, &ReapIdempotencyKeysWorker{deps: deps})
	river.AddWorker(workers, &CollectChargeWorker{deps: deps, cfg: cfg})
	river.AddWorker(workers, &ReconcileChargesWorker{deps: deps, cfg: cfg})
	river.AddWorker(workers, &RefundChargeWorker{deps: deps, cfg: cfg})
	river.AddWorker(workers, &SyncSetupWorker{deps: deps, cfg: cfg})
	river.AddWorker(workers, &DeactivateTokenWorker{deps: deps})
	river.AddWorker(workers, &CheckTokensWorker{deps: deps, cfg: cfg})
	river.AddWorker(workers, &DispatchEventsWorker{deps: deps, batchSize: cfg.BatchSize})
	river.AddWorker(workers, newDeliverWebhookWorker(deps, cfg))
	river.AddWorker(workers, &AdvanceTestClockWorker{scheduler: &BillDueSubscriptionsWorker{deps: deps, batchSize: cfg.BatchSize},
		janitor: &ReconcileChargesWorker{deps: deps, cfg: cfg}})

	rc := &river.Config{
		// River reports routine producer counts at Info every few seconds; keep its warnings.
		Logger:  slog.New(atLeast{Handler: deps.Logger.Handler(), min: slog.LevelWarn}),
		Workers: workers,
		// A charge makes several gateway calls, each with its own timeout.
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueStuckAfter,
	}
	if !cfg.InsertOnly {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}}
		rc.PeriodicJobs = []*river.PeriodicJob{
			every(cfg.BillingInterval, BillDueSubscriptionsArgs{}),
			every(cfg.ReconcileInterval, ReconcileChargesArgs{}),
			every(cfg.TokenCheckInterval, CheckTokensArgs{}),
			every(cfg.WebhookDispatchInterval, DispatchEventsArgs{}),
			// Hourly, and on the leader's start, so that processes restarted more often still reap.
			every(time.Hour, ReapIdempotencyKeysArgs{}),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(deps.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// atLeast is a slog.Handler that drops records below min.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{Handler: h.Handler.WithGroup(name), min: h.min}
}
