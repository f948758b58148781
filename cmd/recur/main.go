// Command recur is Recur's one binary: the API and workers, migrations, a development mode with
// everything included, the EGW simulator and admin commands. Run `recur help` for the list.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	// Subscriptions are billed on the calendar of their IANA time zone, and the container image
	// (distroless) has no tz database: the binary carries its own (about 450 kB).
	_ "time/tzdata"
)

const usage = `Usage: recur <command> [flags]

Commands:
  serve                  run the API and the background workers (needs DATABASE_URL and RECUR_EGW_*)
  dev                    run everything locally: database, migrations, EGW simulator, API, workers
  migrate up|down|status apply, roll back one, or list the database migrations
  apikey create [--name] [--role admin|write|finance]
                         create an API key (a write key by default) and print it alone on stdout
  egwsim                 run the EGW simulator on its own
  bench [--n 100000]     measure the billing pipeline on this machine (see the README)
  db exec -- CMD ARGS    run CMD with DATABASE_URL set to a local database (used by scripts/test)
  help                   show this text and the environment variables

Environment:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	var exit exitCode
	if errors.As(err, &exit) {
		os.Exit(int(exit))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "recur:", err)
		os.Exit(1)
	}
}

// exitCode is an error that only carries a process exit status (from `db exec`'s child).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		printUsage(os.Stderr)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		printUsage(stdout)
		return nil
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, cfg, args)
	case "dev":
		return devCmd(ctx, cfg, args, getenv, stdout)
	case "migrate":
		return migrateCmd(ctx, cfg, args, stdout)
	case "apikey":
		return apikeyCmd(ctx, cfg, args, stdout)
	case "egwsim":
		return egwsimCmd(ctx, cfg, args, stdout)
	case "bench":
		return benchCmd(ctx, cfg, args, getenv, stdout)
	case "db":
		return dbCmd(ctx, cfg, args, getenv)
	}
	printUsage(os.Stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	for _, e := range envVars {
		def := ""
		if e.def != "" {
			def = " (default " + e.def + ")"
		}
		fmt.Fprintf(w, "  %-28s %s%s\n", e.name, e.doc, def)
	}
}
