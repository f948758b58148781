//go:build unix

package localpg

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Layout. Bookkeeping lives in <project>/.recur, which we can always write;
// the cluster folder (usually <project>/.recur/pg) belongs to the server user.
const (
	lockName  = "pg.lock"  // held exclusively around init, start and stop decisions
	usersName = "pg.users" // held shared by every Ensure until its stop
	ownerName = "localpg.pid"
	dataName  = "data"
	logName   = "postgres.log"
	confName  = "recur.conf" // rewritten before every start, included by postgresql.conf
)

// cluster is a throwaway cluster as seen by one Ensure call.
type cluster struct {
	o        *Options
	stateDir string   // <project>/.recur
	dir      string   // cluster folder: data dir, log, unix socket
	bin      string   // directory of initdb, pg_ctl and postgres
	acct     *account // whom to run the binaries as; nil: ourselves
}

func (c *cluster) data() string { return filepath.Join(c.dir, dataName) }

func ensureCluster(ctx context.Context, o *Options) (*database, error) {
	bins := findBinaries(ctx, o)
	if len(bins) == 0 {
		return nil, ErrNoPostgres
	}
	port, err := clusterPort(o)
	if err != nil {
		return nil, err
	}
	c := &cluster{o: o, stateDir: filepath.Join(o.ProjectDir, ".recur")}
	if err := os.MkdirAll(c.stateDir, 0o755); err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	lock, err := c.lock(ctx, lockName, syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer lock.Close()

	if c.acct, err = serverAccount(); err != nil {
		return nil, err
	}
	if c.dir, err = c.chooseDir(); err != nil {
		return nil, err
	}
	version := readVersion(c.data())
	if c.bin, err = pickBinaries(bins, version, c.data()); err != nil {
		return nil, err
	}
	if version == "" {
		if err := c.initdb(ctx); err != nil {
			return nil, err
		}
	}

	running, err := c.running(ctx)
	if err != nil {
		return nil, err
	}
	db := &database{dir: c.dir}
	if !running {
		if err := c.start(ctx, port); err != nil {
			return nil, err
		}
		db.started = true
	}
	pm, err := readPostmasterPID(c.data())
	if err == nil {
		db.url = fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", pm.addr(), DatabaseName)
		err = createDatabase(ctx, pm.addr())
	}
	if err == nil {
		var users *os.File
		if users, err = c.lock(ctx, usersName, syscall.LOCK_SH); err == nil {
			db.stop = c.stopFunc(users)
		}
	}
	if err != nil {
		if db.started {
			_ = c.pgctl(context.WithoutCancel(ctx), "stop", "-D", c.data(), "-m", "fast", "-w", "-s")
		}
		return nil, err
	}
	if db.started {
		o.Logger.Info("postgres: started local cluster", "url", db.url, "dir", c.dir)
	} else {
		o.Logger.Info("postgres: using running local cluster", "url", db.url)
	}
	return db, nil
}

func clusterPort(o *Options) (int, error) {
	s := o.Getenv("RECUR_PG_PORT")
	if s == "" {
		return DefaultPort, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("localpg: RECUR_PG_PORT=%q is not a port number", s)
	}
	return p, nil
}

// lock opens .recur/name and flocks it. Closing the file releases the lock,
// and so does the kernel when the process dies. flock locks belong to the
// open file, so two calls in one process exclude each other like two
// processes do. The file descriptor is close-on-exec: the server we start
// does not inherit it.
func (c *cluster) lock(ctx context.Context, name string, how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.stateDir, name), os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localpg: %w", err)
	}
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("localpg: lock %s: %w", f.Name(), err)
		}
		if !logged {
			c.o.Logger.Debug("postgres: waiting for another process", "lock", f.Name())
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopTimeout bounds a stop: waiting for the lock, then pg_ctl stop -t 60.
const stopTimeout = 75 * time.Second

// stopFunc returns the stop function of an Ensure call that holds users
// shared. The last user out stops the cluster, provided localpg started it:
// a cluster someone started by hand is left alone.
func (c *cluster) stopFunc(users *os.File) func(context.Context) error {
	var (
		once sync.Once
		err  error
	)
	return func(ctx context.Context) error {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
			defer cancel()
			err = c.release(ctx, users)
		})
		return err
	}
}

