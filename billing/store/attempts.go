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

// OpenAttempt returns the charge's open attempt, or starts the next one (number one for a new
// charge) when its latest has ended: a retry is a new attempt, with a new order number and, when
// sent, a new gateway payment. The caller holds the charge's lease.
func OpenAttempt(ctx context.Context, db DBTX, chargeID uuid.UUID, now time.Time) (billing.Attempt, error) {
	a, err := scanAttempt(db.QueryRow(ctx, `
		SELECT `+attemptColumns+` FROM charge_attempts WHERE charge_id = $1 ORDER BY number DESC LIMIT 1`, chargeID))
	switch {
	case err == nil && a.Status == billing.AttemptProcessing:
		return a, nil
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return a, fmt.Errorf("open attempt: %w", err)
	}
	id := billing.NewID()
	a = billing.Attempt{
		ID: id, ChargeID: chargeID, Number: a.Number + 1, Status: billing.AttemptProcessing, CreatedAt: now, UpdatedAt: now,
		// The order number names the attempt at the gateway: unique, and in EGW's allowed alphabet.
		OrderNumber: id.String(),
	}
	_, err = db.Exec(ctx, `
		INSERT INTO charge_attempts (id, charge_id, number, order_number, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, a.ID, a.ChargeID, a.Number, a.OrderNumber, a.Status, now)
	if err != nil {
		return a, fmt.Errorf("open attempt: %w", err)
	}
	return a, nil
}

// ReserveCardAttempt counts the attempt against the card-scheme caps of payment method pmID
// (billing.CardAttemptCaps) and, when they allow it at now, records the request id of its payment
// creation, the payment method and the time, before the creation is sent: from then on it counts,
// whether the gateway took it or not. When a cap does not allow it, nothing is recorded and it
// returns when the caps will, and the cap that holds it back. The payment method's row is locked
// while counting and recording, so that several workers never let more attempts through than
// the caps allow.
func ReserveCardAttempt(ctx context.Context, tx pgx.Tx, attemptID, pmID, requestID uuid.UUID, caps []billing.AttemptCap, now time.Time) (time.Time, *billing.AttemptCap, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM payment_methods WHERE id = $1 FOR UPDATE`, pmID); err != nil {
		return now, nil, fmt.Errorf("lock payment method: %w", err)
	}
	var window time.Duration
	for _, c := range caps {
		window = max(window, c.Window)
	}
	rows, err := tx.Query(ctx, `
		SELECT sent_at FROM charge_attempts WHERE payment_method_id = $1 AND sent_at > $2`, pmID, now.Add(-window))
	if err != nil {
		return now, nil, fmt.Errorf("count card attempts: %w", err)
	}
	sent, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return now, nil, fmt.Errorf("count card attempts: %w", err)
	}
	if at, held := billing.NextCardAttempt(caps, sent, now); held != nil {
		return at, held, nil
	}
	_, err = tx.Exec(ctx, `
		UPDATE charge_attempts SET create_request_id = $2, payment_method_id = $3, sent_at = $4 WHERE id = $1`,
		attemptID, requestID, pmID, now)
	if err != nil {
		return now, nil, fmt.Errorf("record card attempt: %w", err)
	}
	return now, nil, nil
}

// SetAttemptPayment records the gateway payment that an attempt created.
func SetAttemptPayment(ctx context.Context, db DBTX, attemptID uuid.UUID, paymentID string, now time.Time) error {
	_, err := db.Exec(ctx, `
		UPDATE charge_attempts SET gateway_payment_id = $2, updated_at = $3 WHERE id = $1`, attemptID, paymentID, now)
	if err != nil {
		return fmt.Errorf("set attempt payment: %w", err)
	}
	return nil
}

// AttemptEnd is how an attempt ends and what becomes of its charge: the same outcome, or, for a
// declined attempt, retrying or failed as the dunning policy decides.
type AttemptEnd struct {
	Attempt     billing.AttemptStatus
	Charge      billing.ChargeStatus
	Failure     *billing.Failure
	NextRetryAt *time.Time // of a retrying charge
	RetryReason string
}

