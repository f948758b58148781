//go:build unix

package localpg

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// clusterOptions are testOptions that find the real binaries and run the
// cluster on a port of its own.
func clusterOptions(t *testing.T, project string) (Options, *logBuffer, int) {
	if len(findBinaries(t.Context(), &Options{})) == 0 {
		t.Skip("no PostgreSQL server binaries on PATH or in /usr/lib/postgresql")
	}
	port := freePort(t)
	o, logs := testOptions(t, project, map[string]string{"RECUR_PG_PORT": strconv.Itoa(port)})
	o.binDirs = nil // the real search
	return o, logs, port
}

func freePort(t *testing.T) int {
	_, port, _ := strings.Cut(closedAddr(t), ":")
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	return p
}

// stopAtCleanup stops, hard, a cluster a failed test left running in dir.
func stopAtCleanup(t *testing.T, dir string) {
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, dataName, "postmaster.pid")); err != nil {
			return
		}
		c := &cluster{o: &Options{Logger: slog.Default()}, dir: dir}
		c.acct, _ = serverAccount()
		c.bin = findBinaries(context.Background(), &Options{})[0].dir
		t.Log("stopping the cluster left in", dir, c.pgctl(context.Background(), "stop", "-D", c.data(), "-m", "immediate"))
	})
}

func selectOne(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), "select 1").Scan(&one))
	require.Equal(t, 1, one)
}

func postmasterPIDOf(t *testing.T, dir string) int {
	t.Helper()
	pm, err := readPostmasterPID(filepath.Join(dir, dataName))
	require.NoError(t, err)
	return pm.pid
}

func requireStopped(t *testing.T, db *database) {
	t.Helper()
	require.NoFileExists(t, filepath.Join(db.dir, dataName, "postmaster.pid"))
	conn, err := pgx.Connect(t.Context(), db.url)
	if err == nil {
		conn.Close(t.Context())
	}
	require.Error(t, err, "the cluster still answers")
}

// A plain t.TempDir() sits in a mode 700 folder. When the test runs as
// root, the server runs as another user, which cannot enter it: the
// cluster must go to the temp-dir fallback. Otherwise it goes to .recur/pg.
func TestClusterLifecycle(t *testing.T) {
	project := t.TempDir()
	o, _, port := clusterOptions(t, project)
	ctx := t.Context()

	want := filepath.Join(project, ".recur", "pg")
	if os.Geteuid() == 0 {
		want = fallbackDir(project)
		require.True(t, strings.HasPrefix(want, os.TempDir()+string(filepath.Separator)))
		t.Cleanup(func() { os.RemoveAll(want) })
	}
	stopAtCleanup(t, want)

	// Port taken: initdb works, the start fails and says why, on one line.
	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.NoError(t, err)
	_, err = ensure(ctx, o)
	require.ErrorContains(t, err, fmt.Sprintf("cannot start the local cluster on port %d (RECUR_PG_PORT picks another): FATAL: could not create any TCP/IP sockets", port))
	require.NotContains(t, err.Error(), "\n")
	require.NoError(t, taken.Close())

	first, err := ensure(ctx, o)
	require.NoError(t, err)
	require.True(t, first.started)
	require.Equal(t, want, first.dir)
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/recur?sslmode=disable", port), first.url)
	selectOne(t, first.url)
	pid := postmasterPIDOf(t, want)

	// A second Ensure while the first one's cluster is in use reuses it.
	var second *database
	done := make(chan error)
	go func() {
		var err error
		second, err = ensure(ctx, o)
		done <- err
	}()
	selectOne(t, first.url)
	require.NoError(t, <-done)
	require.False(t, second.started)
	require.Equal(t, first.url, second.url)
	require.Equal(t, pid, postmasterPIDOf(t, want))

	// A server answering on the default address is used as it is.
	o2 := o
	o2.probeAddr = fmt.Sprintf("127.0.0.1:%d", port)
	probed, err := ensure(ctx, o2)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), probed.url)
	require.Empty(t, probed.dir)
	selectOne(t, probed.url)
	require.NoError(t, probed.stop(ctx))

	// The starter leaves first: the cluster keeps running for the second.
	require.NoError(t, first.stop(ctx))
	selectOne(t, second.url)
	require.Equal(t, pid, postmasterPIDOf(t, want))

	// The last one out stops it, even with its context done, as
	// t.Context() is in a t.Cleanup.
	done2, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, second.stop(done2))
	requireStopped(t, second)
	require.NoError(t, second.stop(ctx), "stop twice")
}