func (c *cluster) release(ctx context.Context, users *os.File) error {
	lock, err := c.lock(ctx, lockName, syscall.LOCK_EX)
	users.Close() // whatever happens, we no longer use the cluster
	if err != nil {
		return err
	}
	defer lock.Close()

	f, err := os.Open(users.Name())
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			c.o.Logger.Info("postgres: local cluster still in use elsewhere, leaving it running")
			return nil
		}
		return fmt.Errorf("localpg: lock %s: %w", f.Name(), err)
	}
	if !c.startedByUs() {
		return nil
	}
	if err := c.pgctl(ctx, "stop", "-D", c.data(), "-m", "fast", "-w", "-t", "60", "-s"); err != nil {
		return err
	}
	os.Remove(filepath.Join(c.dir, ownerName))
	c.o.Logger.Info("postgres: stopped local cluster")
	return nil
}

// startedByUs reports whether the running postmaster is the one some
// Ensure started (it wrote its pid next to the data dir).
func (c *cluster) startedByUs() bool {
	owner, err := os.ReadFile(filepath.Join(c.dir, ownerName))
	if err != nil {
		return false
	}
	pm, err := readPostmasterPID(c.data())
	return err == nil && strings.TrimSpace(string(owner)) == strconv.Itoa(pm.pid)
}

// --- where the cluster lives and who runs it

// account is the unprivileged user that runs the binaries when we are
// root: initdb, pg_ctl and postgres all refuse to run as root.
type account struct {
	name     string
	uid, gid uint32
	groups   []uint32
}

func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		a := &account{name: name}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		a.uid, a.gid = uint32(uid), uint32(gid)
		ids, _ := u.GroupIds()
		for _, s := range ids {
			if g, err := strconv.ParseUint(s, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(g))
			}
		}
		if !slices.Contains(a.groups, a.gid) {
			a.groups = append(a.groups, a.gid)
		}
		return a, nil
	}
	return nil, errors.New("localpg: running as root, and PostgreSQL refuses to: create a postgres user or set DATABASE_URL")
}

// chooseDir returns the cluster folder, created and owned by the server
// user: <project>/.recur/pg, or, when we are root and that user cannot reach
// it (say, a project under /root), a folder in the temp dir named after the
// project.
func (c *cluster) chooseDir() (string, error) {
	dir := filepath.Join(c.stateDir, "pg")
	trusted := true
	if c.acct != nil {
		if blocked := c.acct.blockedAt(filepath.Dir(dir)); blocked != "" {
			dir = fallbackDir(c.o.ProjectDir)
			trusted = false
			level := slog.LevelInfo // said once, when the folder is new
			if _, err := os.Lstat(dir); err == nil {
				level = slog.LevelDebug
			}
			c.o.Logger.Log(context.Background(), level, "postgres: user "+c.acct.name+" cannot reach the project, keeping the cluster in the temp dir",
				"blocked", blocked, "dir", dir)
			if blocked := c.acct.blockedAt(filepath.Dir(dir)); blocked != "" {
				return "", fmt.Errorf("localpg: user %s cannot reach %s either (blocked at %s): set DATABASE_URL", c.acct.name, dir, blocked)
			}
		}
	}
	if err := c.prepareDir(dir, trusted); err != nil {
		return "", fmt.Errorf("localpg: %w", err)
	}
	return dir, nil
}

// fallbackDir is the cluster folder for project in the temp dir.
func fallbackDir(project string) string {
	sum := sha256.Sum256([]byte(project))
	return filepath.Join(os.TempDir(), "recur-pg-"+hex.EncodeToString(sum[:6]))
}

