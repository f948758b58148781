package api_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// smallBuffers makes connections with 16 KiB socket buffers: dialled ones receive, accepted ones
// send through one. A reader that stops reading then holds up its sender after a little data
// rather than after the MiBs that loopback buffers grow to. widen gives them large buffers again,
// so that the rest flows fast.
type smallBuffers struct {
	net.Listener // accepts connections with a small send buffer
	mu           sync.Mutex
	conns        []*net.TCPConn
}

func (s *smallBuffers) keep(c net.Conn, set func(*net.TCPConn) error) error {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	s.mu.Lock()
	s.conns = append(s.conns, tcp)
	s.mu.Unlock()
	return set(tcp)
}

func (s *smallBuffers) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		err = s.keep(c, func(c *net.TCPConn) error { return c.SetReadBuffer(16 << 10) })
	}
	return c, err
}

// Accept accepts a connection of the listener with a small send buffer.
func (s *smallBuffers) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err == nil {
		err = s.keep(c, func(c *net.TCPConn) error { return c.SetWriteBuffer(16 << 10) })
	}
	return c, err
}

func (s *smallBuffers) widen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		// These fail on connections already closed, which need nothing.
		_ = c.SetReadBuffer(8 << 20)
		_ = c.SetWriteBuffer(8 << 20)
	}
}

// TestCSVExportStreamsFromTheDatabase downloads the charges of a run of 100,000 as CSV and stops
// reading after the first row: the rows come as PostgreSQL sends them, so it is then still
// sending (blocked writing to the server), and the rest follows when the client reads on. An
// export that collected its rows first would have finished its query before the first byte.
// The rows (some 20 MB from PostgreSQL) are several times what its socket buffer can hold.
func TestCSVExportStreamsFromTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const charges = 100_000
	cfg, err := pgxpool.ParseConfig(storetest.NewURL(t))
	require.NoError(t, err)
	small := &smallBuffers{}
	cfg.ConnConfig.DialFunc = small.dial
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(db.Close)

	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	start := time.Date(2026, time.January, 31, 10, 0, 0, 0, time.UTC)
	run := billing.BillingRun{ID: billing.NewID(), AsOf: start, StartedAt: start}
	require.NoError(t, store.CreateBillingRun(ctx, db, run))
	_, err = db.Exec(ctx, `
		INSERT INTO charges (id, customer_id, payment_method_id, subscription_id, billing_run_id, period_index,
			period_start, period_end, amount, currency, channel, status, failure_code, failure_reason, created_at, updated_at)
		SELECT gen_random_uuid(), $1, $2, $3, $4, i, $5::timestamptz + i * interval '1 day', $5::timestamptz + (i + 1) * interval '1 day',
			1000 + i % 500, 'EUR', 'RECURRING', 'failed', 'AUTHORIZATION_DECLINED', 'declined by the issuer', $5::timestamptz, $5::timestamptz
		FROM generate_series(0, $6::int - 1) i`, sub.CustomerID, sub.PaymentMethodID, sub.ID, run.ID, start, charges)
	require.NoError(t, err)

	clock := billing.NewManualClock(start)
	key, err := api.CreateAPIKeyWithRole(ctx, db, "finance", api.RoleFinance, clock)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(api.New(api.Deps{Pool: db, Clock: clock, Logger: slog.New(slog.DiscardHandler)}))
	small.Listener, srv.Listener = srv.Listener, small
	srv.Start()
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{DialContext: small.dial}}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/reports/billing_runs/"+run.ID.String()+"/charges", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/csv")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	defer small.widen() // a failing test closes the body: let the server drain the rest quickly
	require.Equal(t, http.StatusOK, resp.StatusCode)

	body := bufio.NewReader(resp.Body)
	header, err := body.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(header, "charge_id,billing_run_id,"), header)
	first, err := body.ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, first, "AUTHORIZATION_DECLINED")

	require.Eventually(t, func() bool {
		var sending bool
		require.NoError(t, db.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
				AND state = 'active' AND wait_event = 'ClientWrite' AND query LIKE '%FROM charges c%')`).Scan(&sending))
		return sending
	}, 10*time.Second, 20*time.Millisecond, "PostgreSQL is still sending the export's rows after the first reached the client")

	small.widen()
	rest, err := io.ReadAll(body)
	require.NoError(t, err)
	require.Equal(t, charges-1, strings.Count(string(rest), "\n"), "every charge arrives")
}
