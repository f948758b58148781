package main

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway/timed"
	"github.com/recur-billing/recur/jobs"
)

// metrics are Recur's Prometheus metrics, on a registry of their own (so that several apps, as in
// the tests, do not collide). They implement jobs.Observer.
type metrics struct {
	reg          *prometheus.Registry
	charges      *prometheus.CounterVec
	gatewayCalls *prometheus.HistogramVec
	runDuration  prometheus.Histogram
	runSize      prometheus.Histogram
	runCharges   prometheus.Counter
	jobWait      *prometheus.HistogramVec
	jobRun       *prometheus.HistogramVec
	idempotency  *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
}

var _ jobs.Observer = (*metrics)(nil)

// newMetrics registers Recur's metrics, the Go runtime and process collectors, and River's queue
// depth, which is counted in the database at each scrape.
func newMetrics(pool *pgxpool.Pool, log *slog.Logger) *metrics {
	latency := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		charges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_charges_finished_total",
			Help: "Charge attempts finished, by status (succeeded, failed) and failure code (empty when succeeded).",
		}, []string{"status", "failure_code"}),
		gatewayCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "recur_gateway_request_duration_seconds",
			Help:    "Gateway calls by operation, outcome (ok or the error class) and HTTP status of failed calls (0: none).",
			Buckets: latency,
		}, []string{"operation", "outcome", "status"}),
		runDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recur_billing_run_duration_seconds",
			Help:    "Duration of scheduler passes that found subscriptions due.",
			Buckets: latency,
		}),
		runSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "recur_billing_run_subscriptions_due",
			Help:    "Subscriptions due per billing run.",
			Buckets: prometheus.ExponentialBuckets(1, 10, 8),
		}),
		runCharges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recur_billing_run_charges_created_total",
			Help: "Charges created by billing runs.",
		}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "recur_river_job_queue_wait_seconds",
			Help:    "Time River jobs waited as available before a worker took them, by job kind.",
			Buckets: latency,
		}, []string{"kind"}),
		jobRun: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "recur_river_job_run_seconds",
			Help:    "Time River jobs ran, by job kind and event (job_completed, job_failed, job_cancelled, job_snoozed).",
			Buckets: latency,
		}, []string{"kind", "event"}),
		idempotency: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_idempotency_requests_total",
			Help: "API requests with an Idempotency-Key, by outcome: replayed (the stored answer sent again) or executed (anything else).",
		}, []string{"outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recur_webhook_attempts_total",
			Help: "Webhook delivery attempts, by the delivery's status after them: succeeded, pending (to be retried) or failed (retries used up).",
		}, []string{"status"}),
	}
	m.reg.MustRegister(m.charges, m.gatewayCalls, m.runDuration, m.runSize, m.runCharges, m.jobWait, m.jobRun, m.idempotency,
		m.webhooks,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		queueDepth{pool: pool, log: log, desc: prometheus.NewDesc("recur_river_jobs",
			"River jobs not yet finished, by queue and state, counted at scrape time.", []string{"queue", "state"}, nil)},
	)
	return m
}

// handler serves the metrics in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ChargeFinished counts a finished charge attempt.
func (m *metrics) ChargeFinished(status, failureCode string) {
	m.charges.WithLabelValues(status, failureCode).Inc()
}

// BillingRunFinished records a billing run's duration and size.
func (m *metrics) BillingRunFinished(due, created int, d time.Duration) {
	m.runDuration.Observe(d.Seconds())
	m.runSize.Observe(float64(due))
	m.runCharges.Add(float64(created))
}

// WebhookAttempted counts a webhook delivery attempt.
func (m *metrics) WebhookAttempted(status string) {
	m.webhooks.WithLabelValues(status).Inc()
}

// gatewayCall records one gateway call; it is the timed.Gateway's record function.
func (m *metrics) gatewayCall(c timed.Call) {
	m.gatewayCalls.WithLabelValues(c.Op, c.Outcome, strconv.Itoa(c.Status)).Observe(c.Duration.Seconds())
}

// countIdempotency counts the API requests that carry an Idempotency-Key, telling replays (the
// API marks them Idempotent-Replayed: true) from the rest.
func (m *metrics) countIdempotency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Header.Get("Idempotency-Key") == "" {
			return
		}
		outcome := "executed"
		if w.Header().Get("Idempotent-Replayed") == "true" {
			outcome = "replayed"
		}
		m.idempotency.WithLabelValues(outcome).Inc()
	})
}

// watchJobs records the queue wait and run time of every job that rc works, until rc stops (River
// closes the subscription then). rc must be a client that works jobs.
func (m *metrics) watchJobs(rc *jobs.Client) {
	events, _ := rc.SubscribeConfig(&river.SubscribeConfig{
		ChanSize: 10_000, // events that would overflow are dropped: keep a few seconds' worth at full speed
		Kinds: []river.EventKind{river.EventKindJobCompleted, river.EventKindJobFailed,
			river.EventKindJobCancelled, river.EventKindJobSnoozed},
	})
	go func() {
		for e := range events {
			if e.Job == nil || e.JobStats == nil {
				continue
			}
			m.jobWait.WithLabelValues(e.Job.Kind).Observe(e.JobStats.QueueWaitDuration.Seconds())
			m.jobRun.WithLabelValues(e.Job.Kind, string(e.Kind)).Observe(e.JobStats.RunDuration.Seconds())
		}
	}()
}

// queueDepth is a collector of River's unfinished jobs by queue and state.
type queueDepth struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	desc *prometheus.Desc
}

// Describe sends the one metric's description.
func (q queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

// Collect counts the jobs now; when the database does not answer in time, the scrape says so.
func (q queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := store.CountUnfinishedJobs(ctx, q.pool)
	if err != nil {
		q.log.Warn("metrics: cannot count River jobs", slog.Any("error", err))
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for _, c := range counts {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(c.Jobs), c.Queue, c.State)
	}
}
