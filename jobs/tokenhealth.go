package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
)

// CheckTokensArgs asks for one pass of the token check.
type CheckTokensArgs struct{}

// Kind names the job in River.
func (CheckTokensArgs) Kind() string { return "check_tokens" }

// InsertOpts keeps passes from piling up.
func (CheckTokensArgs) InsertOpts() river.InsertOpts { return onePassAtATime() }

// CheckTokensWorker re-reads at the gateway the tokens of the subscriptions due within
// Config.TokenCheckAhead (of their customer's test clock's time, if it has one), before their
// renewal can fail: it records the token's status,
// purposes and card expiry on the payment method, and raises payment_method.expiring (the card
// expires before the next charge) and payment_method.suspended (the token is not ACTIVE, lacks a
// recurring purpose, or the gateway does not know it) once per condition: again only after the
// condition has cleared and come back.
type CheckTokensWorker struct {
	river.WorkerDefaults[CheckTokensArgs]
	deps Deps
	cfg  Config
}

// Work runs one pass over up to 1000 payment methods, least recently checked first. A token the
// gateway cannot read now is left for the next pass.
func (w *CheckTokensWorker) Work(ctx context.Context, _ *river.Job[CheckTokensArgs]) error {
	due, err := store.PaymentMethodsDueBy(ctx, w.deps.Pool, w.deps.Clock.Now(), w.cfg.TokenCheckAhead, 1000)
	if err != nil {
		return err
	}
	for _, d := range due {
		if err := w.check(ctx, d); err != nil {
			w.deps.Logger.WarnContext(ctx, "token check failed", slog.String("payment_method_id", d.PaymentMethod.ID.String()),
				slog.Any("error", err))
		}
	}
	return nil
}

func (w *CheckTokensWorker) check(ctx context.Context, d store.TokenDue) error {
	pm := d.PaymentMethod
	tok, err := w.deps.Gateway.GetToken(ctx, pm.GatewayTokenID)
	status := string(tok.Status)
	switch {
	case gateway.IsNotFound(err):
		status = "NOT_FOUND"
	case err != nil:
		return err
	default:
		pm.Purposes = make([]string, len(tok.Purposes))
		for i, p := range tok.Purposes {
			pm.Purposes[i] = string(p)
		}
		if tok.ExpiryYear != 0 {
			pm.ExpMonth, pm.ExpYear = tok.ExpiryMonth, tok.ExpiryYear
		}
	}
	found := err == nil
	seen := store.TokenWarnings{
		Expiring: found && tok.Expired(d.DueAt),
		Suspended: !found || tok.Status != gateway.TokenActive ||
			!slices.ContainsFunc(gateway.PurposesFor(gateway.ChannelRecurring), tok.HasPurpose),
	}
	clock, err := store.CustomerClock(ctx, w.deps.Pool, pm.CustomerID, w.deps.Clock)
	if err != nil {
		return err
	}
	now := clock.Now()
	return store.InTx(ctx, w.deps.Pool, func(tx pgx.Tx) error {
		before, err := store.SaveTokenCheck(ctx, tx, pm, status, seen, now)
		if err != nil {
			return err
		}
		for _, e := range []struct {
			raise bool
			t     billing.EventType
		}{
			{seen.Expiring && !before.Expiring, billing.EventPaymentMethodExpiring},
			{seen.Suspended && !before.Suspended, billing.EventPaymentMethodSuspended},
		} {
			if !e.raise {
				continue
			}
			if err := store.AppendEvent(ctx, tx, billing.PaymentMethodEvent(e.t, pm, now)); err != nil {
				return fmt.Errorf("token check: %w", err)
			}
		}
		return nil
	})
}
