package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestEventsAreAppendOnly: an appended event reads back with its object's state, and the schema
// refuses to change or delete it, whoever asks.
func TestEventsAreAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	e := billing.SubscriptionEvent(billing.EventSubscriptionCreated, sub, sub.CreatedAt)
	require.NoError(t, store.AppendEvent(ctx, db, e))

	var data map[string]any
	var typ string
	require.NoError(t, db.QueryRow(ctx, `SELECT type, data FROM events WHERE id = $1`, e.ID).Scan(&typ, &data))
	require.Equal(t, "subscription.created", typ)
	require.Equal(t, sub.ID.String(), data["id"])
	require.Equal(t, string(billing.SubscriptionActive), data["status"])
	require.EqualValues(t, sub.Price.Amount, data["amount"])

	_, err := db.Exec(ctx, `UPDATE events SET type = 'charge.succeeded' WHERE id = $1`, e.ID)
	require.ErrorContains(t, err, "events are append-only: UPDATE refused")
	_, err = db.Exec(ctx, `DELETE FROM events WHERE id = $1`, e.ID)
	require.ErrorContains(t, err, "events are append-only: DELETE refused")
}
