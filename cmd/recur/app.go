package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/timed"
	"github.com/recur-billing/recur/jobs"
	"github.com/recur-billing/recur/migrations"
)

// mode is what a serving process does.
type mode string

// The modes of `recur serve`.
const (
	// modeAll answers the API and works jobs.
	modeAll mode = "all"
	// modeAPI answers the API and enqueues jobs, but works none.
	modeAPI mode = "api"
	// modeWorker works jobs (the scheduler included) and answers only /healthz, /readyz and /metrics.
	modeWorker mode = "worker"
)

// check returns an error unless m is one of the modes.
func (m mode) check() error {
	switch m {
	case modeAll, modeAPI, modeWorker:
		return nil
	}
	return errors.New("want all, api or worker")
}

// Shutdown: running jobs get stopGrace to finish on their own; then their contexts are cancelled,
// so gateway calls under way end and each job stops at its next recovery point (a step already
// committed, which a retry resumes from), within the rest of stopTimeout.
const (
	stopGrace   = 20 * time.Second
	stopTimeout = 30 * time.Second
)

// app is Recur wired together: the API and the River client on one database and one gateway.
type app struct {
	mode    mode
	river   *jobs.Client
	metrics *metrics
	handler http.Handler
	log     *slog.Logger
}

// newApp wires Recur; publicURL is where EGW and customers' browsers reach the API (empty: no
// payment-method setups).
func newApp(pool *pgxpool.Pool, gw gateway.Gateway, clock billing.Clock, log *slog.Logger, jc jobs.Config, m mode, publicURL string) (*app, error) {
	met := newMetrics(pool, log)
	gw = timed.New(gw, met.gatewayCall)
	jc.InsertOnly = m == modeAPI
	rc, err := jobs.NewClient(jobs.Deps{Pool: pool, Gateway: gw, Clock: clock, Logger: log, Observer: met}, jc)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.Handle("GET /readyz", readyz(pool, log))
	mux.Handle("GET /metrics", met.handler())
	if m != modeWorker {
		mux.Handle("/", met.countIdempotency(api.New(api.Deps{Pool: pool, Gateway: gw, Jobs: rc, Clock: clock, Logger: log, PublicURL: publicURL})))
	}
	return &app{mode: m, river: rc, metrics: met, handler: mux, log: log}, nil
}

// refuseSandboxData stops a start with a real gateway on a database that holds customers on test
// clocks: the workers bill them at their clocks' frozen times, which only makes sense against the
// built-in simulator (a `recur dev` database reused for real).
func refuseSandboxData(ctx context.Context, pool *pgxpool.Pool) error {
	n, err := store.CustomersOnTestClocks(ctx, pool)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("the database holds %d customers on test clocks, made with recur dev's simulator: use another database with a real gateway", n)
	}
	return nil
}

// readyz answers 204 when the database answers and its schema is current, else 503 saying why.
func readyz(pool *pgxpool.Pool, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		err := pool.Ping(ctx)
		if err == nil {
			err = schemaCurrent(ctx, pool, log)
		}
		if err != nil {
			log.WarnContext(ctx, "not ready", slog.Any("error", err))
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// schemaCurrent returns an error unless every migration has been applied.
func schemaCurrent(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	m, err := migrations.New(pool, log)
	if err != nil {
		return err
	}
	defer m.Close()
	current, err := m.Current(ctx)
	if err == nil && !current {
		err = errors.New("the database schema is not current: run `recur migrate up`")
	}
	return err
}

// serve answers HTTP on ln and, unless in API mode, works jobs, until ctx ends. Then it shuts down
// gracefully: it stops taking requests and jobs, lets those under way finish for stopGrace, then
// cancels the jobs still running so that they stop at a recovery point.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	if a.mode != modeAPI {
		a.metrics.watchJobs(a.river)
		if err := a.river.Start(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("recur is serving", slog.String("addr", ln.Addr().String()), slog.String("mode", string(a.mode)))

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	a.log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if shutErr := srv.Shutdown(stopCtx); shutErr != nil {
		err = errors.Join(err, shutErr)
	}
	if a.mode != modeAPI {
		if stopErr := a.stopWorkers(stopCtx); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stop workers: %w", stopErr))
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// stopWorkers stops fetching jobs and waits stopGrace for those running; then it cancels them and
// waits for them to return, until ctx ends.
func (a *app) stopWorkers(ctx context.Context) error {
	graceCtx, cancel := context.WithTimeout(ctx, stopGrace)
	defer cancel()
	err := a.river.Stop(graceCtx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		a.log.Warn("jobs still running after the grace period: cancelling them", slog.Duration("grace", stopGrace))
		err = a.river.StopAndCancel(ctx)
	}
	return err
}
