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

// OpenAttempt returns the charge's latest attempt while it is processing, or starts the next one
// (number one when the charge has none yet; a failed charge made pending again gets another). The
// caller holds the charge's lease.
func OpenAttempt(ctx context.Context, db DBTX, chargeID uuid.UUID, now time.Time) (billing.Attempt, error) {
	a, err := scanAttempt(db.QueryRow(ctx, `
		SELECT `+attemptColumns+` FROM charge_attempts WHERE charge_id = $1 ORDER BY number DESC LIMIT 1`, chargeID))
	number := 1
	switch {
	case err == nil && a.Status == billing.AttemptProcessing:
		return a, nil
	case err == nil:
		number = a.Number + 1
	case !errors.Is(err, pgx.ErrNoRows):
		return a, err
	}
	id := billing.NewID()
	a = billing.Attempt{
		ID: id, ChargeID: chargeID, Number: number, Status: billing.AttemptProcessing, CreatedAt: now, UpdatedAt: now,
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

// SetCreateRequest records the request id of the attempt's payment creation before it is sent.
func SetCreateRequest(ctx context.Context, db DBTX, attemptID, requestID uuid.UUID) error {
	_, err := db.Exec(ctx, `UPDATE charge_attempts SET create_request_id = $2 WHERE id = $1`, attemptID, requestID)
	if err != nil {
		return fmt.Errorf("set create request: %w", err)
	}
	return nil
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

// FinishAttempt records an attempt's end, gives its charge the same outcome, moves the state of
// the charge's subscription on when it is the latest period's charge, and releases run's lease,
// in one statement. It changes nothing, and returns ErrLeaseLost, unless run holds the
// charge and the attempt is open.
func FinishAttempt(ctx context.Context, db DBTX, run, attemptID uuid.UUID, status billing.AttemptStatus, f *billing.Failure, now time.Time) error {
	var code, reason *string
	if f != nil {
		code, reason = &f.Code, &f.Reason
	}
	// The subscription's state follows the outcome of its latest period's charge
	// (billing.AfterCharge), in the same statement: a failure makes it past due, a success
	// active again. A retry of a charge that already failed (a later attempt) that fails again
	// does not count as another period failed.
	var from, to []billing.SubscriptionStatus
	for _, st := range billing.SubscriptionStatuses {
		if next := billing.AfterCharge(st, billing.ChargeStatus(status)); next != st {
			from, to = append(from, st), append(to, next)
		}
	}
	var finished int
	err := db.QueryRow(ctx, `
		WITH a AS (
			UPDATE charge_attempts a SET status = $2, failure_code = $3, failure_reason = $4, updated_at = $5
			FROM charges c
			WHERE a.id = $1 AND a.status = 'processing' AND c.id = a.charge_id AND c.lease_owner = $6
			RETURNING a.charge_id, a.number
		), c AS (
			UPDATE charges c SET status = $2, failure_code = $3, failure_reason = $4, updated_at = $5,
				lease_owner = NULL, lease_until = now()
			FROM a WHERE c.id = a.charge_id
			RETURNING c.subscription_id, c.period_index, a.number
		), s AS (
			UPDATE subscriptions s SET status = t.to_status, updated_at = $5
			FROM c, unnest($7::text[], $8::text[]) AS t(from_status, to_status)
			WHERE s.id = c.subscription_id AND s.next_period = c.period_index + 1 AND s.status = t.from_status
				AND (c.number = 1 OR $2 <> 'failed')
		)
		SELECT count(*) FROM c`, attemptID, status, code, reason, now, run, from, to).Scan(&finished)
	if err != nil {
		return fmt.Errorf("finish attempt: %w", err)
	}
	if finished == 0 {
		return ErrLeaseLost
	}
	return nil
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
