package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/billing/store/storetest"
)

// TestEventsAfterWaitsForOlderTransactions: an event whose transaction began first but commits
// last is not passed over. While it is open, the events of later transactions are held back
// (their order would not be final); once it commits, the dispatcher reads both, in the order of
// the transactions, and a cursor past them reads nothing more. (The horizon is the server's:
// transactions of other databases hold it back too, which delays webhooks but loses none.)
func TestEventsAfterWaitsForOlderTransactions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	start, err := dispatchCursor(ctx, db)
	require.NoError(t, err)
	event := func(at time.Time) billing.Event {
		return billing.SubscriptionEvent(billing.EventSubscriptionPaused, sub, at)
	}

	slow, err := db.Begin(ctx)
	require.NoError(t, err)
	defer slow.Rollback(ctx) //nolint:errcheck // committed below
	late := event(sub.CreatedAt)
	require.NoError(t, store.AppendEvent(ctx, slow, late))
	early := event(sub.CreatedAt.Add(time.Hour))
	require.NoError(t, store.AppendEvent(ctx, db, early)) // its own transaction, committed

	events, _, err := store.EventsAfter(ctx, db, start, 10)
	require.NoError(t, err)
	require.Empty(t, events, "the open transaction began first: nothing after it is final yet")

	require.NoError(t, slow.Commit(ctx))
	var cursors []store.DispatchCursor
	// Transactions of other tests on the same server hold the horizon back a moment too.
	require.Eventually(t, func() bool {
		events, cursors, err = store.EventsAfter(ctx, db, start, 10)
		require.NoError(t, err)
		return len(events) == 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, late.ID, events[0].ID, "in the order of the transactions, not of created_at")
	require.Equal(t, early.ID, events[1].ID)
	require.JSONEq(t, string(early.Data), string(events[1].Data))

	events, _, err = store.EventsAfter(ctx, db, cursors[1], 10)
	require.NoError(t, err)
	require.Empty(t, events)
	events, _, err = store.EventsAfter(ctx, db, cursors[0], 10)
	require.NoError(t, err)
	require.Len(t, events, 1)
}

// TestInsertDeliveriesOncePerEventAndEndpoint: a second delivery of an event to the same
// endpoint is left out, whoever inserts it.
func TestInsertDeliveriesOncePerEventAndEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.NewDB(t)
	sub := storetest.Subscription(t, db, storetest.SubscriptionOpts{})
	e := billing.SubscriptionEvent(billing.EventSubscriptionCreated, sub, sub.CreatedAt)
	require.NoError(t, store.AppendEvent(ctx, db, e))
	ep := billing.WebhookEndpoint{ID: billing.NewID(), URL: "https://example.com/hooks", EventTypes: []string{"*"},
		Enabled: true, CreatedAt: sub.CreatedAt, UpdatedAt: sub.CreatedAt}
	require.NoError(t, store.CreateWebhookEndpoint(ctx, db, ep, "whsec_x"))

	first := billing.NewDeliveries([]billing.Event{e}, []billing.WebhookEndpoint{ep}, sub.CreatedAt)
	ids, err := store.InsertDeliveries(ctx, db, first)
	require.NoError(t, err)
	require.Equal(t, []string{first[0].ID.String()}, idStrings(ids))
	again := billing.NewDeliveries([]billing.Event{e}, []billing.WebhookEndpoint{ep}, sub.CreatedAt)
	ids, err = store.InsertDeliveries(ctx, db, again)
	require.NoError(t, err)
	require.Empty(t, ids)

	d, err := store.GetWebhookDelivery(ctx, db, first[0].ID)
	require.NoError(t, err)
	require.Equal(t, billing.DeliveryPending, d.Status)
	require.Equal(t, billing.EventSubscriptionCreated, d.EventType)
}

func dispatchCursor(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) (store.DispatchCursor, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return store.DispatchCursor{}, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	return store.LockDispatchCursor(ctx, tx)
}

func idStrings[T interface{ String() string }](ids []T) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
