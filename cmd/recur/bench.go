package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/cmd/recur/internal/localpg"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
	"github.com/recur-billing/recur/jobs"
)

// benchCmd measures the billing pipeline on this machine: N subscriptions due at the same moment
// go through the real scheduler, River workers, EGW client and simulator; two plain River
// workloads on the same PostgreSQL give the yardsticks; EXPLAIN checks the due-subscription query
// on a large table. Every measurement gets a fresh database, dropped afterwards.
func benchCmd(ctx context.Context, cfg config, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 100_000, "subscriptions due at the same moment")
	latencies := fs.String("latency", "0s,50ms", "simulator latencies, comma-separated: one pipeline run each")
	workers := fs.Int("workers", cfg.Jobs.MaxWorkers, "jobs worked at once (RECUR_MAX_WORKERS)")
	planRows := fs.Int("plan-rows", 1_000_000, "subscriptions for the due-query plan check (0 skips it)")
	timeout := fs.Duration("timeout", 20*time.Minute, "longest wait for one measurement")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the pipeline runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	lats, err := parseDurations(*latencies)
	if err != nil {
		return fmt.Errorf("--latency: %w", err)
	}
	if *n < 1 || *workers < 1 {
		return errors.New("--n and --workers must be at least 1")
	}
	log := cfg.logger()
	adminURL, stopDB, err := localpg.Ensure(ctx, localpg.Options{Logger: log, Getenv: getenv})
	if err != nil {
		return err
	}
	defer stopDB(context.WithoutCancel(ctx)) //nolint:errcheck // stopping a throwaway cluster
	b := &bench{cfg: cfg, adminURL: adminURL, n: *n, workers: *workers, timeout: *timeout, log: log, out: stdout}
	b.cfg.Jobs.MaxWorkers = *workers
	b.printf("recur bench: %d subscriptions due at once; %d workers and %d database connections in one process\n",
		b.n, b.workers, cfg.DBMaxConns)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var pipelines []pipelineResult
	for _, lat := range lats {
		r, err := b.pipeline(ctx, lat)
		if err != nil {
			pprof.StopCPUProfile()
			return fmt.Errorf("pipeline at %s: %w", lat, err)
		}
		pipelines = append(pipelines, r)
	}
	pprof.StopCPUProfile()
	rss, err := peakRSS()
	if err != nil {
		b.printf("peak RSS: unknown (%v)\n", err)
	} else {
		b.printf("peak RSS of this process through the pipeline runs (simulator included): %.0f MB\n", float64(rss)/(1<<20))
	}

	noop, err := b.baseline(ctx, "no-op", func(int) river.JobArgs { return benchNoopArgs{} })
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	updates, err := b.baseline(ctx, "two UPDATEs in a transaction", func(i int) river.JobArgs {
		return benchUpdateArgs{A: i % benchRows, B: (i + benchRows/2) % benchRows}
	})
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	for _, p := range pipelines {
		b.printf("pipeline at %s: %.0f charges/s = %.3f of River no-op jobs, %.3f of River two-UPDATE jobs\n",
			p.latency, p.rate, p.rate/noop, p.rate/updates)
	}
	if *planRows > 0 {
		if err := b.plan(ctx, *planRows); err != nil {
			return fmt.Errorf("plan check: %w", err)
		}
	}
	return nil
}

// bench holds what every measurement shares.
type bench struct {
	cfg      config
	adminURL string // a database on the server, for creating and dropping the measured ones
	n        int
	workers  int
	timeout  time.Duration
	log      *slog.Logger
	out      io.Writer
}

func (b *bench) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

// freshDB creates and migrates a database of its own and returns a pool on it and a function that
// closes the pool and drops the database.
func (b *bench) freshDB(ctx context.Context) (*pgxpool.Pool, func(), error) {
	admin, err := pgx.Connect(ctx, b.adminURL)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the database server: %w", err)
	}
	name := "recur_bench_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return nil, nil, err
	}
	drop := func() {
		ctx := context.WithoutCancel(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			b.log.Warn("bench: drop database", slog.String("database", name), slog.Any("error", err))
		}
		admin.Close(ctx)
	}
	cfg := b.cfg
	cfg.DatabaseURL, err = store.DatabaseURL(b.adminURL, name)
	if err == nil {
		var pool *pgxpool.Pool
		if pool, err = openMigrated(ctx, cfg, b.log, true); err == nil {
			return pool, func() { pool.Close(); drop() }, nil
		}
	}
	drop()
	return nil, nil, err
}

