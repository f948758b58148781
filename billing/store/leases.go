package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// ErrLeaseLost means another worker run has taken the charge over: the caller must stop working
// it at once, before any further gateway call.
var ErrLeaseLost = errors.New("the charge's lease was taken over by another run")

// Leases let one worker run at a time work a charge. They are kept in database time, so that
// processes with different clocks agree on when one has expired, and renewed at every step; a
// crashed run's lease simply expires. Once released, lease_until keeps the time of release: when
// a run last worked the charge.

// ClaimCharge gives the charge to run for lease and marks it processing. It returns false when the
// charge is finished, retrying with its next retry after now, or another run holds an unexpired
// lease on it.
func ClaimCharge(ctx context.Context, db DBTX, id, run uuid.UUID, lease time.Duration, now time.Time) (billing.Charge, bool, error) {
	c, err := scanCharge(db.QueryRow(ctx, `
		UPDATE charges SET lease_owner = $2, lease_until = now() + $3::interval, updated_at = now(),
			status = 'processing', next_retry_at = NULL, retry_reason = NULL
		WHERE id = $1 AND (status IN ('pending', 'processing', 'reconciling') OR (status = 'retrying' AND next_retry_at <= $4))
			AND (lease_owner IS NULL OR lease_until < now() OR lease_owner = $2)
		RETURNING `+chargeColumns, id, run, lease, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("claim charge: %w", err)
	}
	return c, true, nil
}

// ReleaseCharge gives up run's lease, if it still holds it.
func ReleaseCharge(ctx context.Context, db DBTX, id, run uuid.UUID) error {
	_, err := db.Exec(ctx, `UPDATE charges SET lease_owner = NULL, lease_until = now() WHERE id = $1 AND lease_owner = $2`, id, run)
	if err != nil {
		return fmt.Errorf("release charge: %w", err)
	}
	return nil
}

// MarkReconciling puts a charge whose last gateway call has no known outcome aside until the
// gateway's state can be read back: its next look is due after base, doubling with every look up
// to max. It gives up run's lease.
func MarkReconciling(ctx context.Context, db DBTX, id, run uuid.UUID, base, max time.Duration) error {
	tag, err := db.Exec(ctx, `
		UPDATE charges SET status = 'reconciling', reconcile_count = reconcile_count + 1,
			reconcile_after = now() + least($3::interval * power(2, least(reconcile_count, 30)), $4::interval),
			unsettled_since = coalesce(unsettled_since, now()), lease_owner = NULL, lease_until = now(), updated_at = now()
		WHERE id = $1 AND lease_owner = $2`, id, run, base, max)
	if err != nil {
		return fmt.Errorf("mark charge reconciling: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// MarkUnsettled notes that the charge's payment is still being processed at the gateway and
// reports whether it has been so, or unknown, for longer than reviewAfter.
func MarkUnsettled(ctx context.Context, db DBTX, id uuid.UUID, reviewAfter time.Duration) (overdue bool, err error) {
	err = db.QueryRow(ctx, `
		UPDATE charges SET unsettled_since = coalesce(unsettled_since, now())
		WHERE id = $1 RETURNING unsettled_since < now() - $2::interval`, id, reviewAfter).Scan(&overdue)
	if err != nil {
		return false, fmt.Errorf("mark charge unsettled: %w", err)
	}
	return overdue, nil
}

// DueForReconciliation returns up to limit unfinished charges that no run is working: reconciling
// charges whose next look is due, retrying ones whose next retry is due at now, or at their
// customer's test clock's time (their scheduled job may have been lost, or a test clock moved
// past it), and pending or processing ones that no
// run has held for stale: released, or held by a run that stopped without releasing them (a
// crashed process) and whose lease expired (their job may have been lost; enqueueing one that
// still has a job is a no-op).
func DueForReconciliation(ctx context.Context, db DBTX, stale time.Duration, now time.Time, limit int) ([]uuid.UUID, error) {
	rows, err := db.Query(ctx, `
		SELECT id FROM charges
		WHERE (status = 'reconciling' AND reconcile_after <= now())
			OR (status = 'retrying' AND next_retry_at <= `+dueBound("$3")+`
				AND next_retry_at <= coalesce(`+clockTime("charges.customer_id")+`, $3))
			OR (status IN ('pending', 'processing') AND coalesce(lease_until, created_at) < now() - $1::interval)
		ORDER BY reconcile_after NULLS FIRST LIMIT $2`, stale, limit, now)
	if err != nil {
		return nil, fmt.Errorf("charges due for reconciliation: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("charges due for reconciliation: %w", err)
	}
	return ids, nil
}

// ReviewOverdue moves reconciling charges whose outcome has been unknown for longer than
// reviewAfter to needs_review, with their open attempt, and returns them.
func ReviewOverdue(ctx context.Context, db DBTX, reviewAfter time.Duration) ([]billing.Charge, error) {
	rows, err := db.Query(ctx, `
		WITH c AS (
			UPDATE charges SET status = 'needs_review', failure_code = $2, updated_at = now(),
				failure_reason = 'the gateway has not told the outcome since ' || unsettled_since
			WHERE status = 'reconciling' AND unsettled_since < now() - $1::interval AND lease_owner IS NULL
			RETURNING *
		), a AS (
			UPDATE charge_attempts a SET status = 'needs_review', failure_code = c.failure_code,
				failure_reason = c.failure_reason, updated_at = now()
			FROM c WHERE a.charge_id = c.id AND a.status = 'processing'
		)
		SELECT `+chargeColumns+` FROM c`, reviewAfter, billing.FailureUnsettled)
	if err != nil {
		return nil, fmt.Errorf("review overdue charges: %w", err)
	}
	charges, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Charge, error) { return scanCharge(row) })
	if err != nil {
		return nil, fmt.Errorf("review overdue charges: %w", err)
	}
	return charges, nil
}

// DeferCharge puts the charge that run holds aside until at, as retrying for reason, and gives up
// run's lease; its open attempt stays open, unsent, for the run that takes it up then.
func DeferCharge(ctx context.Context, db DBTX, id, run uuid.UUID, at time.Time, reason string) (billing.Charge, error) {
	c, err := scanCharge(db.QueryRow(ctx, `
		UPDATE charges SET status = 'retrying', next_retry_at = $3, retry_reason = $4, updated_at = now(),
			lease_owner = NULL, lease_until = now()
		WHERE id = $1 AND lease_owner = $2
		RETURNING `+chargeColumns, id, run, at, reason))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrLeaseLost
	}
	if err != nil {
		return c, fmt.Errorf("defer charge: %w", err)
	}
	return c, nil
}

// CallOff says why a charge must not be collected any more, if it must not: it was voided, or
// its subscription was canceled (an ad-hoc charge has none).
func CallOff(ctx context.Context, db DBTX, id uuid.UUID) (*billing.Failure, error) {
	var voided bool
	var reason string
	var subStatus billing.SubscriptionStatus
	err := db.QueryRow(ctx, `
		SELECT c.void_requested_at IS NOT NULL, coalesce(c.void_reason, ''), coalesce(s.status, '') FROM charges c
		LEFT JOIN subscriptions s ON s.id = c.subscription_id
		WHERE c.id = $1`, id).Scan(&voided, &reason, &subStatus)
	switch {
	case err != nil:
		return nil, notFound(err, "charge "+id.String())
	case voided:
		reason, _ = billing.VoidReason(reason) // checked when it was stored; empty before it was kept
		return &billing.Failure{Code: billing.FailureVoided, Reason: reason}, nil
	case subStatus == billing.SubscriptionCanceled:
		return &billing.Failure{Code: billing.FailureCanceled, Reason: "the subscription was canceled"}, nil
	}
	return nil, nil
}
