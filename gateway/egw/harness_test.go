package egw_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// specPath is the copy of the EGW contract that the tests hold the client and simulator to.
const specPath = "testdata/egw-openapi.json"

// contract is the validator built from specPath, shared by all tests.
var contract = sync.OnceValues(func() (*lockedValidator, error) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &lockedValidator{v: v}, nil
})

// lockedValidator serializes validations: the library does not promise to be safe for concurrent use.
type lockedValidator struct {
	mu sync.Mutex
	v  validator.Validator
}

// undocumented are the statuses that the contract does not list but that any EGW call may
// answer: 401 (the contract requires a bearer token without listing the status) and the 429 and
// 500 of injected faults. Their bodies are checked to be an ErrorResponse.
var undocumented = []int{http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusInternalServerError}

// exchange is a validated request and its answer.
type exchange struct {
	method, path, requestID string
	status                  int
}

// validating is an http.RoundTripper that checks every EGW request and answer against the
// contract and records them. Token endpoint requests are passed through and counted.
type validating struct {
	t         *testing.T
	next      http.RoundTripper
	mu        sync.Mutex
	exchanges []exchange
	tokenHits atomic.Int32
}

func (vt *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/egw/") {
		vt.tokenHits.Add(1)
		return vt.next.RoundTrip(req)
	}
	reqBody := readAll(vt.t, &req.Body)
	resp, err := vt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody := readAll(vt.t, &resp.Body)

	lv, err := contract()
	require.NoError(vt.t, err)
	lv.mu.Lock()
	defer lv.mu.Unlock()
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	if ok, errs := lv.v.ValidateHttpRequestSync(vreq); !ok {
		vt.t.Errorf("request %s %s breaks the contract:%s", req.Method, req.URL, describe(errs))
	}
	if slices.Contains(undocumented, resp.StatusCode) {
		var e egw.ErrorResponse
		require.NoError(vt.t, json.Unmarshal(respBody, &e), "answer %d to %s %s", resp.StatusCode, req.Method, req.URL.Path)
	} else {
		vresp := *resp
		vresp.Body = io.NopCloser(bytes.NewReader(respBody))
		if ok, errs := lv.v.ValidateHttpResponse(vreq, &vresp); !ok {
			vt.t.Errorf("answer %d to %s %s breaks the contract:%s\n%s", resp.StatusCode, req.Method, req.URL.Path, describe(errs), respBody)
		}
	}
	vt.mu.Lock()
	vt.exchanges = append(vt.exchanges, exchange{req.Method, req.URL.Path, req.Header.Get("X-Request-Id"), resp.StatusCode})
	vt.mu.Unlock()
	return resp, nil
}

// readAll reads a body and puts back a copy to be read again.
func readAll(t *testing.T, body *io.ReadCloser) []byte {
	if *body == nil || *body == http.NoBody {
		return nil
	}
	b, err := io.ReadAll(*body)
	require.NoError(t, err)
	require.NoError(t, (*body).Close())
	*body = io.NopCloser(bytes.NewReader(b))
	return b
}

func describe(errs []*verrors.ValidationError) string {
	var sb strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&sb, "\n  - %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&sb, "\n      %s", f.Reason)
		}
	}
	return sb.String()
}

// harness is a simulator served over HTTP and an EGW client whose requests are validated.
type harness struct {
	sim    *egwsim.Sim
	srv    *httptest.Server
	clock  *billing.ManualClock
	cfg    egw.Config // the client's
	client *egw.Client
	wire   *validating
}

// start is the simulator's clock at the start of every harness.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newHarness starts a simulator with opts (its clock a ManualClock at start) and a client
// configured for it; edit changes the client's configuration.
func newHarness(t *testing.T, opts egwsim.Options, edit ...func(*egw.Config)) *harness {
	t.Helper()
	h := &harness{clock: billing.NewManualClock(start)}
	opts.Clock = h.clock
	h.sim = egwsim.New(opts, nil)
	h.srv = httptest.NewServer(h.sim.Handler())
	t.Cleanup(h.srv.Close)
	h.wire = &validating{t: t, next: h.srv.Client().Transport}
	h.cfg = egw.Config{
		BaseURL:         h.srv.URL,
		TokenURL:        h.srv.URL + "/oauth2/token",
		ClientID:        egwsim.DefaultClientID,
		ClientSecret:    egwsim.DefaultClientSecret,
		ParticipantID:   egwsim.DefaultParticipantID,
		ShopAgreementID: egwsim.DefaultShopAgreementID,
		Timeout:         5 * time.Second,
		Transport:       h.wire,
	}
	for _, e := range edit {
		e(&h.cfg)
	}
	var err error
	h.client, err = egw.New(h.cfg, nil)
	require.NoError(t, err)
	return h
}

// requireClass checks that err is a *gateway.Error of class c with status and code.
func requireClass(t *testing.T, err error, c gateway.Class, status int, code string) *gateway.Error {
	t.Helper()
	var ge *gateway.Error
	require.ErrorAs(t, err, &ge)
	require.Equal(t, c, ge.Class, "class of %v", err)
	require.Equal(t, status, ge.Status, "status of %v", err)
	require.Equal(t, code, ge.Code, "code of %v", err)
	return ge
}