// blockedAt returns the first directory on the way to dir (included) that
// a cannot search, or "". It goes by the mode bits (ACLs are ignored);
// missing directories are ones we will create, searchable.
func (a *account) blockedAt(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			perm := fi.Mode().Perm()
			var ok bool
			switch {
			case st.Uid == a.uid:
				ok = perm&0o100 != 0
			case slices.Contains(a.groups, st.Gid):
				ok = perm&0o010 != 0
			default:
				ok = perm&0o001 != 0
			}
			if !ok {
				return d
			}
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

// prepareDir creates dir (mode 700) and gives it to the server user. A
// folder owned by someone else is taken over only inside the project; in
// the shared temp dir it is refused.
func (c *cluster) prepareDir(dir string, trusted bool) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if c.acct == nil {
		return nil
	}
	owner := fi.Sys().(*syscall.Stat_t).Uid
	if owner != c.acct.uid {
		if !trusted && owner != 0 {
			return fmt.Errorf("%s belongs to uid %d, not %s: remove it", dir, owner, c.acct.name)
		}
		err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(c.acct.uid), int(c.acct.gid))
		})
		if err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o700)
}

// --- binaries

type binDir struct {
	dir   string
	major string // "15"
}

// findBinaries lists the directories holding initdb, pg_ctl and postgres:
// the one on PATH first, then /usr/lib/postgresql/*/bin, highest version
// first.
func findBinaries(ctx context.Context, o *Options) []binDir {
	var dirs []string
	if o.binDirs != nil {
		dirs = o.binDirs()
	} else {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			if p, err := filepath.EvalSymlinks(p); err == nil {
				dirs = append(dirs, filepath.Dir(p))
			}
		}
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, found...)
	}
	var bins []binDir
	for _, d := range dirs {
		if slices.ContainsFunc(bins, func(b binDir) bool { return b.dir == d }) || !hasBinaries(d) {
			continue
		}
		out, err := exec.CommandContext(ctx, filepath.Join(d, "postgres"), "-V").Output()
		if m := versionRE.FindSubmatch(out); err == nil && m != nil {
			bins = append(bins, binDir{dir: d, major: string(m[1])})
		}
	}
	return bins
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// versionOf returns N for /usr/lib/postgresql/N/bin.
func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// pickBinaries returns the first directory, or for an existing cluster the
// first one of the major version that created it.
func pickBinaries(bins []binDir, version, data string) (string, error) {
	if version == "" {
		return bins[0].dir, nil
	}
	for _, b := range bins {
		if b.major == version {
			return b.dir, nil
		}
	}
	return "", fmt.Errorf("localpg: the cluster in %s was made by PostgreSQL %s, whose binaries are gone: install them, or delete the folder to start afresh", data, version)
}

// readVersion returns the major version of the cluster in data, or "" if
// there is none.
func readVersion(data string) string {
	b, err := os.ReadFile(filepath.Join(data, "PG_VERSION"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// --- running the binaries

// run runs one of the binaries as the server user, in the cluster folder,
// without the caller's PG* variables (PGDATA, PGPORT, ... would fight our
// flags). On failure the error carries the tail of the output.
func (c *cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if c.acct != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: c.acct.uid, Gid: c.acct.gid, Groups: c.acct.groups}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &runError{cmd: name + " " + args[0], err: err, out: out.String()}
	}
	return nil
}

type runError struct {
	cmd, out string
	err      error
}

func (e *runError) Error() string {
	return fmt.Sprintf("localpg: %s: %v: %s", e.cmd, e.err, lastLine(e.out))
}

func (e *runError) Unwrap() error { return e.err }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (c *cluster) pgctl(ctx context.Context, args ...string) error {
	return c.run(ctx, "pg_ctl", args...)
}

// initdb makes a cluster in data.tmp and renames it to data, so that a
// half-made cluster is never mistaken for a good one.
func (c *cluster) initdb(ctx context.Context) error {
	tmp := c.data() + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	c.o.Logger.Info("postgres: creating local cluster", "dir", c.dir)
	// trust is fine: the server listens on 127.0.0.1 and on a unix socket
	// in a folder only the server user can enter.
	err := c.run(ctx, "initdb", "-D", tmp, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	if err != nil {
		return err
	}
	conf, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = fmt.Fprintf(conf, "\n# Added by recur: settings rewritten before every start.\ninclude_if_exists '%s'\n", confName)
		if cerr := conf.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, c.data())
	}
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	return nil
}

