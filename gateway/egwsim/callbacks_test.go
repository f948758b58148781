package egwsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// A callback that is not answered 2xx is sent again after each delay, each time with a request
// id of its own, until it is accepted; one that is never accepted is given up after the last.
func TestCallbacksAreRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		received []egwsim.Callback
		ids      = map[string]bool{}
	)
	answers := []int{500, 404, 200}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb egwsim.Callback
		require.NoError(t, json.NewDecoder(r.Body).Decode(&cb))
		mu.Lock()
		defer mu.Unlock()
		require.NoError(t, uuid.Validate(r.Header.Get("X-Request-Id")))
		ids[r.Header.Get("X-Request-Id")] = true
		w.WriteHeader(answers[min(len(received), len(answers)-1)])
		received = append(received, cb)
	}))
	t.Cleanup(receiver.Close)
	delays := []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	sim := egwsim.New(egwsim.Options{CallbackURL: receiver.URL, CallbackDelays: delays}, nil)
	t.Cleanup(sim.Close)
	p := payCIT(t, sim)

	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(received) == 3 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // nothing after the 200
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, received, 3)
	require.Len(t, ids, 3)
	for _, cb := range received {
		require.Equal(t, egwsim.Callback{Type: "PAYMENT", PaymentID: p}, cb)
	}
}

// payCIT makes a CIT payment at sim and completes its checkout.
func payCIT(t *testing.T, sim *egwsim.Sim) (paymentID string) {
	t.Helper()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	gw, err := egw.New(egw.Config{BaseURL: srv.URL, TokenURL: srv.URL + "/oauth2/token",
		ClientID: egwsim.DefaultClientID, ClientSecret: egwsim.DefaultClientSecret,
		ParticipantID: egwsim.DefaultParticipantID, ShopAgreementID: egwsim.DefaultShopAgreementID}, nil)
	require.NoError(t, err)
	p, err := gw.CreateCITPayment(t.Context(), gatewayCIT())
	require.NoError(t, err)
	_, err = sim.CompleteCheckout(p.ID, egwsim.CheckoutComplete)
	require.NoError(t, err)
	return p.ID
}

func TestCallbacksGiveUpAfterTheLastDelay(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tries := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		tries++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(receiver.Close)
	sim := egwsim.New(egwsim.Options{CallbackURL: receiver.URL, CallbackDelays: []time.Duration{time.Millisecond, time.Millisecond}}, nil)
	t.Cleanup(sim.Close)
	payCIT(t, sim)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return tries == 3 }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 3, tries, "the first try and one per delay")
}

func gatewayCIT() gateway.CITPaymentRequest {
	return gateway.CITPaymentRequest{Amount: billing.Money{Currency: "EUR"}, OrderNumber: "S-1",
		SetupPurposes: []gateway.Purpose{gateway.PurposeSubscription}, ReturnURL: "https://shop.example/back"}
}
