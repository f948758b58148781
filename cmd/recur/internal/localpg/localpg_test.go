package localpg

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperProject) != "" { // re-executed by a test as a separate process
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// logBuffer collects log output and echoes it to the test log.
type logBuffer struct {
	t  *testing.T
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testOptions returns options that see only env, search no binaries unless
// the test says otherwise, and probe a closed port instead of
// localhost:5432, so that neither the developer's environment nor their
// server changes what the test exercises.
func testOptions(t *testing.T, project string, env map[string]string) (Options, *logBuffer) {
	logs := &logBuffer{t: t}
	return Options{
		ProjectDir: project,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Getenv:     func(k string) string { return env[k] },
		binDirs:    func() []string { return nil },
		probeAddr:  closedAddr(t),
	}, logs
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestEnsureUsesDatabaseURL(t *testing.T) {
	project := t.TempDir()
	const u = "postgres://app:s3cret@db.example:5432/recur?sslmode=require"
	o, logs := testOptions(t, project, map[string]string{"DATABASE_URL": u})

	got, stop, err := Ensure(t.Context(), o)
	require.NoError(t, err)
	require.Equal(t, u, got)
	require.NoError(t, stop(t.Context()))

	require.Contains(t, logs.String(), "db.example")
	require.NotContains(t, logs.String(), "s3cret")
	require.NoDirExists(t, filepath.Join(project, ".recur"), "nothing started")
}

func TestEnsureWithoutPostgres(t *testing.T) {
	project := t.TempDir()
	o, _ := testOptions(t, project, nil)

	_, stop, err := Ensure(t.Context(), o)
	require.ErrorIs(t, err, ErrNoPostgres)
	require.Equal(t, "no PostgreSQL: set DATABASE_URL, start a server on localhost:5432, "+
		"or install the PostgreSQL server binaries (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql)", err.Error())
	require.NotNil(t, stop)
	require.NoError(t, stop(t.Context()))
}

func TestEnsureServerRejectsLogin(t *testing.T) {
	addr := fakeServer(t)
	o, logs := testOptions(t, t.TempDir(), map[string]string{"PGPASSWORD": "s3cret"})
	o.probeAddr = addr

	_, _, err := Ensure(t.Context(), o)
	require.Error(t, err)
	msg := err.Error()
	require.NotContains(t, msg, "\n")
	require.Contains(t, msg, "a server answers on "+addr+" but rejects user postgres")
	require.Contains(t, msg, "password authentication failed")
	require.Contains(t, msg, "set DATABASE_URL")
	require.NotContains(t, msg+logs.String(), "s3cret")
}

// fakeServer answers every startup with a failed password check, like a
// PostgreSQL server whose postgres user needs another password.
func fakeServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				for {
					msg, err := be.ReceiveStartupMessage()
					if err != nil {
						return
					}
					switch msg.(type) {
					case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
						if _, err := c.Write([]byte("N")); err != nil {
							return
						}
						continue
					}
					be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "postgres"`})
					_ = be.Flush()
					return
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/recur":           "postgres://app:xxxxx@db:5432/recur",
		"postgres://app@db/recur?password=s3cret&x=1":   "postgres://app@db/recur?password=xxxxx&x=1",
		"postgres://app@db/recur":                       "postgres://app@db/recur",
		"host=db user=app password=s3cret dbname=recur": "host=db user=app password=xxxxx dbname=recur",
		"host=db password = 'a b\\' c' dbname=recur":    "host=db password = xxxxx dbname=recur",
		"postgres://app:s3cret@db:bad port/recur":       "(unparsable URL)",
	} {
		require.Equal(t, want, Redact(in), in)
	}
}

// The helper process: the test binary re-executed by a test, with these
// variables set. It calls ensure, prints "<url> <started>", waits for its
// stdin to close, calls stop and exits.
const (
	helperProject = "LOCALPG_TEST_HELPER_PROJECT"
	helperPort    = "LOCALPG_TEST_HELPER_PORT"
	helperProbe   = "LOCALPG_TEST_HELPER_PROBE"
)

func helperMain() int {
	env := map[string]string{"RECUR_PG_PORT": os.Getenv(helperPort)}
	db, err := ensure(context.Background(), Options{
		ProjectDir: os.Getenv(helperProject),
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Getenv:     func(k string) string { return env[k] },
		probeAddr:  os.Getenv(helperProbe),
	})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString(db.url + " " + map[bool]string{true: "started", false: "reused"}[db.started] + "\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := db.stop(context.Background()); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

func TestFindProjectDir(t *testing.T) {
	project := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(project, "go.mod"), []byte("module x\n"), 0o644))
	sub := filepath.Join(project, "a", "b")
	require.NoError(t, os.MkdirAll(sub, 0o755))

	t.Chdir(sub)
	got, err := findProjectDir()
	require.NoError(t, err)
	require.Equal(t, project, got)

	// No go.mod anywhere up: the working directory itself.
	elsewhere := t.TempDir()
	for d := elsewhere; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(d), "go.mod")); err == nil {
			t.Skip("the temp dir is inside a Go module")
		}
	}
	t.Chdir(elsewhere)
	got, err = findProjectDir()
	require.NoError(t, err)
	require.Equal(t, elsewhere, got)
}
