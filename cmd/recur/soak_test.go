package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// soakSettings are the soak's knobs, from the environment: the suite runs a short soak; the full
// one is `RECUR_SOAK_N=2000 scripts/test -run TestSoak -v`.
type soakSettings struct {
	n, periods int
	rate       float64
	seed       int64
}

func soakFromEnv(t *testing.T) soakSettings {
	s := soakSettings{n: 150, periods: 2, rate: 0.2, seed: time.Now().UnixNano()}
	for name, set := range map[string]func(string) error{
		"RECUR_SOAK_N":       func(v string) (err error) { s.n, err = strconv.Atoi(v); return err },
		"RECUR_SOAK_PERIODS": func(v string) (err error) { s.periods, err = strconv.Atoi(v); return err },
		"RECUR_SOAK_RATE":    func(v string) (err error) { s.rate, err = strconv.ParseFloat(v, 64); return err },
		"RECUR_SOAK_SEED":    func(v string) (err error) { s.seed, err = strconv.ParseInt(v, 10, 64); return err },
	} {
		if v := os.Getenv(name); v != "" {
			require.NoError(t, set(v), name)
		}
	}
	return s
}

// TestSoak bills N monthly subscriptions over several periods with two worker processes while
// the simulator injects faults at a seeded random rate (errors, timeouts and resets before and
// after the effect, declines, slow processing) and the test kills a process with SIGKILL every
// few seconds. Then, for every (subscription, period): exactly one charge; a succeeded charge has
// exactly one captured payment of its amount; any other has none; and no payment anywhere is
// left authorized. The seed is printed: RECUR_SOAK_SEED replays the same faults.
func TestSoak(t *testing.T) {
	t.Parallel()
	s := soakFromEnv(t)
	t.Logf("soak: %d subscriptions, %d periods, fault rate %.2f, seed %d", s.n, s.periods, s.rate, s.seed)
	rng := rand.New(rand.NewPCG(uint64(s.seed), 0))
	clock := &offsetClock{}
	e := newProcEnv(t, egwsim.Options{Clock: clock})
	require.NoError(t, e.sim.SetChaos(egwsim.Chaos{Seed: s.seed, Rate: s.rate, Kinds: []egwsim.FaultKind{
		egwsim.KindError, egwsim.KindTimeout, egwsim.KindReset, egwsim.KindDecline, egwsim.KindProcessing,
	}}))

	start := time.Now().UTC()
	subs := make([]billing.Subscription, s.n)
	for i := range subs {
		tok := gateway.Token{ID: fmt.Sprintf("tok_soak_%d", i), Status: gateway.TokenActive,
			Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Last4: "0005", ExpiryMonth: 12, ExpiryYear: 2099}
		e.sim.AddToken(egwsim.Token{Token: tok})
		subs[i] = storetest.Subscription(t, e.pool, storetest.SubscriptionOpts{Start: start, TokenID: tok.ID,
			Price: billing.Money{Amount: int64(100 + i), Currency: "EUR"}})
	}

	var kills int
	for period := range s.periods {
		offset := subs[0].Schedule.PeriodStart(period).Sub(start)
		clock.set(offset)
		env := "RECUR_TEST_CLOCK_OFFSET=" + offset.String()
		procs := []*proc{e.start(env), e.start(env)}
		// Up to three kills a period, a few seconds apart: a killed leader holds River's
		// leadership (the scheduler, the janitor, the rescuer) for its 15 s lease, so killing
		// faster would stop the work rather than test it.
		deadline, toKill := time.Now().Add(4*time.Minute), 1+rng.IntN(3)
		nextKill := time.Now().Add(time.Duration(1000+rng.IntN(4000)) * time.Millisecond)
		for e.unfinished(period, clock.Now()) > 0 {
			if time.Now().After(deadline) {
				e.logUnfinished(period, clock.Now())
				t.Fatalf("period %d did not finish: %d charges left (seed %d)", period, e.unfinished(period, clock.Now()), s.seed)
			}
			time.Sleep(200 * time.Millisecond)
			if testing.Verbose() && time.Now().Second()%5 == 0 {
				t.Logf("period %d: %d unfinished", period, e.unfinished(period, clock.Now()))
			}
			if toKill > 0 && time.Now().After(nextKill) {
				i := rng.IntN(len(procs))
				procs[i].kill(t)
				procs[i] = e.start(env)
				kills, toKill = kills+1, toKill-1
				nextKill = time.Now().Add(time.Duration(2000+rng.IntN(6000)) * time.Millisecond)
			}
		}
		for _, p := range procs {
			p.stop(t)
		}
	}
	e.checkSoak(t, subs, s, kills)
}

