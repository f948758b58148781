package egw_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// The contract tests run the real client against the real simulator over HTTP; the harness
// validates every request and answer against testdata/egw-openapi.json.

func eur(minor int64) billing.Money { return billing.Money{Amount: minor, Currency: "EUR"} }

// mit creates a payment of amount on channel ch.
func (h *harness) mit(t *testing.T, ch gateway.Channel, amount billing.Money) gateway.Payment {
	t.Helper()
	p, err := h.client.CreateMITPayment(t.Context(), gateway.MITPaymentRequest{
		Channel: ch, Amount: amount, OrderNumber: "R-2026/03:1", MerchantReference: "sub_1 March 2026",
	})
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentInitialized, p.Status)
	require.NotEmpty(t, p.ID)
	return p
}

// authorized creates a payment of amount and authorizes it with the active token.
func (h *harness) authorized(t *testing.T, amount billing.Money) gateway.Payment {
	t.Helper()
	p := h.mit(t, gateway.ChannelRecurring, amount)
	s, err := h.client.StartTokenSession(t.Context(), p.ID, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.SessionCompleted, s.Status)
	return p
}

func TestContractRecurringPaymentIsAuthorizedAndCaptured(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()

	tok, err := h.client.GetToken(ctx, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.Token{
		ID: egwsim.TokenActive, Status: gateway.TokenActive,
		Purposes:       []gateway.Purpose{gateway.PurposeCIT, gateway.PurposeUnscheduled, gateway.PurposeSubscription, gateway.PurposeStandingOrder},
		Last4:          "0005",
		CardholderName: "Sim Cardholder", ExpiryMonth: 12, ExpiryYear: 2099,
	}, tok)

	created := h.mit(t, gateway.ChannelRecurring, eur(1050))
	require.Equal(t, gateway.Payment{ID: created.ID, Status: gateway.PaymentInitialized, Channel: gateway.ChannelRecurring, Amount: eur(1050)}, created)

	s, err := h.client.StartTokenSession(ctx, created.ID, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.SessionCompleted, s.Status)
	require.NotEmpty(t, s.ID)

	p, err := h.client.GetPayment(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.Payment{
		ID: created.ID, Status: gateway.PaymentAuthorized, Channel: gateway.ChannelRecurring, Amount: eur(1050),
		TokenID: egwsim.TokenActive, Brand: "MASTERCARD", Last4: "0005",
	}, p)

	captured, err := h.client.Capture(ctx, created.ID, eur(1050))
	require.NoError(t, err)
	require.Equal(t, gateway.Payment{ID: created.ID, Status: gateway.PaymentCaptured}, captured)

	e, ok := h.sim.Payment(created.ID)
	require.True(t, ok)
	require.Equal(t, egwsim.Entry{
		PaymentID: created.ID, OrderNumber: "R-2026/03:1", MerchantReference: "sub_1 March 2026",
		Channel: gateway.ChannelRecurring, TokenID: egwsim.TokenActive, Status: gateway.PaymentCaptured,
		Instructed: eur(1050), Authorized: eur(1050), Captured: eur(1050),
		CreatedAt: start, SessionAt: start, AuthorizedAt: start, CapturedAt: start,
	}, e)
	require.Len(t, h.sim.Ledger(), 1)

	// What EGW refuses in the state CAPTURED is a conflict, whose outcome the caller must read.
	_, err = h.client.Capture(ctx, created.ID, eur(1050))
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)
	_, err = h.client.Cancel(ctx, created.ID)
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)
	_, err = h.client.StartTokenSession(ctx, created.ID, egwsim.TokenActive)
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)
	require.Len(t, h.wire.exchanges, 8, "every call validated")
}

func TestContractMerchantPaymentIsCapturedInPart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	p := h.mit(t, gateway.ChannelMerchant, billing.Money{Amount: 1200, Currency: "JPY"})
	_, err := h.client.StartTokenSession(t.Context(), p.ID, egwsim.TokenActive)
	require.NoError(t, err)

	_, err = h.client.Capture(t.Context(), p.ID, billing.Money{Amount: 1201, Currency: "JPY"})
	requireClass(t, err, gateway.Permanent, http.StatusBadRequest, egwsim.CodeAmountExceedsAuthorized)

	_, err = h.client.Capture(t.Context(), p.ID, billing.Money{Amount: 500, Currency: "JPY"})
	require.NoError(t, err)
	e, _ := h.sim.Payment(p.ID)
	require.Equal(t, billing.Money{Amount: 1200, Currency: "JPY"}, e.Authorized)
	require.Equal(t, billing.Money{Amount: 500, Currency: "JPY"}, e.Captured)
}

func TestContractCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()

	initialized := h.mit(t, gateway.ChannelRecurring, eur(990))
	p, err := h.client.Cancel(ctx, initialized.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.Payment{ID: initialized.ID, Status: gateway.PaymentCancelled}, p)
	_, err = h.client.StartTokenSession(ctx, initialized.ID, egwsim.TokenActive)
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)

	authorized := h.authorized(t, eur(990))
	_, err = h.client.Cancel(ctx, authorized.ID)
	require.NoError(t, err)
	_, err = h.client.Capture(ctx, authorized.ID, eur(990))
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)
	e, _ := h.sim.Payment(authorized.ID)
	require.True(t, e.Cancelled)
	require.Equal(t, gateway.PaymentCancelled, e.Status)
	require.Zero(t, e.Captured.Amount)
}

func TestContractDeclines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		token   string
		channel gateway.Channel
		code    string
	}{
		{"issuer declines", egwsim.TokenDeclined, gateway.ChannelRecurring, egw.CodeAuthorizationDeclined},
		{"insufficient funds", egwsim.TokenInsufficientFunds, gateway.ChannelMerchant, egw.CodeInsufficientFunds},
		{"suspended token", egwsim.TokenSuspended, gateway.ChannelRecurring, egw.CodeTokenSuspended},
		{"expired card", egwsim.TokenExpired, gateway.ChannelMerchant, egw.CodeCardExpired},
		{"no UNSCHEDULED purpose", "tok_subscription_only", gateway.ChannelMerchant, egw.CodeTokenPurposeMismatch},
		{"no recurring purpose", "tok_unscheduled_only", gateway.ChannelRecurring, egw.CodeTokenPurposeMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, egwsim.Options{})
			for id, purpose := range map[string]gateway.Purpose{"tok_subscription_only": gateway.PurposeSubscription, "tok_unscheduled_only": gateway.PurposeUnscheduled} {
				h.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: id, Status: gateway.TokenActive, Purposes: []gateway.Purpose{purpose},
					Brand: "VISA", Last4: "4242", ExpiryMonth: 6, ExpiryYear: 2031}})
			}
			p := h.mit(t, tc.channel, eur(1999))

			_, err := h.client.StartTokenSession(t.Context(), p.ID, tc.token)
			ge := requireClass(t, err, gateway.Declined, http.StatusBadRequest, tc.code)
			require.NotEmpty(t, ge.Text)

			got, err := h.client.GetPayment(t.Context(), p.ID)
			require.NoError(t, err)
			require.Equal(t, gateway.PaymentFailed, got.Status)
			require.Equal(t, tc.token, got.TokenID)
			e, _ := h.sim.Payment(p.ID)
			require.Equal(t, tc.code, e.DeclineCode)
			require.Zero(t, e.Authorized.Amount)
		})
	}
}

func TestContractProcessingDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{ProcessingDelay: 30 * time.Second})
	ctx := t.Context()
	ok := h.mit(t, gateway.ChannelRecurring, eur(500))
	declined := h.mit(t, gateway.ChannelRecurring, eur(500))

	for _, c := range []struct{ payment, token string }{{ok.ID, egwsim.TokenActive}, {declined.ID, egwsim.TokenDeclined}} {
		s, err := h.client.StartTokenSession(ctx, c.payment, c.token)
		require.NoError(t, err)
		require.Equal(t, gateway.SessionSentForProcessing, s.Status)
		p, err := h.client.GetPayment(ctx, c.payment)
		require.NoError(t, err)
		require.Equal(t, gateway.PaymentSentForProcessing, p.Status)
	}
	_, err := h.client.Capture(ctx, ok.ID, eur(500))
	requireClass(t, err, gateway.UnknownOutcome, http.StatusConflict, egwsim.CodeInvalidState)

	h.clock.Advance(30 * time.Second)
	p, err := h.client.GetPayment(ctx, ok.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentAuthorized, p.Status)
	p, err = h.client.GetPayment(ctx, declined.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentFailed, p.Status)
	_, err = h.client.Capture(ctx, ok.ID, eur(500))
	require.NoError(t, err)
}

func TestContractNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	p := h.mit(t, gateway.ChannelRecurring, eur(100))
	const missing = "00000000-0000-0000-0000-000000000000"

	_, err := h.client.GetToken(ctx, "tok_missing")
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	require.True(t, gateway.IsNotFound(err))
	_, err = h.client.DeactivateToken(ctx, "tok_missing")
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	_, err = h.client.GetPayment(ctx, missing)
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	_, err = h.client.StartTokenSession(ctx, missing, egwsim.TokenActive)
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	_, err = h.client.StartTokenSession(ctx, p.ID, "tok_missing")
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	_, err = h.client.Capture(ctx, missing, eur(100))
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
	_, err = h.client.Cancel(ctx, missing)
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
}

func TestContractDeactivateToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	status, err := h.client.DeactivateToken(ctx, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.TokenSuspended, status)
	tok, err := h.client.GetToken(ctx, egwsim.TokenActive)
	require.NoError(t, err)
	require.Equal(t, gateway.TokenSuspended, tok.Status)

	p := h.mit(t, gateway.ChannelRecurring, eur(100))
	_, err = h.client.StartTokenSession(ctx, p.ID, egwsim.TokenActive)
	requireClass(t, err, gateway.Declined, http.StatusBadRequest, egw.CodeTokenSuspended)
}

func TestContractRefusesMerchantOfAnotherShop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{}, func(c *egw.Config) { c.ShopAgreementID = "someone-elses-shop" })
	_, err := h.client.CreateMITPayment(t.Context(), gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "R1"})
	requireClass(t, err, gateway.Permanent, http.StatusForbidden, egwsim.CodeForbidden)
	require.Empty(t, h.sim.Ledger())
}

func TestContractBadSecretIsPermanentAndNotShown(t *testing.T) {
	t.Parallel()
	const secret = "wrong-secret-a5f3"
	h := newHarness(t, egwsim.Options{}, func(c *egw.Config) { c.ClientSecret = secret })
	_, err := h.client.CreateMITPayment(t.Context(), gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "R1"})
	requireClass(t, err, gateway.Permanent, 0, "invalid_client")
	require.NotContains(t, err.Error(), secret)
	require.Empty(t, h.wire.exchanges, "no EGW request without a token")
	require.Empty(t, h.sim.Ledger())
}

func TestContractUnservedVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{Version: "v1"}, func(c *egw.Config) { c.Version = "v2" })
	_, err := h.client.GetToken(t.Context(), egwsim.TokenActive)
	requireClass(t, err, gateway.Permanent, http.StatusNotFound, egwsim.CodeNotFound)
}

// A fault after the effect is the lost answer: the client cannot tell, and reading the payment
// tells.
func TestContractLostAnswerIsReconciledByReading(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	p := h.authorized(t, eur(2500))

	h.sim.FailNext(egwsim.OpCapture, egwsim.Fault{Status: http.StatusInternalServerError, AfterEffect: true})
	_, err := h.client.Capture(ctx, p.ID, eur(2500))
	requireClass(t, err, gateway.UnknownOutcome, http.StatusInternalServerError, egwsim.CodeSimulatedFault)

	h.sim.FailNext(egwsim.OpGetPayment, egwsim.Fault{Status: http.StatusServiceUnavailable})
	_, err = h.client.GetPayment(ctx, p.ID)
	requireClass(t, err, gateway.Transient, http.StatusServiceUnavailable, egwsim.CodeSimulatedFault)

	got, err := h.client.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentCaptured, got.Status)

	h.sim.FailNext(egwsim.OpInitiateMitPayment, egwsim.Fault{Status: http.StatusTooManyRequests})
	_, err = h.client.CreateMITPayment(ctx, gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "R2"})
	requireClass(t, err, gateway.Transient, http.StatusTooManyRequests, egwsim.CodeSimulatedFault)
	require.Len(t, h.sim.Ledger(), 1, "a fault before the effect creates nothing")
}

