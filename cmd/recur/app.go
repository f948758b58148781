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
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/jobs"
)

// app is Recur wired together: the API and the River client on one database and one gateway.
type app struct {
	river   *jobs.Client
	handler http.Handler
	log     *slog.Logger
}

func newApp(pool *pgxpool.Pool, gw gateway.Gateway, clock billing.Clock, log *slog.Logger, jc jobs.Config) (*app, error) {
	rc, err := jobs.NewClient(jobs.Deps{Pool: pool, Gateway: gw, Clock: clock, Logger: log}, jc)
	if err != nil {
		return nil, err
	}
	h := api.New(api.Deps{Pool: pool, Gateway: gw, Jobs: rc, Clock: clock, Logger: log})
	return &app{river: rc, handler: h, log: log}, nil
}

// serve works jobs and answers HTTP on ln until ctx ends, then shuts down gracefully: it stops
// taking requests and jobs and lets those under way finish.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	if err := a.river.Start(ctx); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("recur is serving", slog.String("addr", ln.Addr().String()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	a.log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if shutErr := srv.Shutdown(stopCtx); shutErr != nil {
		err = errors.Join(err, shutErr)
	}
	if stopErr := a.river.Stop(stopCtx); stopErr != nil {
		err = errors.Join(err, fmt.Errorf("stop workers: %w", stopErr))
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