// unfinished counts the charges of a period up to this one that are not finished yet (those
// retrying included, once their retry is due at now: a declined charge of an earlier period is
// retried meanwhile), and the subscriptions still billed that have no charge for it yet (one that
// dunning made unpaid or canceled is not billed any more).
func (e *procEnv) unfinished(period int, now time.Time) int {
	var n int
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM subscriptions WHERE next_period <= $1 AND status IN ('trialing', 'active', 'past_due'))
			+ (SELECT count(*) FROM charges WHERE period_index <= $1
				AND (status IN ('pending', 'processing', 'reconciling') OR (status = 'retrying' AND next_retry_at <= $2)))`,
		period, now).Scan(&n))
	return n
}

// logUnfinished logs what unfinished counts, with each charge's attempts, last steps and River
// jobs, to tell a stuck charge from a slow one.
func (e *procEnv) logUnfinished(period int, now time.Time) {
	rows, err := e.pool.Query(context.Background(), `
		SELECT c.id, c.status, c.period_index, c.next_retry_at, c.retry_reason, c.lease_until, c.reconcile_after, c.updated_at,
			(SELECT string_agg(a.number || ':' || a.status || ':' || coalesce(a.failure_code, ''), ' ' ORDER BY a.number)
				FROM charge_attempts a WHERE a.charge_id = c.id),
			(SELECT string_agg(st.step || '=' || coalesce(st.outcome, 'open') || '@' || st.started_at, ' ' ORDER BY st.id)
				FROM (SELECT s.* FROM charge_steps s JOIN charge_attempts a ON a.id = s.attempt_id
					WHERE a.charge_id = c.id ORDER BY s.id DESC LIMIT 6) st),
			(SELECT string_agg(j.state || '@' || j.scheduled_at || '/' || j.attempt, ' ')
				FROM river_job j WHERE j.kind = 'collect_charge' AND j.args->>'charge_id' = c.id::text)
		FROM charges c WHERE c.period_index <= $1
			AND (c.status IN ('pending', 'processing', 'reconciling') OR (c.status = 'retrying' AND c.next_retry_at <= $2))`,
		period, now)
	require.NoError(e.t, err)
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		require.NoError(e.t, err)
		e.t.Logf("unfinished at %s: %v", now.Format(time.RFC3339), vals)
	}
	require.NoError(e.t, rows.Err())
}

// checkSoak checks the soak's invariants and prints its figures.
func (e *procEnv) checkSoak(t *testing.T, subs []billing.Subscription, s soakSettings, kills int) {
	ctx := context.Background()
	payments := map[string][]egwsim.Entry{}
	for _, p := range e.sim.Ledger() {
		payments[p.MerchantReference] = append(payments[p.MerchantReference], p)
		require.NotEqual(t, gateway.PaymentAuthorized, p.Status, "payment %s left authorized (seed %d)", p.PaymentID, s.seed)
	}
	rows, err := e.pool.Query(ctx, `SELECT id, subscription_id, period_index, status, amount, currency FROM charges`)
	require.NoError(t, err)
	perPeriod := map[[2]any]int{}
	byStatus := map[billing.ChargeStatus]int{}
	var captured int
	for rows.Next() {
		var id, sub uuid.UUID
		var period int
		var status billing.ChargeStatus
		var amount billing.Money
		require.NoError(t, rows.Scan(&id, &sub, &period, &status, &amount.Amount, &amount.Currency))
		perPeriod[[2]any{sub, period}]++
		byStatus[status]++
		var caps int
		for _, p := range payments["recur charge "+id.String()] {
			if p.Status == gateway.PaymentCaptured {
				caps++
				require.Equal(t, amount, p.Captured, "charge %s captured the wrong amount (seed %d)", id, s.seed)
			}
		}
		if status == billing.ChargeSucceeded {
			require.Equal(t, 1, caps, "succeeded charge %s has %d captured payments (seed %d)", id, caps, s.seed)
		} else {
			require.Zero(t, caps, "%s charge %s has %d captured payments (seed %d)", status, id, caps, s.seed)
		}
		captured += caps
	}
	require.NoError(t, rows.Err())
	// Every period a subscription billed has exactly one charge; one that dunning stopped (unpaid or
	// canceled) has none for the periods after.
	stopped, billed := 0, 0
	for _, sub := range subs {
		got, err := store.GetSubscription(ctx, e.pool, sub.ID)
		require.NoError(t, err)
		if got.NextPeriod < s.periods {
			require.Contains(t, []billing.SubscriptionStatus{billing.SubscriptionUnpaid, billing.SubscriptionCanceled}, got.Status,
				"subscription %s not billed from period %d (seed %d)", sub.ID, got.NextPeriod, s.seed)
			stopped++
		}
		for period := range s.periods {
			want := 0
			if period < got.NextPeriod {
				want, billed = 1, billed+1
			}
			require.Equal(t, want, perPeriod[[2]any{sub.ID, period}], "subscription %s period %d (seed %d)", sub.ID, period, s.seed)
		}
	}
	require.Len(t, perPeriod, billed, "charges for periods that were not due (seed %d)", s.seed)
	t.Logf("soak: seed %d; %d charges %v; %d subscriptions stopped by dunning; %d gateway payments, %d captured; %d faults injected; %d processes killed",
		s.seed, len(perPeriod), byStatus, stopped, len(e.sim.Ledger()), captured, len(e.sim.Faults()), kills)
}

// offsetClock is the wall clock moved by an offset that the test changes, for the simulator.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) set(d time.Duration) { c.offset.Store(int64(d)) }

func (c *offsetClock) Now() time.Time {
	return billing.OffsetClock{Offset: time.Duration(c.offset.Load())}.Now()
}
