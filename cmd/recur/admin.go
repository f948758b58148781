package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/cmd/recur/internal/localpg"
	"github.com/recur-billing/recur/migrations"
)

// migrateCmd runs `recur migrate up|down|status`. Down rolls back one migration.
func migrateCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return errors.New("usage: recur migrate up|down|status")
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	log := cfg.logger()
	pool, err := store.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := migrations.New(pool, log)
	if err != nil {
		return err
	}
	defer m.Close()
	switch args[0] {
	case "up":
		res, err := m.Up(ctx)
		fmt.Fprintf(stdout, "applied %d migrations\n", len(res))
		return err
	case "down":
		res, err := m.Down(ctx)
		if err == nil {
			fmt.Fprintf(stdout, "rolled back %s\n", res.Source.Path)
		}
		return err
	}
	status, err := m.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range status {
		applied := "pending"
		if !s.AppliedAt.IsZero() {
			applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(stdout, "%-70s %s\n", s.Source.Path, applied)
	}
	return nil
}

// apikeyCmd runs `recur apikey create [--name NAME] [--role admin|write|finance]`: it prints the
// new key alone on stdout, so that scripts can capture it. Keys are write keys unless told.
func apikeyCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: recur apikey create [--name NAME] [--role admin|write|finance]")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	name := fs.String("name", "default", "a name to recognise the key by")
	roleName := fs.String("role", string(api.RoleWrite), "what the key may do: admin, write (create and read) or finance (read, reports, the finance pages)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	role, err := api.ParseRole(*roleName)
	if err != nil {
		return fmt.Errorf("--role %s", strings.TrimPrefix(err.Error(), "role: "))
	}
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	pool, err := openMigrated(ctx, cfg, cfg.logger(), false)
	if err != nil {
		return err
	}
	defer pool.Close()
	key, err := api.CreateAPIKeyWithRole(ctx, pool, *name, role, billing.SystemClock{})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}

// dbCmd runs `recur db exec -- CMD ARGS...`: CMD runs with DATABASE_URL pointing at a local
// database (see localpg); a throwaway cluster is stopped afterwards unless something else still uses it.
func dbCmd(ctx context.Context, cfg config, args []string, getenv func(string) string) error {
	if len(args) < 3 || args[0] != "exec" || args[1] != "--" {
		return errors.New("usage: recur db exec -- CMD [ARGS...]")
	}
	url, stop, err := localpg.Ensure(ctx, localpg.Options{Logger: cfg.logger(), Getenv: getenv})
	if err != nil {
		return err
	}
	defer stop(context.WithoutCancel(ctx)) //nolint:errcheck // stopping a throwaway cluster
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
	err = cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitCode(exitErr.ExitCode())
	}
	return err
}