// Requests the client refuses to send: they would break the contract.
func TestContractInvalidInputIsNotSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	for _, req := range []gateway.MITPaymentRequest{
		{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "has spaces"},
		{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: ""},
		{Channel: gateway.ChannelRecurring, Amount: billing.Money{Amount: 100, Currency: "eur"}, OrderNumber: "R1"},
	} {
		_, err := h.client.CreateMITPayment(ctx, req)
		requireClass(t, err, gateway.Permanent, 0, "")
	}
	_, err := h.client.GetToken(gateway.WithRequestID(ctx, "not-a-uuid"), egwsim.TokenActive)
	requireClass(t, err, gateway.Permanent, 0, "")
	require.Empty(t, h.wire.exchanges)
}

// The copy in testdata is the contract version tested; it must be the shared one, which lives in
// shared/egw beside the repository.
func TestContractCopyMatchesSharedSpec(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(".")
	require.NoError(t, err)
	var shared string
	for d := dir; ; d = filepath.Dir(d) {
		if p := filepath.Join(d, "shared", "egw", "egw-openapi.json"); fileExists(p) {
			shared = p
			break
		}
		if filepath.Dir(d) == d {
			t.Fatalf("shared/egw/egw-openapi.json not found above %s", dir)
		}
	}
	want, err := os.ReadFile(shared)
	require.NoError(t, err)
	got, err := os.ReadFile(specPath)
	require.NoError(t, err)
	require.True(t, strings.TrimSpace(string(want)) == strings.TrimSpace(string(got)),
		"%s differs from %s: copy it after checking the client and simulator against the change", specPath, shared)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// The validator is not vacuous: it rejects requests and answers that break the contract.
func TestContractValidatorCatchesBreaches(t *testing.T) {
	t.Parallel()
	lv, err := contract()
	require.NoError(t, err)
	base := "https://sandbox-api.ecomm.api.tietoevry.com/egw/v1/"

	for name, req := range map[string]*http.Request{
		"no X-Request-Id": httptest.NewRequest(http.MethodGet, base+"tokens/tok_1", nil),
		"order number with spaces": withRequestID(httptest.NewRequest(http.MethodPost, base+"payments/mit", strings.NewReader(
			`{"channel":"RECURRING","instructedAmount":{"amount":"1.00","currency":{"currencyCode":"EUR"}},"orderNumber":"a b","participantId":"p","shopAgreementId":"s"}`))),
		"capture without amount": withRequestID(httptest.NewRequest(http.MethodPatch, base+"payments/p1/capture", strings.NewReader(`{}`))),
	} {
		req.Header.Set("Content-Type", "application/json")
		ok, _ := lv.v.ValidateHttpRequestSync(req)
		require.False(t, ok, name)
	}

	req := withRequestID(httptest.NewRequest(http.MethodGet, base+"payments/p1?withCheckoutBranding=false", nil))
	ok, errs := lv.v.ValidateHttpRequestSync(req)
	require.True(t, ok, describe(errs))
	for name, body := range map[string]string{
		"unknown status":   `{"paymentId":"p1","paymentStatus":"PAID"}`,
		"three-digit year": `{"paymentId":"p1","paymentMethod":{"type":"CARD","card":{"expiry":{"month":"12","year":"2099"}}}}`,
	} {
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req}
		ok, _ := lv.v.ValidateHttpResponse(req, resp)
		require.False(t, ok, name)
	}
}

func withRequestID(r *http.Request) *http.Request {
	r.Header.Set("X-Request-Id", "5f0c6f0e-8d4c-4a7e-9a59-2f6d9d1e6b01")
	return r
}

// cit creates a zero-amount CIT payment that sets a token up with purposes.
func (h *harness) cit(t *testing.T, purposes ...gateway.Purpose) gateway.Payment {
	t.Helper()
	p, err := h.client.CreateCITPayment(t.Context(), gateway.CITPaymentRequest{
		Amount: eur(0), OrderNumber: "S-1", MerchantReference: "setup 1", SetupPurposes: purposes,
		ReturnURL: "https://recur.example/v1/payment_method_setups/1/return",
	})
	require.NoError(t, err)
	return p
}