// pipelineResult is what one pipeline run measured.
type pipelineResult struct {
	latency time.Duration
	rate    float64 // charges captured per second, from the start to the last capture
}

// pipeline runs the workers on b.n subscriptions that all fall due at one moment, through a
// simulator answering after latency, and reports how long until their charges were enqueued and
// captured. The workers are already running (their first scheduler pass done) when the
// subscriptions fall due, so the figures include the wait for the next pass, as in production.
func (b *bench) pipeline(ctx context.Context, latency time.Duration) (pipelineResult, error) {
	res := pipelineResult{latency: latency}
	pool, drop, err := b.freshDB(ctx)
	if err != nil {
		return res, err
	}
	defer drop()
	sim := egwsim.New(egwsim.Options{Latency: latency}, b.log)
	seeded := time.Now()
	notYet := seeded.AddDate(100, 0, 0)
	err = seed(ctx, pool, b.n, func(int) time.Time { return notYet }, func(tokenID string) {
		sim.AddToken(egwsim.Token{Token: gateway.Token{ID: tokenID, Status: gateway.TokenActive,
			Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "0005", ExpiryMonth: 12, ExpiryYear: 2099}})
	})
	if err != nil {
		return res, err
	}
	b.printf("\npipeline, simulator latency %s (seeded %d subscriptions with COPY in %s)\n", latency, b.n, since(seeded))

	simURL, stopSim, err := serveSimulator(sim)
	if err != nil {
		return res, err
	}
	defer stopSim()
	gw, err := egw.New(simulatorConfig(simURL), b.log)
	if err != nil {
		return res, err
	}
	a, err := newApp(pool, gw, billing.SystemClock{}, b.log, b.cfg.Jobs, modeWorker, "")
	if err != nil {
		return res, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- a.serve(runCtx, ln) }()
	var due time.Time
	err = b.waitUntil(ctx, func() (bool, error) {
		var passes int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND state = 'completed'`,
			jobs.BillDueSubscriptionsArgs{}.Kind()).Scan(&passes)
		return passes > 0, err
	})
	if err == nil {
		_, err = pool.Exec(ctx, `UPDATE subscriptions SET anchor_at = now(), next_billing_at = now()`)
		due = time.Now()
	}
	if err == nil {
		err = b.waitUntil(ctx, func() (bool, error) {
			settled, err := settledCharges(ctx, pool)
			return settled >= b.n, err
		})
	}
	stop()
	if serveErr := <-served; err == nil {
		err = serveErr
	}
	if err != nil {
		return res, err
	}

	var run struct {
		created           int
		started, finished time.Time
	}
	err = pool.QueryRow(ctx, `SELECT sum(charges_created), min(started_at), max(finished_at) FROM billing_runs`).
		Scan(&run.created, &run.started, &run.finished)
	if err != nil {
		return res, err
	}
	enqueued := run.finished.Sub(due)
	b.printf("  billing run, due -> enqueued:   %d charges in %s = %.0f charges/s (the pass itself %s)\n",
		run.created, round(enqueued), float64(run.created)/enqueued.Seconds(), round(run.finished.Sub(run.started)))

	var succeeded int
	var p50, p99, last float64
	err = pool.QueryRow(ctx, `
		SELECT count(*),
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - $1)),
			percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - $1)),
			max(extract(epoch FROM updated_at - $1))
		FROM charges WHERE status = 'succeeded'`, due).Scan(&succeeded, &p50, &p99, &last)
	if err != nil {
		return res, err
	}
	res.rate = float64(succeeded) / last
	b.printf("  end to end, due -> captured:    %d charges in %.1fs = %.0f charges/s; p50 %.1fs, p99 %.1fs after due\n",
		succeeded, last, res.rate, p50, p99)
	if succeeded != b.n {
		b.printf("  %d charges did not succeed\n", b.n-succeeded)
	}
	return res, nil
}

// settledCharges counts the charges in a final state.
func settledCharges(ctx context.Context, db store.DBTX) (int, error) {
	rows, err := db.Query(ctx, `SELECT status, count(*) FROM charges GROUP BY status`)
	if err != nil {
		return 0, err
	}
	var status billing.ChargeStatus
	var count, settled int
	_, err = pgx.ForEachRow(rows, []any{&status, &count}, func() error {
		if status.Terminal() {
			settled += count
		}
		return nil
	})
	return settled, err
}

// waitUntil polls done every quarter of a second until it reports true, fails, or b.timeout passes.
func (b *bench) waitUntil(ctx context.Context, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", b.timeout)
		case <-tick.C:
		}
	}
}

// seed stores n customers, each with a payment method and an active monthly subscription whose
// next period starts at dueAt(i), with COPY. addToken is told each payment method's token id.
func seed(ctx context.Context, pool *pgxpool.Pool, n int, dueAt func(i int) time.Time, addToken func(tokenID string)) error {
	now := time.Now()
	customers, methods := make([]uuid.UUID, n), make([]uuid.UUID, n)
	for i := range n {
		customers[i], methods[i] = billing.NewID(), billing.NewID()
	}
	copyRows := func(table string, columns []string, row func(i int) []any) error {
		i := 0
		_, err := pool.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			i++
			return row(i - 1), nil
		}))
		if err != nil {
			return fmt.Errorf("copy %s: %w", table, err)
		}
		return nil
	}
	err := copyRows("customers", []string{"id", "external_id", "email", "name", "created_at"}, func(i int) []any {
		return []any{customers[i], "bench_" + strconv.Itoa(i), "bench@example.com", "Bench", now}
	})
	if err != nil {
		return err
	}
	err = copyRows("payment_methods", []string{"id", "customer_id", "gateway_token_id", "brand", "last4", "exp_month",
		"exp_year", "purposes", "created_at", "updated_at"}, func(i int) []any {
		token := "tok_bench_" + strconv.Itoa(i)
		if addToken != nil {
			addToken(token)
		}
		return []any{methods[i], customers[i], token, "MASTERCARD", "0005", 12, 2099, []string{"SUBSCRIPTION"}, now, now}
	})
	if err != nil {
		return err
	}
	return copyRows("subscriptions", []string{"id", "customer_id", "payment_method_id", "amount", "currency",
		"billing_interval", "interval_count", "status", "anchor_at", "next_period", "next_billing_at", "created_at",
		"updated_at"}, func(i int) []any {
		due := dueAt(i)
		return []any{billing.NewID(), customers[i], methods[i], int64(1250), "EUR", "month", 1, "active", due, 0, due, now, now}
	})
}

// benchRows is the size of the table that the two-UPDATE baseline jobs update.
const benchRows = 10_000

// benchNoopArgs is a baseline job that does nothing.
type benchNoopArgs struct{}

// Kind names the job in River.
func (benchNoopArgs) Kind() string { return "bench_noop" }

// benchUpdateArgs is a baseline job that updates rows A and B of bench_rows in one transaction.
type benchUpdateArgs struct {
	A int `json:"a"`
	B int `json:"b"`
}

// Kind names the job in River.
func (benchUpdateArgs) Kind() string { return "bench_two_updates" }

// baseline works b.n River jobs made by args, with the pipeline's workers and connections and
// River's shortest fetch cooldown, and returns the jobs completed per second.
func (b *bench) baseline(ctx context.Context, name string, args func(i int) river.JobArgs) (float64, error) {
	pool, drop, err := b.freshDB(ctx)
	if err != nil {
		return 0, err
	}
	defer drop()
	_, err = pool.Exec(ctx, `CREATE TABLE bench_rows (id int PRIMARY KEY, n bigint NOT NULL);
		INSERT INTO bench_rows SELECT i, 0 FROM generate_series(0, `+strconv.Itoa(benchRows-1)+`) AS i`)
	if err != nil {
		return 0, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[benchNoopArgs]) error { return nil }))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[benchUpdateArgs]) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, id := range []int{job.Args.A, job.Args.B} {
				if _, err := tx.Exec(ctx, `UPDATE bench_rows SET n = n + 1 WHERE id = $1`, id); err != nil {
					return err
				}
			}
			return nil
		})
	}))
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger: slog.New(slog.DiscardHandler),
		// River at its fastest: with its default cooldown (100ms), a queue fetches at most
		// MaxWorkers jobs per 100ms, which would measure the cooldown, not the machine.
		FetchCooldown: river.FetchCooldownMin,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: b.workers}},
		Workers:       workers,
	})
	if err != nil {
		return 0, err
	}
	const batch = 5_000
	for i := 0; i < b.n; i += batch {
		params := make([]river.InsertManyParams, 0, batch)
		for j := i; j < min(i+batch, b.n); j++ {
			params = append(params, river.InsertManyParams{Args: args(j)})
		}
		if _, err := rc.InsertMany(ctx, params); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	if err := rc.Start(ctx); err != nil {
		return 0, err
	}
	err = b.waitUntil(ctx, func() (bool, error) {
		var left int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state <> 'completed'`).Scan(&left)
		return left == 0, err
	})
	if stopErr := rc.Stop(context.WithoutCancel(ctx)); err == nil {
		err = stopErr
	}
	if err != nil {
		return 0, err
	}
	var last time.Time
	if err := pool.QueryRow(ctx, `SELECT max(finalized_at) FROM river_job`).Scan(&last); err != nil {
		return 0, err
	}
	rate := float64(b.n) / last.Sub(start).Seconds()
	b.printf("\nbaseline, River jobs that do %s: %d jobs in %s = %.0f jobs/s\n", name, b.n, round(last.Sub(start)), rate)
	return rate, nil
}