// running asks pg_ctl whether the cluster runs.
func (c *cluster) running(ctx context.Context) (bool, error) {
	err := c.pgctl(ctx, "status", "-D", c.data())
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && exit.ExitCode() == 3: // not running
		return false, nil
	default:
		return false, err
	}
}

func (c *cluster) start(ctx context.Context, port int) error {
	// The unix socket goes in the cluster folder, unless its path would be
	// too long for sun_path (or unquotable): then TCP only.
	sockets := c.dir
	if len(filepath.Join(c.dir, ".s.PGSQL.65535")) >= 104 || strings.ContainsAny(c.dir, ",\\'\n") {
		sockets = ""
	}
	// The test suite runs many databases and recur processes at once: 100 connections is short.
	conf := fmt.Sprintf("# Written by recur before every start; edits are lost.\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = 400\n",
		port, sockets)
	confPath := filepath.Join(c.data(), confName)
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if c.acct != nil {
		if err := os.Chown(confPath, int(c.acct.uid), int(c.acct.gid)); err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
	}
	logPath := filepath.Join(c.dir, logName)
	var logStart int64
	if fi, err := os.Stat(logPath); err == nil {
		logStart = fi.Size()
	}
	if err := c.pgctl(ctx, "start", "-D", c.data(), "-l", logPath, "-w", "-t", "60", "-s"); err != nil {
		if ctx.Err() != nil {
			return err
		}
		why := fatalLine(logPath, logStart)
		if why == "" {
			why = err.Error()
		}
		return fmt.Errorf("localpg: cannot start the local cluster on port %d (RECUR_PG_PORT picks another): %s (log: %s)", port, why, logPath)
	}
	pm, err := readPostmasterPID(c.data())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, ownerName), []byte(strconv.Itoa(pm.pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	return nil
}

// fatalLine returns the first FATAL message the server logged after
// offset, or "".
func fatalLine(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	for line := range strings.Lines(string(b[offset:])) {
		if _, msg, ok := strings.Cut(line, "FATAL:"); ok {
			return "FATAL: " + strings.Join(strings.Fields(msg), " ")
		}
	}
	return ""
}

// postmaster is what postmaster.pid says about the running server.
type postmaster struct {
	pid  int
	port int
	host string
}

func (p postmaster) addr() string { return fmt.Sprintf("%s:%d", p.host, p.port) }

// readPostmasterPID reads data/postmaster.pid: pid, data dir, start time,
// port, socket dir, listen address, ...
func readPostmasterPID(data string) (postmaster, error) {
	f, err := os.Open(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return postmaster{}, fmt.Errorf("localpg: %w", err)
	}
	defer f.Close()
	var lines []string
	for s := bufio.NewScanner(f); s.Scan(); {
		lines = append(lines, strings.TrimSpace(s.Text()))
	}
	var pm postmaster
	if len(lines) >= 6 {
		pm.pid, _ = strconv.Atoi(lines[0])
		pm.port, _ = strconv.Atoi(lines[3])
		pm.host, _, _ = strings.Cut(lines[5], ",")
		pm.host = strings.TrimSpace(pm.host)
	}
	switch pm.host {
	case "*", "0.0.0.0", "localhost":
		pm.host = "127.0.0.1"
	case "::", "::1":
		pm.host = "[::1]"
	}
	if pm.pid <= 0 || pm.port <= 0 || pm.host == "" {
		return postmaster{}, fmt.Errorf("localpg: %s: cluster not listening on TCP", f.Name())
	}
	return pm, nil
}

// createDatabase creates the recur database if it is missing. Callers hold
// the lock, so no two of them race; a duplicate is accepted all the same.
func createDatabase(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable")
	if err != nil {
		return fmt.Errorf("localpg: local cluster: %s", oneLine(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", DatabaseName).Scan(&exists); err != nil {
		return fmt.Errorf("localpg: local cluster: %s", oneLine(err))
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{DatabaseName}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
		return fmt.Errorf("localpg: create database %s: %s", DatabaseName, oneLine(err))
	}
	return nil
}
