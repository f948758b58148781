package egw_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// stub serves the simulator's token endpoint and answers every EGW call with egwHandler.
type stub struct {
	srv       *httptest.Server
	tokenHits atomic.Int32
	mu        sync.Mutex
	requests  []*http.Request // the EGW requests received
}

func newStub(t *testing.T, egwHandler http.HandlerFunc) *stub {
	t.Helper()
	s := &stub{}
	sim := egwsim.New(egwsim.Options{}, nil).Handler()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/token" {
			s.tokenHits.Add(1)
			sim.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Clone(context.Background()))
		s.mu.Unlock()
		egwHandler(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// client returns a client of the stub's token endpoint and of baseURL (default: the stub).
func (s *stub) client(t *testing.T, edit ...func(*egw.Config)) *egw.Client {
	t.Helper()
	cfg := egw.Config{
		BaseURL: s.srv.URL, TokenURL: s.srv.URL + "/oauth2/token",
		ClientID: egwsim.DefaultClientID, ClientSecret: egwsim.DefaultClientSecret,
		ParticipantID: "p", ShopAgreementID: "s", Timeout: 5 * time.Second,
	}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := egw.New(cfg, nil)
	require.NoError(t, err)
	return c
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// The operations by the HTTP method they use: GET reads, the others mutate.
var (
	get = func(ctx context.Context, c *egw.Client) error { _, err := c.GetPayment(ctx, "p1"); return err }
	// post creates a payment.
	post = func(ctx context.Context, c *egw.Client) error {
		_, err := c.CreateMITPayment(ctx, gateway.MITPaymentRequest{Channel: gateway.ChannelRecurring, Amount: eur(100), OrderNumber: "R1"})
		return err
	}
	session = func(ctx context.Context, c *egw.Client) error {
		_, err := c.StartTokenSession(ctx, "p1", "t1")
		return err
	}
	patch = func(ctx context.Context, c *egw.Client) error { _, err := c.Capture(ctx, "p1", eur(100)); return err }
	del   = func(ctx context.Context, c *egw.Client) error { _, err := c.DeactivateToken(ctx, "t1"); return err }
)

func decline(code string) string {
	return `{"apiClientMessages":[{"category":"ERROR","code":"INFO","text":"x"},{"category":"ERROR","code":"` + code + `","text":"refused"}]}`
}

func TestStatusClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		call   func(context.Context, *egw.Client) error
		status int
		body   string
		class  gateway.Class
		code   string
	}{
		{"503 on POST", post, 503, `{}`, gateway.Transient, ""},
		{"429 on PATCH", patch, 429, ``, gateway.Transient, ""},
		{"500 on POST", post, 500, `{}`, gateway.UnknownOutcome, ""},
		{"502 on PATCH", patch, 502, `<html>`, gateway.UnknownOutcome, ""},
		{"500 on DELETE", del, 500, ``, gateway.UnknownOutcome, ""},
		{"500 on GET", get, 500, ``, gateway.Transient, ""},
		{"409 on PATCH", patch, 409, `{"apiClientMessages":[{"code":"X"}]}`, gateway.UnknownOutcome, "X"},
		{"409 on GET", get, 409, ``, gateway.UnknownOutcome, ""},
		{"400 decline", session, 400, decline(egw.CodeInsufficientFunds), gateway.Declined, egw.CodeInsufficientFunds},
		{"402 decline", session, 402, decline(egw.CodeDoNotHonor), gateway.Declined, egw.CodeDoNotHonor},
		{"422 decline", session, 422, decline(egw.CodeCardExpired), gateway.Declined, egw.CodeCardExpired},
		{"400 other code", post, 400, `{"apiClientMessages":[{"code":"INVALID_REQUEST"}]}`, gateway.Permanent, "INVALID_REQUEST"},
		{"403 with decline code", session, 403, decline(egw.CodeDoNotHonor), gateway.Permanent, egw.CodeDoNotHonor},
		{"404", get, 404, `{"apiClientMessages":[{"code":"NOT_FOUND"}]}`, gateway.Permanent, "NOT_FOUND"},
		{"400 undecodable body", post, 400, `not json`, gateway.Permanent, ""},
		{"redirect", post, 302, ``, gateway.Permanent, ""},
		{"2xx undecodable on POST", post, 200, `not json`, gateway.UnknownOutcome, ""},
		{"2xx without paymentId on POST", post, 200, `{"paymentStatus":"INITIALIZED"}`, gateway.UnknownOutcome, ""},
		{"2xx undecodable on PATCH", patch, 200, `{"paymentId":`, gateway.UnknownOutcome, ""},
		{"2xx undecodable on GET", get, 200, `[]`, gateway.Transient, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, answer(tc.status, tc.body))
			err := tc.call(t.Context(), s.client(t))
			requireClass(t, err, tc.class, tc.status, tc.code)
			if tc.class == gateway.Declined {
				require.Equal(t, "refused", err.(*gateway.Error).Text)
			}
		})
	}
}

