package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// recurBin is the recur binary, built once for the tests that run real processes.
var recurBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "recur-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	recurBin = filepath.Join(dir, "recur")
	if out, err := exec.Command("go", "build", "-o", recurBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build recur: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// procEnv is a database and an EGW simulator for real recur processes that a test starts, stops
// and kills.
type procEnv struct {
	t    *testing.T
	pool *pgxpool.Pool
	sim  *egwsim.Sim
	env  []string
}

func newProcEnv(t *testing.T, opts egwsim.Options) *procEnv {
	t.Helper()
	url := storetest.NewURL(t)
	pool, err := store.Open(context.Background(), url, 4)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	sim := egwsim.New(opts, nil)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &procEnv{t: t, pool: pool, sim: sim, env: []string{
		"DATABASE_URL=" + url,
		"RECUR_EGW_BASE_URL=" + srv.URL, "RECUR_EGW_TOKEN_URL=" + srv.URL + "/oauth2/token",
		"RECUR_EGW_CLIENT_ID=" + egwsim.DefaultClientID, "RECUR_EGW_CLIENT_SECRET=" + egwsim.DefaultClientSecret,
		"RECUR_EGW_PARTICIPANT_ID=" + egwsim.DefaultParticipantID, "RECUR_EGW_SHOP_AGREEMENT_ID=" + egwsim.DefaultShopAgreementID,
		"RECUR_EGW_TIMEOUT=2s",
		"RECUR_MODE=worker", "RECUR_ADDR=127.0.0.1:0", "RECUR_LOG_LEVEL=warn",
		"RECUR_BILLING_INTERVAL=100ms", "RECUR_POLL_INTERVAL=100ms", "RECUR_RECONCILE_INTERVAL=200ms",
		"RECUR_CHARGE_LEASE=3s", "RECUR_JOB_TIMEOUT=3s", "RECUR_RESCUE_AFTER=4s",
		"RECUR_WEBHOOK_TIMEOUT=1s", // less than RECUR_JOB_TIMEOUT
	}}
}

// proc is a running `recur serve`.
type proc struct {
	cmd  *exec.Cmd
	done chan error
	logs *syncBuffer
}

// start runs `recur serve` with the environment's settings plus extra ones.
func (e *procEnv) start(extra ...string) *proc {
	e.t.Helper()
	p := &proc{cmd: exec.Command(recurBin, "serve"), done: make(chan error, 1), logs: &syncBuffer{}}
	p.cmd.Env = append(append(os.Environ(), e.env...), extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(e.t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	e.t.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // it may be gone already
		err := <-p.done
		p.done <- err
		if e.t.Failed() {
			e.t.Logf("recur %v said:\n%s", extra, p.logs.String())
		}
	})
	return p
}

// waitKilled waits until the process has killed itself with SIGKILL at its fault point.
func (p *proc) waitKilled(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "recur exited without being killed: %s", p.logs.String())
		require.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
	case <-time.After(30 * time.Second):
		t.Fatalf("recur never reached its fault point:\n%s", p.logs.String())
	}
}

// kill kills the process with SIGKILL and waits until it is gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	err := <-p.done
	p.done <- err
}

// stop ends the process gracefully and requires a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		require.NoError(t, err, p.logs.String())
	case <-time.After(40 * time.Second):
		t.Fatal("recur did not stop")
	}
}

// subscribe stores a monthly subscription on the token, due now.
func (e *procEnv) subscribe(tokenID string) billing.Subscription {
	return storetest.Subscription(e.t, e.pool, storetest.SubscriptionOpts{Start: time.Now().UTC(), TokenID: tokenID})
}

// settled waits until the subscription's first charge has finished and returns its id and status.
func (e *procEnv) settled(sub billing.Subscription) (uuid.UUID, billing.ChargeStatus) {
	e.t.Helper()
	var id uuid.UUID
	var status billing.ChargeStatus
	require.Eventually(e.t, func() bool {
		err := e.pool.QueryRow(context.Background(), `
			SELECT id, status FROM charges WHERE subscription_id = $1 AND period_index = 0`, sub.ID).Scan(&id, &status)
		return err == nil && status.Terminal()
	}, 90*time.Second, 100*time.Millisecond, "the charge did not finish")
	return id, status
}

// payments returns the simulator's payments for a charge.
func (e *procEnv) payments(chargeID uuid.UUID) []egwsim.Entry {
	var out []egwsim.Entry
	for _, p := range e.sim.Ledger() {
		if p.MerchantReference == "recur charge "+chargeID.String() {
			out = append(out, p)
		}
	}
	return out
}

// requireCapturedOnce checks the invariant that matters: the charge's amount captured exactly
// once, and any other payment for it neither captured nor left authorized.
func requireCapturedOnce(t *testing.T, payments []egwsim.Entry, amount billing.Money) {
	t.Helper()
	var captured int
	for _, p := range payments {
		switch p.Status {
		case gateway.PaymentCaptured:
			captured++
			require.Equal(t, amount, p.Captured)
		case gateway.PaymentInitialized:
			require.Empty(t, p.TokenID, "a payment with a token session was left INITIALIZED")
		default:
			t.Fatalf("payment %s is %s", p.PaymentID, p.Status)
		}
	}
	require.Equal(t, 1, captured, "payments: %+v", payments)
}
