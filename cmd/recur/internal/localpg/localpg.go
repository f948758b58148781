// Package localpg gives `recur dev` and the test command a PostgreSQL
// database without any setup.
//
// Ensure looks, in order, for:
//
//  1. DATABASE_URL, used as is;
//  2. a server answering on localhost:5432 (user postgres, PGPASSWORD if set);
//  3. the PostgreSQL server binaries (initdb, pg_ctl, postgres), with which it
//     runs a throwaway cluster in <project>/.recur/pg on 127.0.0.1:54329
//     (RECUR_PG_PORT overrides the port) and a database named recur in it.
//
// If none of these is available it fails with one line saying what to do.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultPort is the port of the throwaway cluster. It is deliberately not
// 5432, so that the cluster never collides with a server the developer runs.
const DefaultPort = 54329

// DatabaseName is the database Ensure creates in the throwaway cluster.
const DatabaseName = "recur"

// ErrNoPostgres is returned, as is, when there is no way to get a
// database: its text is the whole one-line message.
var ErrNoPostgres = errors.New("no PostgreSQL: set DATABASE_URL, start a server on localhost:5432, " +
	"or install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)")

// Options configure Ensure. The zero value is ready to use.
type Options struct {
	// ProjectDir holds the git-ignored .recur/ folder. Default: the nearest
	// directory containing go.mod, from the working directory up; else the
	// working directory.
	ProjectDir string
	// Logger receives a few short lines. Default: slog.Default().
	Logger *slog.Logger
	// Getenv reads DATABASE_URL, PGPASSWORD and RECUR_PG_PORT.
	// Default: os.Getenv.
	Getenv func(string) string

	// Test hooks.
	binDirs   func() []string // directories to search for the server binaries instead of PATH and /usr/lib/postgresql
	probeAddr string          // address of the "existing server" instead of localhost:5432
}

// Ensure returns the URL of a database to use and a function that releases
// it.
//
// For the throwaway cluster, every Ensure (in this process or another)
// counts as a user until it calls stop; the last one out stops the
// cluster with pg_ctl stop -m fast and waits for it, provided an Ensure
// started it: a cluster started by hand is left running. Otherwise stop
// does nothing. stop is never nil and may be called more than once.
//
// stop does its job even when ctx is already done, as t.Context() is in
// a t.Cleanup and a signal context is at shutdown; it gives up after
// about a minute.
func Ensure(ctx context.Context, opts Options) (url string, stop func(context.Context) error, err error) {
	db, err := ensure(ctx, opts)
	if err != nil {
		return "", noop, err
	}
	return db.url, db.stop, nil
}

// database is what ensure found; the extra fields are for tests.
type database struct {
	url     string
	stop    func(context.Context) error
	dir     string // cluster folder, when the database is in the throwaway cluster
	started bool   // this call started the cluster
}

func noop(context.Context) error { return nil }

func ensure(ctx context.Context, o Options) (*database, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if u := o.Getenv("DATABASE_URL"); u != "" {
		o.Logger.Info("postgres: using DATABASE_URL", "url", Redact(u))
		return &database{url: u, stop: noop}, nil
	}
	u, err := probe(ctx, &o)
	if err != nil {
		return nil, err
	}
	if u != "" {
		o.Logger.Info("postgres: using server on "+o.probeAddr, "url", Redact(u))
		return &database{url: u, stop: noop}, nil
	}
	return ensureCluster(ctx, &o)
}

func (o *Options) setDefaults() error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.probeAddr == "" {
		o.probeAddr = "localhost:5432"
	}
	if o.ProjectDir == "" {
		dir, err := findProjectDir()
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		o.ProjectDir = dir
	}
	dir, err := filepath.Abs(o.ProjectDir)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	o.ProjectDir = dir
	return nil
}

// findProjectDir returns the nearest directory containing go.mod, from the
// working directory up, or else the working directory.
func findProjectDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd, nil
		}
		dir = parent
	}
}

// probe returns the URL of the server at o.probeAddr, or "" if nothing
// listens there. Something that listens but does not let us in is an error:
// silently starting a second server next to it would only confuse.
func probe(ctx context.Context, o *Options) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", o.probeAddr)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", nil // nothing there
	}
	c.Close()

	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: o.probeAddr, Path: "/postgres", RawQuery: "sslmode=disable"}
	if pw := o.Getenv("PGPASSWORD"); pw != "" {
		u.User = url.UserPassword("postgres", pw)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, u.String())
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("localpg: a server answers on %s but rejects user postgres (%s): set DATABASE_URL to a URL that works",
			o.probeAddr, oneLine(err))
	}
	conn.Close(ctx)
	return u.String(), nil
}

// oneLine renders err on a single line, preferring the server's own message.
func oneLine(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", pgErr.Severity, pgErr.Message, pgErr.Code)
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact hides the password in a database URL or key=value connection
// string, for logging.
func Redact(conn string) string {
	if strings.Contains(conn, "://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "(unparsable URL)"
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	return dsnPassword.ReplaceAllString(conn, "${1}xxxxx")
}
