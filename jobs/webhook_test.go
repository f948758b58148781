package jobs

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestDispatchNeverSkipsNorDoubles appends events from concurrent transactions that commit (or
// roll back) in another order than they began, while several dispatchers run passes with small
// batches at once. In the end every committed event has exactly one delivery, with one job, per
// enabled endpoint subscribed to its type, and nothing else has one.
func TestDispatchNeverSkipsNorDoubles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewDB(t)
	logger := slog.New(slog.DiscardHandler)
	client, err := NewClient(Deps{Pool: pool, Clock: billing.SystemClock{}, Logger: logger}, Config{InsertOnly: true})
	require.NoError(t, err)
	workCtx := rivertest.WorkContext(ctx, client)
	sub := storetest.Subscription(t, pool, storetest.SubscriptionOpts{})
	now := sub.CreatedAt
	endpoint := func(enabled bool, types ...string) billing.WebhookEndpoint {
		e := billing.WebhookEndpoint{ID: billing.NewID(), URL: "https://example.com/", EventTypes: types, Enabled: enabled,
			CreatedAt: now, UpdatedAt: now}
		require.NoError(t, store.CreateWebhookEndpoint(ctx, pool, e, billing.NewWebhookSecret()))
		return e
	}
	all, paused := endpoint(true, billing.AllEvents), endpoint(true, string(billing.EventSubscriptionPaused))
	endpoint(false, billing.AllEvents)

	var mu sync.Mutex
	committed := map[billing.EventType]int{}
	var writers sync.WaitGroup
	for w := range 12 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 10 {
				typ := []billing.EventType{billing.EventSubscriptionPaused, billing.EventSubscriptionResumed}[rng.IntN(2)]
				tx, err := pool.Begin(ctx)
				require.NoError(t, err)
				require.NoError(t, store.AppendEvent(ctx, tx, billing.SubscriptionEvent(typ, sub, now)))
				time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond) // others begin and commit meanwhile
				if rng.IntN(5) == 0 {
					require.NoError(t, tx.Rollback(ctx))
					continue
				}
				require.NoError(t, tx.Commit(ctx))
				mu.Lock()
				committed[typ]++
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	var dispatchers sync.WaitGroup
	dispatch := func(batch int) error {
		w := &DispatchEventsWorker{deps: Deps{Pool: pool, Clock: billing.SystemClock{}, Logger: logger}, batchSize: batch}
		return w.Work(workCtx, &river.Job[DispatchEventsArgs]{})
	}
	for d := range 3 {
		dispatchers.Add(1)
		go func() {
			defer dispatchers.Done()
			for {
				select {
				case <-done:
					return
				default:
					require.NoError(t, dispatch(1+d))
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	dispatchers.Wait()

	want := map[string]int{all.ID.String(): committed[billing.EventSubscriptionPaused] + committed[billing.EventSubscriptionResumed],
		paused.ID.String(): committed[billing.EventSubscriptionPaused]}
	// Writing transactions of other tests on the same server (in other databases too: xids are
	// the server's) hold the last events back until they end, longer on a loaded machine.
	require.Eventually(t, func() bool {
		require.NoError(t, dispatch(7))
		return deliveriesByEndpoint(t, pool)[all.ID.String()] == want[all.ID.String()]
	}, time.Minute, 20*time.Millisecond)
	require.Equal(t, want, deliveriesByEndpoint(t, pool))

	var doubled, jobs, deliveries int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT FROM webhook_deliveries GROUP BY event_id, endpoint_id HAVING count(*) > 1) d`).Scan(&doubled))
	require.Zero(t, doubled)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'deliver_webhook'`).Scan(&jobs))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&deliveries))
	require.Equal(t, deliveries, jobs, "one job per delivery")
}

// deliveriesByEndpoint counts the deliveries of each endpoint that has any.
func deliveriesByEndpoint(t *testing.T, db store.DBTX) map[string]int {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT endpoint_id::text, count(*) FROM webhook_deliveries GROUP BY 1`)
	require.NoError(t, err)
	counts := map[string]int{}
	var id string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		counts[id] = n
		return nil
	})
	require.NoError(t, err)
	return counts
}

// TestDeliveryRefusesNoReceiverAddresses: the delivery client refuses to connect to a
// link-local, multicast or unspecified address. It checks the address it connects to, after DNS,
// so a name that resolves to one is refused too.
func TestDeliveryRefusesNoReceiverAddresses(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"169.254.169.254:80", "[fe80::1]:80", "0.0.0.0:80", "[::]:80", "224.0.0.1:80", "[::ffff:169.254.169.254]:80"} {
		require.ErrorContains(t, refuseNoReceiver("tcp", addr, nil), "refused", addr)
	}
	require.NoError(t, refuseNoReceiver("tcp", "127.0.0.1:80", nil))
	require.NoError(t, refuseNoReceiver("tcp", "10.0.0.1:443", nil))

	client := newDeliverWebhookWorker(Deps{}, Config{WebhookTimeout: 30 * time.Second}).client
	client.Transport.(*http.Transport).Proxy = nil // connect, whatever the environment says
	_, err := client.Post("http://169.254.169.254/latest/meta-data/", "application/json", nil)
	require.ErrorContains(t, err, "169.254.169.254:80 is link-local, multicast or unspecified: refused")
}