// FinishAttempt records an attempt's end and its charge's, releases run's lease and returns the
// charge as it now is. A charge's first declined attempt sets its FirstFailedAt. It changes
// nothing, and returns ErrLeaseLost, unless run holds the charge and the attempt is open.
func FinishAttempt(ctx context.Context, db DBTX, run, attemptID uuid.UUID, end AttemptEnd, now time.Time) (billing.Charge, error) {
	var code, reason *string
	if f := end.Failure; f != nil {
		code, reason = &f.Code, &f.Reason
	}
	c, err := scanCharge(db.QueryRow(ctx, `
		WITH a AS (
			UPDATE charge_attempts a SET status = $2, failure_code = $3, failure_reason = $4, updated_at = $5
			FROM charges c
			WHERE a.id = $1 AND a.status = 'processing' AND c.id = a.charge_id AND c.lease_owner = $6
			RETURNING a.charge_id
		)
		UPDATE charges c SET status = $7, failure_code = $3, failure_reason = $4, updated_at = $5,
			next_retry_at = $8, retry_reason = nullif($9, ''), lease_owner = NULL, lease_until = now(),
			first_failed_at = coalesce(first_failed_at, CASE WHEN $2 = 'failed' THEN $5::timestamptz END)
		FROM a WHERE c.id = a.charge_id
		RETURNING `+chargeColumns,
		attemptID, end.Attempt, code, reason, now, run, end.Charge, end.NextRetryAt, end.RetryReason))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrLeaseLost
	}
	if err != nil {
		return c, fmt.Errorf("finish attempt: %w", err)
	}
	return c, nil
}

// BeginStep records a gateway call that run is about to make and renews run's lease on the
// charge. It returns the step's id, or ErrLeaseLost when run no longer holds the charge: then the
// call must not be made.
func BeginStep(ctx context.Context, db DBTX, run uuid.UUID, a billing.Attempt, name string, requestID uuid.UUID, lease time.Duration, now time.Time) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `
		WITH lease AS (
			UPDATE charges SET lease_until = now() + $5::interval WHERE id = $1 AND lease_owner = $2 RETURNING id
		)
		INSERT INTO charge_steps (attempt_id, step, request_id, started_at)
		SELECT $3, $4, $6, $7 FROM lease RETURNING id`,
		a.ChargeID, run, a.ID, name, lease, requestID, now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrLeaseLost
	}
	if err != nil {
		return 0, fmt.Errorf("begin step %s: %w", name, err)
	}
	return id, nil
}

// FinishStep records how a gateway call ended.
func FinishStep(ctx context.Context, db DBTX, stepID int64, outcome, detail string, now time.Time) error {
	_, err := db.Exec(ctx, `
		UPDATE charge_steps SET outcome = $2, detail = $3, finished_at = $4 WHERE id = $1`,
		stepID, outcome, detail, now)
	if err != nil {
		return fmt.Errorf("finish step: %w", err)
	}
	return nil
}

// ListAttempts returns the attempts of the given charges, by charge, first attempt first, each with
// its steps in order. It makes two queries however many charges there are.
func ListAttempts(ctx context.Context, db DBTX, chargeIDs ...uuid.UUID) (map[uuid.UUID][]billing.Attempt, error) {
	rows, err := db.Query(ctx, `
		SELECT `+attemptColumns+` FROM charge_attempts WHERE charge_id = ANY($1) ORDER BY charge_id, number`, chargeIDs)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	attempts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Attempt, error) { return scanAttempt(row) })
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	ids := make([]uuid.UUID, len(attempts))
	index := make(map[uuid.UUID]int, len(attempts))
	for i, a := range attempts {
		ids[i], index[a.ID] = a.ID, i
	}
	rows, err = db.Query(ctx, `
		SELECT attempt_id, step, request_id, started_at, finished_at, coalesce(outcome, ''), detail
		FROM charge_steps WHERE attempt_id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	var attemptID uuid.UUID
	var s billing.Step
	_, err = pgx.ForEachRow(rows, []any{&attemptID, &s.Name, &s.RequestID, &s.StartedAt, &s.FinishedAt, &s.Outcome, &s.Detail}, func() error {
		a := &attempts[index[attemptID]]
		a.Steps = append(a.Steps, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	byCharge := make(map[uuid.UUID][]billing.Attempt, len(chargeIDs))
	for _, a := range attempts {
		byCharge[a.ChargeID] = append(byCharge[a.ChargeID], a)
	}
	return byCharge, nil
}

const attemptColumns = `id, charge_id, number, order_number, coalesce(gateway_payment_id, ''), create_request_id,
	status, failure_code, failure_reason, created_at, updated_at`

func scanAttempt(row pgx.Row) (billing.Attempt, error) {
	var a billing.Attempt
	var code, reason *string
	err := row.Scan(&a.ID, &a.ChargeID, &a.Number, &a.OrderNumber, &a.GatewayPaymentID, &a.CreateRequestID, &a.Status,
		&code, &reason, &a.CreatedAt, &a.UpdatedAt)
	a.Failure = failure(code, reason)
	return a, err
}
