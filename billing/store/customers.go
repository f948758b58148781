package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
)

// CreateCustomer stores a new customer. A customer with the same external id already existing is
// a *billing.ConflictError that names it. It leaves a transaction usable either way.
func CreateCustomer(ctx context.Context, db DBTX, c billing.Customer) error {
	tag, err := db.Exec(ctx, `
		INSERT INTO customers (id, external_id, email, name, created_at, test_clock_id) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (external_id) DO NOTHING`,
		c.ID, c.ExternalID, c.Email, c.Name, c.CreatedAt, c.TestClockID)
	if err != nil {
		return fmt.Errorf("create customer: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var existing uuid.UUID
	if err := db.QueryRow(ctx, `SELECT id FROM customers WHERE external_id = $1`, c.ExternalID).Scan(&existing); err != nil {
		return fmt.Errorf("create customer: %w", err)
	}
	return &billing.ConflictError{Reason: fmt.Sprintf("customer %s already has external_id %q", existing, c.ExternalID)}
}

// GetCustomer reads a customer.
func GetCustomer(ctx context.Context, db DBTX, id uuid.UUID) (billing.Customer, error) {
	c, err := scanCustomer(db.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if err != nil {
		return c, notFound(err, "customer "+id.String())
	}
	return c, nil
}

const customerColumns = `id, external_id, email, name, created_at, test_clock_id`

func scanCustomer(row pgx.Row) (billing.Customer, error) {
	var c billing.Customer
	err := row.Scan(&c.ID, &c.ExternalID, &c.Email, &c.Name, &c.CreatedAt, &c.TestClockID)
	return c, err
}
