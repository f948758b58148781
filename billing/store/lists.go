package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// The API's lists are pages in a fixed order, newest first, with a cursor: starting_after is the
// last id of the previous page, and a page goes on from that row's place in the order.

// listRows runs a query and scans each row with scan; what names the query in errors.
func listRows[T any](ctx context.Context, db DBTX, what string, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// CustomerFilter selects customers to list.
type CustomerFilter struct {
	ExternalID    *string    // only the customer with this external id
	StartingAfter *uuid.UUID // only customers after this one, newest first
}

// ListCustomers returns up to limit customers, newest first.
func ListCustomers(ctx context.Context, db DBTX, f CustomerFilter, limit int) ([]billing.Customer, error) {
	return listRows(ctx, db, "list customers", scanCustomer, `
		SELECT `+customerColumns+` FROM customers
		WHERE ($1::text IS NULL OR external_id = $1)
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM customers WHERE id = $2))
		ORDER BY created_at DESC, id DESC LIMIT $3`, f.ExternalID, f.StartingAfter, limit)
}

// ListPaymentMethods returns up to limit of a customer's payment methods, newest first, after the
// one startingAfter names when it is not nil.
func ListPaymentMethods(ctx context.Context, db DBTX, customerID uuid.UUID, startingAfter *uuid.UUID, limit int) ([]billing.PaymentMethod, error) {
	return listRows(ctx, db, "list payment methods", func(row pgx.Row) (billing.PaymentMethod, error) { return scanPaymentMethod(row) }, `
		SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE customer_id = $1
			AND ($2::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM payment_methods WHERE id = $2))
		ORDER BY created_at DESC, id DESC LIMIT $3`, customerID, startingAfter, limit)
}

// SubscriptionFilter selects subscriptions to list. Every filter that is set must match.
type SubscriptionFilter struct {
	Status        billing.SubscriptionStatus // empty: every status
	CustomerID    *uuid.UUID
	PlanID        *uuid.UUID
	StartingAfter *uuid.UUID // only subscriptions after this one, newest first
}

// ListSubscriptions returns up to limit subscriptions, newest first.
func ListSubscriptions(ctx context.Context, db DBTX, f SubscriptionFilter, limit int) ([]billing.Subscription, error) {
	return listRows(ctx, db, "list subscriptions", scanSubscription, `
		SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE ($1 = '' OR status = $1) AND ($2::uuid IS NULL OR customer_id = $2) AND ($3::uuid IS NULL OR plan_id = $3)
			AND ($4::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM subscriptions WHERE id = $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`, string(f.Status), f.CustomerID, f.PlanID, f.StartingAfter, limit)
}