func TestNotFoundIsReported(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(404, `{}`))
	_, err := s.client(t).GetToken(t.Context(), "t1")
	require.True(t, gateway.IsNotFound(err))
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestRequestThatNeverLeftIsTransient(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(200, `{}`))
	down := newStub(t, answer(503, `{}`))
	t.Cleanup(func() { // after the subtests
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Empty(t, s.requests)
	})
	for name, edit := range map[string]func(*egw.Config){
		"EGW refuses the connection":            func(c *egw.Config) { c.BaseURL = closedAddr(t) },
		"token endpoint refuses the connection": func(c *egw.Config) { c.TokenURL = closedAddr(t) + "/oauth2/token" },
		"token endpoint answers 503":            func(c *egw.Config) { c.TokenURL = down.srv.URL + "/down" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, call := range []func(context.Context, *egw.Client) error{post, patch, get} {
				err := call(t.Context(), s.client(t, edit))
				requireClass(t, err, gateway.Transient, 0, "")
			}
		})
	}
}

// hang reads the request and answers nothing until the client gives up. (The server notices
// that the client has gone only once the body has been read.)
func hang(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// reset closes the connection after reading the request, without an answer.
func reset(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func TestRequestWithoutAnswerAfterSending(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		call    func(context.Context, *egw.Client) error
		class   gateway.Class
	}{
		{"timeout on POST", hang, post, gateway.UnknownOutcome},
		{"timeout on PATCH", hang, patch, gateway.UnknownOutcome},
		{"timeout on GET", hang, get, gateway.Transient},
		{"reset on POST", reset, post, gateway.UnknownOutcome},
		{"reset on DELETE", reset, del, gateway.UnknownOutcome},
		{"reset on GET", reset, get, gateway.Transient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, tc.handler)
			err := tc.call(t.Context(), s.client(t, func(c *egw.Config) { c.Timeout = 200 * time.Millisecond }))
			requireClass(t, err, tc.class, 0, "")
		})
	}
}

func TestCallerCancellationBeforeSendingIsTransient(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(200, `{"paymentId":"p1","paymentStatus":"AUTHORIZED"}`))
	c := s.client(t)
	require.NoError(t, get(t.Context(), c)) // fetches the token
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	requireClass(t, post(ctx, c), gateway.Transient, 0, "")
}

func TestTokenIsFetchedOnceForManyCalls(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(200, `{"paymentId":"p1","paymentStatus":"AUTHORIZED"}`))
	c := s.client(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { require.NoError(t, get(t.Context(), c)) })
	}
	wg.Wait()
	require.NoError(t, get(t.Context(), c))
	require.EqualValues(t, 1, s.tokenHits.Load())
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.requests, 11)
	for _, r := range s.requests {
		require.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "))
	}
}

// The simulator's clock passes the token's lifetime while the client still holds it: the 401
// makes the client fetch a new token and resend the request, with the same request id.
func TestTokenIsRenewedWhenRejected(t *testing.T) {
	t.Parallel()
	h := newHarness(t, egwsim.Options{TokenTTL: time.Hour})
	ctx := t.Context()
	for range 3 {
		_, err := h.client.GetToken(ctx, egwsim.TokenActive)
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, h.wire.tokenHits.Load())

	h.clock.Advance(time.Hour)
	id := uuid.NewString()
	_, err := h.client.GetToken(gateway.WithRequestID(ctx, id), egwsim.TokenActive)
	require.NoError(t, err)
	require.EqualValues(t, 2, h.wire.tokenHits.Load())
	last := h.wire.exchanges[len(h.wire.exchanges)-2:]
	require.Equal(t, []int{http.StatusUnauthorized, http.StatusOK}, []int{last[0].status, last[1].status})
	require.Equal(t, id, last[0].requestID)
	require.Equal(t, id, last[1].requestID)
}

func TestRepeated401IsPermanentAndHidesTheToken(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(401, `{"apiClientMessages":[{"code":"UNAUTHORIZED","text":"no"}]}`))
	err := post(t.Context(), s.client(t))
	requireClass(t, err, gateway.Permanent, http.StatusUnauthorized, "UNAUTHORIZED")
	require.EqualValues(t, 2, s.tokenHits.Load(), "one renewal")
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.requests, 2)
	for _, r := range s.requests {
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		require.NotEmpty(t, bearer)
		require.NotContains(t, err.Error(), bearer)
	}
	require.NotContains(t, err.Error(), egwsim.DefaultClientSecret)
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	s := newStub(t, answer(200, `{"paymentId":"p1","paymentStatus":"AUTHORIZED"}`))
	c := s.client(t)
	for range 3 {
		require.NoError(t, get(t.Context(), c))
	}
	chosen := uuid.NewString()
	require.NoError(t, get(gateway.WithRequestID(t.Context(), chosen), c))

	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range s.requests[:3] {
		id := r.Header.Get("X-Request-Id")
		require.NoError(t, uuid.Validate(id))
		require.False(t, seen[id], "request id %s sent twice", id)
		seen[id] = true
	}
	require.Equal(t, chosen, s.requests[3].Header.Get("X-Request-Id"))
}
