package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/migrations"
)

func serveCmd(ctx context.Context, cfg config, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", cfg.Addr, "address to listen on")
	m := fs.String("mode", string(cfg.Mode), "all, api or worker")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := mode(*m).check(); err != nil {
		return fmt.Errorf("--mode %q: %w", *m, err)
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set (recur dev finds or starts a local database by itself)")
	}
	if cfg.EGW == nil {
		return errors.New("RECUR_EGW_BASE_URL is not set: serve needs a gateway (run `recur egwsim` and use the settings it prints, or use recur dev)")
	}
	log := cfg.logger()
	gw, err := egw.New(*cfg.EGW, log)
	if err != nil {
		return err
	}
	pool, err := openMigrated(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := refuseSandboxData(ctx, pool); err != nil {
		return err
	}
	a, err := newApp(pool, gw, cfg.Clock, log, cfg.Jobs, mode(*m), cfg.PublicURL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return a.serve(ctx, ln)
}

// openMigrated connects to the database and checks that its schema is current, or brings it up
// to date when migrate is true.
func openMigrated(ctx context.Context, cfg config, log *slog.Logger, migrate bool) (*pgxpool.Pool, error) {
	pool, err := store.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	m, err := migrations.New(pool, log)
	if err == nil {
		defer m.Close()
		if migrate {
			_, err = m.Up(ctx)
		} else {
			var current bool
			if current, err = m.Current(ctx); err == nil && !current {
				err = errors.New("the database schema is not current: run `recur migrate up` first")
			}
		}
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return pool, nil
}