// Several processes and goroutines call Ensure at once on a fresh project
// that the server user can reach: one initdb, one start, one cluster, which
// stops when the last of them stops.
func TestClusterConcurrentCallers(t *testing.T) {
	project := t.TempDir()
	// Open the mode 700 folder t.TempDir() made, so that the cluster can
	// live in the project even when the server runs as another user.
	require.NoError(t, os.Chmod(filepath.Dir(project), 0o755))
	want := filepath.Join(project, ".recur", "pg")
	if a, _ := serverAccount(); a != nil {
		if blocked := a.blockedAt(want); blocked != "" {
			t.Skipf("user %s cannot enter %s", a.name, blocked)
		}
	}
	o, logs, port := clusterOptions(t, project)
	stopAtCleanup(t, want)
	ctx := t.Context()

	type result struct {
		url     string
		started bool
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []result
		dbs     []*database
		stdins  []io.Closer
		procs   []*exec.Cmd
		stderrs []*bytes.Buffer
	)
	add := func(r result) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, r)
	}
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperProject+"="+project, helperPort+"="+strconv.Itoa(port), helperProbe+"="+o.probeAddr)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		stderr := &bytes.Buffer{}
		cmd.Stderr = stderr
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { stdin.Close(); cmd.Wait() })
		procs, stdins, stderrs = append(procs, cmd), append(stdins, stdin), append(stderrs, stderr)
		wg.Go(func() {
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			url, state, _ := strings.Cut(strings.TrimSpace(line), " ")
			add(result{url, state == "started"})
		})
	}
	for range 2 {
		wg.Go(func() {
			db, err := ensure(ctx, o)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			dbs = append(dbs, db)
			mu.Unlock()
			add(result{db.url, db.started})
		})
	}
	wg.Wait()
	require.Len(t, dbs, 2)

	wantURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/recur?sslmode=disable", port)
	starters := 0
	for i, r := range results {
		require.Equal(t, wantURL, r.url, "caller %d (helper stderr: %s %s)", i, stderrs[0], stderrs[1])
		if r.started {
			starters++
		}
	}
	require.Equal(t, 1, starters, "exactly one caller starts the cluster")
	require.Equal(t, want, dbs[0].dir)
	selectOne(t, wantURL)

	// The processes leave (one of them may have started the cluster).
	for i, cmd := range procs {
		require.NoError(t, stdins[i].Close())
		require.NoError(t, cmd.Wait(), "helper stderr: %s", stderrs[i])
	}
	selectOne(t, wantURL)

	// The goroutines leave; the last one stops the cluster.
	require.NoError(t, dbs[0].stop(ctx))
	selectOne(t, wantURL)
	require.NoError(t, dbs[1].stop(ctx))
	requireStopped(t, dbs[1])

	// The next Ensure starts the existing cluster again, without initdb.
	require.Equal(t, 1, strings.Count(logs.String()+stderrs[0].String()+stderrs[1].String(), "creating local cluster"))
	again, err := ensure(ctx, o)
	require.NoError(t, err)
	require.True(t, again.started)
	selectOne(t, again.url)
	require.Equal(t, 1, strings.Count(logs.String(), "creating local cluster")+
		strings.Count(stderrs[0].String()+stderrs[1].String(), "creating local cluster"))
	require.NoError(t, again.stop(ctx))
	requireStopped(t, again)
}