// checkout posts the customer's outcome to the hosted checkout page and returns where the
// customer is sent back to.
func checkout(t *testing.T, checkoutURL, outcome string) string {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(checkoutURL+"?outcome="+outcome, "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	return resp.Header.Get("Location")
}

func TestContractCITPaymentSetsUpAToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	ctx := t.Context()
	p := h.cit(t, gateway.PurposeSubscription, gateway.PurposeUnscheduled)
	require.Equal(t, gateway.PaymentInitialized, p.Status)
	require.Equal(t, h.srv.URL+"/sim/checkout/"+p.ID, p.CheckoutURL)

	page, err := http.Get(p.CheckoutURL)
	require.NoError(t, err)
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Contains(t, string(html), `value="complete"`)
	require.Contains(t, string(html), `value="fail"`)

	require.Equal(t, "https://recur.example/v1/payment_method_setups/1/return", checkout(t, p.CheckoutURL, egwsim.CheckoutComplete))
	read, err := h.client.GetPayment(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentAuthorized, read.Status)
	require.True(t, read.Succeeded() && read.Final())
	require.Equal(t, gateway.ChannelBrowser, read.Channel)
	require.Equal(t, eur(0), read.Amount)
	require.True(t, strings.HasPrefix(read.TokenID, egwsim.TokenCITPrefix), read.TokenID)

	tok, err := h.client.GetToken(ctx, read.TokenID)
	require.NoError(t, err)
	require.Equal(t, gateway.TokenActive, tok.Status)
	require.Equal(t, []gateway.Purpose{gateway.PurposeSubscription, gateway.PurposeUnscheduled}, tok.Purposes)
	require.Equal(t, "0005", tok.Last4)

	// The new token pays a recurring payment; deactivated, it pays nothing more, and deactivating
	// it again answers the same.
	h.authorizedWith(t, read.TokenID)
	for range 2 {
		status, err := h.client.DeactivateToken(ctx, read.TokenID)
		require.NoError(t, err)
		require.Equal(t, gateway.TokenSuspended, status)
	}
	m := h.mit(t, gateway.ChannelRecurring, eur(100))
	_, err = h.client.StartTokenSession(ctx, m.ID, read.TokenID)
	requireClass(t, err, gateway.Declined, http.StatusBadRequest, egw.CodeTokenSuspended)

	// A finished checkout cannot be finished again.
	resp, err := http.Post(p.CheckoutURL+"?outcome=fail", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestContractCITPaymentFailedCheckout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	p := h.cit(t, gateway.PurposeSubscription)
	checkout(t, p.CheckoutURL, egwsim.CheckoutFail)
	read, err := h.client.GetPayment(t.Context(), p.ID)
	require.NoError(t, err)
	require.Equal(t, gateway.PaymentFailed, read.Status)
	require.True(t, read.Final())
	require.False(t, read.Succeeded())
	require.Empty(t, read.TokenID)
}

func TestContractCITPaymentRefusesBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{})
	_, err := h.client.CreateCITPayment(t.Context(), gateway.CITPaymentRequest{Amount: eur(0), OrderNumber: "S-1", ReturnURL: "https://x.example/"})
	requireClass(t, err, gateway.Permanent, http.StatusBadRequest, egwsim.CodeInvalidRequest) // 0 without a token set up
	_, err = h.client.CreateCITPayment(t.Context(), gateway.CITPaymentRequest{Amount: eur(0), OrderNumber: "S-1", SetupPurposes: []gateway.Purpose{gateway.PurposeCIT}})
	requireClass(t, err, gateway.Permanent, 0, "") // no return URL: not sent
	require.Empty(t, h.sim.Ledger())
}

// authorizedWith creates a recurring payment and authorizes it with tokenID.
func (h *harness) authorizedWith(t *testing.T, tokenID string) {
	t.Helper()
	p := h.mit(t, gateway.ChannelRecurring, eur(100))
	s, err := h.client.StartTokenSession(t.Context(), p.ID, tokenID)
	require.NoError(t, err)
	require.Equal(t, gateway.SessionCompleted, s.Status)
}