// plan stores rows subscriptions, a tenth of them due now and the rest over the coming month (a
// busy billing day), and checks that the scheduler's query reads the partial index, not the table.
func (b *bench) plan(ctx context.Context, rows int) error {
	pool, drop, err := b.freshDB(ctx)
	if err != nil {
		return err
	}
	defer drop()
	start := time.Now()
	month := 30 * 24 * time.Hour
	err = seed(ctx, pool, rows, func(i int) time.Time {
		if i < rows/10 {
			return start.Add(-time.Minute)
		}
		return start.Add(time.Duration(i) * month / time.Duration(rows))
	}, nil)
	if err != nil {
		return err
	}
	for _, sql := range []string{`UPDATE subscriptions SET status = 'canceled' WHERE random() < 0.1`, `VACUUM ANALYZE subscriptions`} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return err
		}
	}
	b.printf("\nplan of the due-subscription query on %d subscriptions, a tenth due now (seeded in %s):\n", rows, since(start))
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		explain := &explainingTx{Tx: tx}
		if _, err := store.LockDueSubscriptions(ctx, explain, start, 500); err != nil {
			return err
		}
		b.printf("%s", explain.plan)
		if strings.Contains(explain.plan, "Seq Scan on subscriptions") || !strings.Contains(explain.plan, "subscriptions_due") {
			return errors.New("the due-subscription query does not use the subscriptions_due index")
		}
		b.printf("  ok: an index scan on subscriptions_due, not a sequential scan\n")
		return nil
	})
}

// explainingTx is a transaction whose queries are EXPLAINed (with ANALYZE) before they run, so that
// the plan shown is the store's own query, not a copy of it.
type explainingTx struct {
	pgx.Tx
	plan string
}

// Query explains sql, keeps the plan, and runs sql.
func (t *explainingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.Tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		return nil, err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	t.plan += "  " + strings.Join(lines, "\n  ") + "\n"
	return t.Tx.Query(ctx, sql, args...)
}

// peakRSS reads this process's peak resident set size (Linux: VmHWM in /proc/self/status).
func peakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// parseDurations reads a comma-separated list of durations.
func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration such as 0s or 50ms", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func since(t time.Time) time.Duration { return round(time.Since(t)) }

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
