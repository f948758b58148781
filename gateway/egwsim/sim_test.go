package egwsim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// These tests speak raw HTTP to reach what the EGW client never sends; the client's contract
// test in gateway/egw covers the rest.

type server struct {
	t     *testing.T
	url   string
	clock *billing.ManualClock
	sim   *egwsim.Sim
}

func newServer(t *testing.T, opts egwsim.Options) *server {
	t.Helper()
	clock := billing.NewManualClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	opts.Clock = clock
	sim := egwsim.New(opts, nil)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return &server{t: t, url: srv.URL, clock: clock, sim: sim}
}

// token posts form to the token endpoint, with basic auth user:pass unless user is empty.
func (s *server) token(form url.Values, user, pass string) (int, map[string]any) {
	req, err := http.NewRequest(http.MethodPost, s.url+"/oauth2/token", strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return s.send(req)
}

func (s *server) bearer() string {
	status, body := s.token(url.Values{"grant_type": {"client_credentials"}}, egwsim.DefaultClientID, egwsim.DefaultClientSecret)
	require.Equal(s.t, http.StatusOK, status)
	return body["access_token"].(string)
}

// egw sends an EGW request with the given bearer token and request id.
func (s *server) egw(method, path, body, bearer, requestID string) (int, map[string]any) {
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	return s.send(req)
}

func (s *server) send(req *http.Request) (int, map[string]any) {
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	var body map[string]any
	require.NoError(s.t, json.Unmarshal(raw, &body), string(raw))
	return resp.StatusCode, body
}

// code is the first apiClientMessages code of an error body.
func code(body map[string]any) string {
	msgs, _ := body["apiClientMessages"].([]any)
	if len(msgs) == 0 {
		return ""
	}
	c, _ := msgs[0].(map[string]any)["code"].(string)
	return c
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{ClientID: "c i", ClientSecret: "s&cret"})
	cc := url.Values{"grant_type": {"client_credentials"}}

	status, body := s.token(cc, url.QueryEscape("c i"), url.QueryEscape("s&cret"))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, egwsim.DefaultTokenTTL.Seconds(), body["expires_in"])

	status, _ = s.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"c i"}, "client_secret": {"s&cret"}}, "", "")
	require.Equal(t, http.StatusOK, status, "credentials in the form")

	status, body = s.token(cc, "c+i", "wrong")
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "invalid_client", body["error"])

	status, body = s.token(url.Values{"grant_type": {"password"}}, "c+i", "s%26cret")
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "unsupported_grant_type", body["error"])
}

func TestEGWCallsNeedBearerAndRequestID(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{TokenTTL: time.Minute})
	bearer, id := s.bearer(), uuid.NewString()
	const path = "/egw/v1/tokens/" + egwsim.TokenActive

	status, _ := s.egw(http.MethodGet, path, "", bearer, id)
	require.Equal(t, http.StatusOK, status)

	for name, c := range map[string]struct {
		bearer, id string
		status     int
	}{
		"no bearer":            {"", id, http.StatusUnauthorized},
		"unknown bearer":       {"forged", id, http.StatusUnauthorized},
		"no request id":        {bearer, "", http.StatusBadRequest},
		"request id not UUID":  {bearer, "1234", http.StatusBadRequest},
		"request id with urn:": {bearer, "urn:uuid:" + id, http.StatusBadRequest},
	} {
		status, body := s.egw(http.MethodGet, path, "", c.bearer, c.id)
		require.Equal(t, c.status, status, name)
		require.NotEmpty(t, code(body), name)
	}

	s.clock.Advance(time.Minute)
	status, body := s.egw(http.MethodGet, path, "", bearer, id)
	require.Equal(t, http.StatusUnauthorized, status, "expired bearer")
	require.Equal(t, egwsim.CodeUnauthorized, code(body))
}

func TestMITPaymentValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	valid := map[string]any{
		"channel":          "RECURRING",
		"instructedAmount": map[string]any{"amount": "10.50", "currency": map[string]any{"currencyCode": "EUR"}},
		"orderNumber":      "R1",
		"participantId":    egwsim.DefaultParticipantID,
		"shopAgreementId":  egwsim.DefaultShopAgreementID,
	}
	post := func(edit func(map[string]any)) (int, map[string]any) {
		b := map[string]any{}
		for k, v := range valid {
			b[k] = v
		}
		edit(b)
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		return s.egw(http.MethodPost, "/egw/v1/payments/mit", string(raw), bearer, uuid.NewString())
	}
	amount := func(a, cur string) map[string]any {
		return map[string]any{"amount": a, "currency": map[string]any{"currencyCode": cur}}
	}

	status, body := post(func(map[string]any) {})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "INITIALIZED", body["paymentStatus"])
	require.Equal(t, map[string]any{"amount": "10.50", "currency": map[string]any{"currencyCode": "EUR"}}, body["instructedAmount"])

	for name, c := range map[string]struct {
		edit   func(map[string]any)
		status int
	}{
		"too many fraction digits": {func(b map[string]any) { b["instructedAmount"] = amount("10.505", "EUR") }, http.StatusBadRequest},
		"not a number":             {func(b map[string]any) { b["instructedAmount"] = amount("ten", "EUR") }, http.StatusBadRequest},
		"unknown currency":         {func(b map[string]any) { b["instructedAmount"] = amount("10", "EURO") }, http.StatusBadRequest},
		"zero amount":              {func(b map[string]any) { b["instructedAmount"] = amount("0", "EUR") }, http.StatusBadRequest},
		"no amount":                {func(b map[string]any) { delete(b, "instructedAmount") }, http.StatusBadRequest},
		"BROWSER channel":          {func(b map[string]any) { b["channel"] = "BROWSER" }, http.StatusBadRequest},
		"order number with space":  {func(b map[string]any) { b["orderNumber"] = "R 1" }, http.StatusBadRequest},
		"no participant":           {func(b map[string]any) { delete(b, "participantId") }, http.StatusBadRequest},
		"other participant":        {func(b map[string]any) { b["participantId"] = "other" }, http.StatusForbidden},
		"other shop":               {func(b map[string]any) { b["shopAgreementId"] = "other" }, http.StatusForbidden},
		"amount as number":         {func(b map[string]any) { b["instructedAmount"] = map[string]any{"amount": 10.5} }, http.StatusBadRequest},
	} {
		status, body := post(c.edit)
		require.Equal(t, c.status, status, name)
		require.NotEmpty(t, code(body), name)
	}
	require.Len(t, s.sim.Ledger(), 1)
}

func TestCaptureValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	status, body := s.egw(http.MethodPost, "/egw/v1/payments/mit", `{"channel":"MERCHANT","orderNumber":"R1",
		"instructedAmount":{"amount":"10","currency":{"currencyCode":"EUR"}},
		"participantId":"`+egwsim.DefaultParticipantID+`","shopAgreementId":"`+egwsim.DefaultShopAgreementID+`"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
	id := body["paymentId"].(string)
	status, _ = s.egw(http.MethodPost, "/egw/v1/payments/"+id+"/sessions/token", `{"gatewayTokenId":"`+egwsim.TokenActive+`"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)

	for name, amount := range map[string]string{"other currency": `"10","currency":{"currencyCode":"USD"}`, "malformed": `"10.001","currency":{"currencyCode":"EUR"}`} {
		status, body := s.egw(http.MethodPatch, "/egw/v1/payments/"+id+"/capture", `{"instructedAmount":{"amount":`+amount+`}}`, bearer, uuid.NewString())
		require.Equal(t, http.StatusBadRequest, status, name)
		require.Equal(t, egwsim.CodeInvalidRequest, code(body), name)
	}
	status, body = s.egw(http.MethodPatch, "/egw/v1/payments/"+id+"/cancel", `{"reason":"BORED"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusBadRequest, status, "unknown cancel reason")
	require.Equal(t, egwsim.CodeInvalidRequest, code(body), "unknown cancel reason")
	status, _ = s.egw(http.MethodPatch, "/egw/v1/payments/"+id+"/cancel", `{"reason":"CUSTOMER_CANCELLED"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
}

func TestLedgerOverHTTP(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	for _, ch := range []gateway.Channel{gateway.ChannelRecurring, gateway.ChannelMerchant} {
		status, _ := s.egw(http.MethodPost, "/egw/v1/payments/mit", `{"channel":"`+string(ch)+`","orderNumber":"R1",
			"instructedAmount":{"amount":"1.50","currency":{"currencyCode":"EUR"}},
			"participantId":"`+egwsim.DefaultParticipantID+`","shopAgreementId":"`+egwsim.DefaultShopAgreementID+`"}`, bearer, uuid.NewString())
		require.Equal(t, http.StatusOK, status)
	}
	resp, err := http.Get(s.url + "/sim/ledger")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var entries []egwsim.Entry
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&entries))
	require.Equal(t, s.sim.Ledger(), entries)
	require.Equal(t, []gateway.Channel{gateway.ChannelRecurring, gateway.ChannelMerchant}, []gateway.Channel{entries[0].Channel, entries[1].Channel})
	require.Equal(t, billing.Money{Amount: 150, Currency: "EUR"}, entries[0].Instructed)
}

func TestAddTokenAndDeclineCode(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	s.sim.AddToken(egwsim.Token{Token: gateway.Token{ID: "tok_poor", Status: gateway.TokenActive,
		Purposes: []gateway.Purpose{gateway.PurposeUnscheduled}, Brand: "VISA", Last4: "1111", ExpiryMonth: 2, ExpiryYear: 2030},
		DeclineCode: egw.CodeInsufficientFunds})
	bearer := s.bearer()
	status, body := s.egw(http.MethodGet, "/egw/v7/tokens/tok_poor", "", bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"month": "02", "year": "30"}, body["card"].(map[string]any)["expiry"])

	status, body = s.egw(http.MethodPost, "/egw/v7/payments/mit", `{"channel":"MERCHANT","orderNumber":"R1",
		"instructedAmount":{"amount":"10","currency":{"currencyCode":"EUR"}},
		"participantId":"`+egwsim.DefaultParticipantID+`","shopAgreementId":"`+egwsim.DefaultShopAgreementID+`"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
	id := body["paymentId"].(string)
	status, body = s.egw(http.MethodPost, "/egw/v7/payments/"+id+"/sessions/token", `{"gatewayTokenId":"tok_poor"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, egw.CodeInsufficientFunds, code(body))
	e, ok := s.sim.Payment(id)
	require.True(t, ok)
	require.Equal(t, gateway.PaymentFailed, e.Status)
}

// TestSeededTokenVariants: tok_sim_active_<anything> is a token of its own that behaves like
// tok_sim_active, so that each walk-through or test can register a token nobody else has.
func TestSeededTokenVariants(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	status, body := s.egw(http.MethodGet, "/egw/v1/tokens/tok_sim_active_42", "", bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "tok_sim_active_42", body["gatewayTokenId"])
	require.Equal(t, "ACTIVE", body["tokenStatus"])
	status, body = s.egw(http.MethodGet, "/egw/v1/tokens/tok_sim_suspended_x", "", bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "SUSPENDED", body["tokenStatus"])
	status, _ = s.egw(http.MethodGet, "/egw/v1/tokens/tok_sim_activex", "", bearer, uuid.NewString())
	require.Equal(t, http.StatusNotFound, status, "only an id that extends a seeded one with _")
}
