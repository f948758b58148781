package egwsim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/gateway/egwsim"
)

// The faults' effects on the EGW client's classification and on the ledger are tested through
// the client in gateway/egw (faults_test.go); these tests cover how faults are scripted.

// getToken gets the active token with a fresh request id and returns the status.
func (s *server) getToken(bearer string) int {
	status, _ := s.egw(http.MethodGet, "/egw/v1/tokens/"+egwsim.TokenActive, "", bearer, uuid.NewString())
	return status
}

// admin sends an admin request and returns the status and body.
func (s *server) admin(method, path, body string) (int, string) {
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(s.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(raw)
}

// sources returns the op and source of every injected fault.
func sources(sim *egwsim.Sim) []string {
	var out []string
	for _, in := range sim.Faults() {
		out = append(out, string(in.Op)+"/"+string(in.Source))
	}
	return out
}

func TestScriptedFaultsQueueThenStandThenClear(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	s.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{Status: http.StatusConflict})
	s.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{})
	s.sim.FailAlways(egwsim.OpGetToken, egwsim.Fault{Status: http.StatusBadRequest})

	require.Equal(t, http.StatusUnauthorized, s.getToken("forged"), "a call that fails the checks takes no fault")
	status, body := s.egw(http.MethodGet, "/egw/v1/tokens/"+egwsim.TokenActive, "", bearer, "7b0e3c1e-4d7b-4f8e-9a3c-2b1d5e6f7a80")
	require.Equal(t, http.StatusConflict, status)
	require.Equal(t, egwsim.CodeSimulatedFault, code(body))
	var got []int
	for range 3 {
		got = append(got, s.getToken(bearer))
	}
	require.Equal(t, []int{http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusBadRequest}, got)
	s.sim.ClearFaults()
	require.Equal(t, http.StatusOK, s.getToken(bearer))

	faults := s.sim.Faults()
	require.Equal(t, []string{"getToken/next", "getToken/next", "getToken/always", "getToken/always"}, sources(s.sim))
	require.Equal(t, egwsim.Injection{Op: egwsim.OpGetToken, Source: egwsim.FromNext,
		Fault:     egwsim.Fault{Kind: egwsim.KindError, Status: http.StatusConflict},
		RequestID: "7b0e3c1e-4d7b-4f8e-9a3c-2b1d5e6f7a80", At: s.clock.Now()}, faults[0])
	require.Equal(t, egwsim.Fault{Kind: egwsim.KindError, Status: http.StatusServiceUnavailable}, faults[1].Fault, "with its defaults")
}

func TestInvalidFaultsAreRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op    egwsim.Operation
		fault egwsim.Fault
		err   string
	}{
		{"chargeCard", egwsim.Fault{}, `unknown operation "chargeCard"`},
		{egwsim.OpCapture, egwsim.Fault{Kind: "explode"}, `unknown fault kind "explode"`},
		{egwsim.OpCapture, egwsim.Fault{Status: 302}, "status 302 is not from 400 to 599"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindReset, Status: 500}, "only an error fault has a status"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindLatency}, "needs a duration"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindLatency, Duration: time.Second, AfterEffect: true}, "strike after the effect"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindTimeout, Duration: -time.Second}, "negative"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindReset, Duration: time.Second}, "takes no duration"},
		{egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindDecline}, "applies to createTokenCheckoutSession only"},
		{egwsim.OpGetPayment, egwsim.Fault{Kind: egwsim.KindProcessing, Duration: egwsim.Forever}, "applies to createTokenCheckoutSession only"},
		{egwsim.OpCreateTokenSession, egwsim.Fault{Kind: egwsim.KindDecline, Code: "NOPE"}, `"NOPE" is not a decline code`},
		{egwsim.OpCreateTokenSession, egwsim.Fault{Code: "INSUFFICIENT_FUNDS"}, "only a decline fault has a code"},
	} {
		require.ErrorContains(t, tc.fault.Validate(tc.op), tc.err, "%s %+v", tc.op, tc.fault)
	}
	sim := egwsim.New(egwsim.Options{}, nil)
	require.PanicsWithValue(t, `egwsim: decline fault on capturePayment: it applies to createTokenCheckoutSession only`,
		func() { sim.FailNext(egwsim.OpCapture, egwsim.Fault{Kind: egwsim.KindDecline}) })
	require.Panics(t, func() { sim.FailAlways(egwsim.OpCapture, egwsim.Fault{Status: 200}) })
	require.NoError(t, egwsim.Fault{Kind: egwsim.KindProcessing, Duration: egwsim.Forever}.Validate(egwsim.OpCreateTokenSession))
}

func TestFaultJSON(t *testing.T) {
	t.Parallel()
	for f, want := range map[egwsim.Fault]string{
		{Kind: egwsim.KindProcessing, Duration: egwsim.Forever}:              `{"kind":"processing","duration":"forever"}`,
		{Kind: egwsim.KindTimeout, AfterEffect: true, Duration: time.Second}: `{"kind":"timeout","after_effect":true,"duration":"1s"}`,
		{Kind: egwsim.KindError, Status: 409}:                                `{"kind":"error","status":409}`,
		{Kind: egwsim.KindDecline, Code: "DO_NOT_HONOR"}:                     `{"kind":"decline","code":"DO_NOT_HONOR"}`,
	} {
		b, err := json.Marshal(f)
		require.NoError(t, err)
		require.JSONEq(t, want, string(b))
		var back egwsim.Fault
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, f, back)
	}
	var f egwsim.Fault
	require.ErrorContains(t, json.Unmarshal([]byte(`{"kind":"latency","duration":"soon"}`), &f), "soon")
	require.ErrorContains(t, json.Unmarshal([]byte(`{"kind":"error","afterEffect":true}`), &f), "afterEffect")
}

// Two simulators with the same chaos get the same faults on each operation, though the second
// one's calls to the two operations run concurrently; another seed gives other faults.
func TestChaosIsReplayableFromItsSeed(t *testing.T) {
	t.Parallel()
	const calls = 40
	chaos := egwsim.Chaos{Seed: 42, Rate: 0.5, Kinds: []egwsim.FaultKind{egwsim.KindError}}
	// run makes calls to two operations and returns, per operation, each call's status and the
	// faults injected.
	run := func(c egwsim.Chaos, concurrently bool) map[egwsim.Operation][]string {
		s := newServer(t, egwsim.Options{})
		require.NoError(t, s.sim.SetChaos(c))
		bearer := s.bearer()
		statuses := map[egwsim.Operation][]int{}
		var mu sync.Mutex
		call := func(op egwsim.Operation, path string) {
			status, _ := s.egw(http.MethodGet, path, "", bearer, uuid.NewString())
			mu.Lock()
			statuses[op] = append(statuses[op], status)
			mu.Unlock()
		}
		tokens := func() { call(egwsim.OpGetToken, "/egw/v1/tokens/"+egwsim.TokenActive) }
		payments := func() { call(egwsim.OpGetPayment, "/egw/v1/payments/"+uuid.NewString()) }
		var wg sync.WaitGroup
		for range calls {
			if concurrently {
				wg.Go(tokens)
				wg.Go(payments)
				wg.Wait() // one call per operation at a time: their order within an operation is known
			} else {
				tokens()
				payments()
			}
		}
		out := map[egwsim.Operation][]string{}
		for op, ss := range statuses {
			out[op] = append(out[op], fmt.Sprint(ss))
		}
		for _, in := range s.sim.Faults() {
			require.Equal(t, egwsim.FromChaos, in.Source)
			out[in.Op] = append(out[in.Op], fmt.Sprintf("%+v", in.Fault))
		}
		return out
	}

	first := run(chaos, false)
	require.Equal(t, first, run(chaos, true))
	for _, op := range []egwsim.Operation{egwsim.OpGetToken, egwsim.OpGetPayment} {
		faults := len(first[op]) - 1
		require.Greater(t, faults, calls/4, "%s: about half the calls get a fault", op)
		require.Less(t, faults, calls*3/4, "%s: about half the calls get a fault", op)
	}
	require.Contains(t, first[egwsim.OpGetToken], fmt.Sprintf("%+v", egwsim.Fault{Kind: egwsim.KindError, Status: 503}))
	require.Contains(t, first[egwsim.OpGetToken], fmt.Sprintf("%+v", egwsim.Fault{Kind: egwsim.KindError, Status: 500, AfterEffect: true}))
	chaos.Seed = 43
	require.NotEqual(t, first, run(chaos, false))
}

func TestChaosScopeRateAndStop(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	// Decline faults go to token sessions only: getToken gets none of them.
	require.NoError(t, s.sim.SetChaos(egwsim.Chaos{Seed: 1, Rate: 1, Ops: []egwsim.Operation{egwsim.OpGetToken, egwsim.OpGetPayment},
		Kinds: []egwsim.FaultKind{egwsim.KindError, egwsim.KindDecline}}))
	for range 5 {
		require.NotEqual(t, http.StatusOK, s.getToken(bearer))
	}
	s.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{Status: http.StatusForbidden})
	require.Equal(t, http.StatusForbidden, s.getToken(bearer), "scripted faults come first")
	s.sim.StopChaos()
	require.Equal(t, http.StatusOK, s.getToken(bearer))
	require.Equal(t, []string{"getToken/chaos", "getToken/chaos", "getToken/chaos", "getToken/chaos", "getToken/chaos", "getToken/next"}, sources(s.sim))

	require.NoError(t, s.sim.SetChaos(egwsim.Chaos{Seed: 1, Rate: 0}))
	require.Equal(t, http.StatusOK, s.getToken(bearer))

	for _, c := range []egwsim.Chaos{{Rate: 1.5}, {Rate: -0.1}, {Rate: math.NaN()}, {Ops: []egwsim.Operation{"nope"}},
		{Kinds: []egwsim.FaultKind{"nope"}}, {Duration: -time.Second}} {
		require.Error(t, s.sim.SetChaos(c), "%+v", c)
	}
	require.Len(t, s.sim.Faults(), 6, "invalid chaos changed nothing")
}

func TestAdminEndpoint(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()

	status, body := s.admin(http.MethodPost, "/sim/faults", `{"op":"getToken","fault":{"status":409},"count":2}`)
	require.Equal(t, http.StatusNoContent, status, body)
	status, _ = s.admin(http.MethodPost, "/sim/faults", `{"op":"getToken","fault":{"kind":"latency","duration":"1ms"},"always":true}`)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, []int{409, 409, 200, 200}, []int{s.getToken(bearer), s.getToken(bearer), s.getToken(bearer), s.getToken(bearer)})
	status, _ = s.admin(http.MethodDelete, "/sim/faults", "")
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, http.StatusOK, s.getToken(bearer))

	status, body = s.admin(http.MethodPost, "/sim/chaos", `{"seed":7,"rate":1,"ops":["getToken"],"kinds":["error"]}`)
	require.Equal(t, http.StatusNoContent, status, body)
	require.NotEqual(t, http.StatusOK, s.getToken(bearer))
	status, _ = s.admin(http.MethodDelete, "/sim/chaos", "")
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, http.StatusOK, s.getToken(bearer))

	status, body = s.admin(http.MethodGet, "/sim/faults", "")
	require.Equal(t, http.StatusOK, status)
	var log []egwsim.Injection
	require.NoError(t, json.Unmarshal([]byte(body), &log))
	require.Equal(t, s.sim.Faults(), log)
	require.Equal(t, []string{"getToken/next", "getToken/next", "getToken/always", "getToken/always", "getToken/chaos"}, sources(s.sim))
	require.Equal(t, egwsim.Fault{Kind: egwsim.KindLatency, Duration: time.Millisecond}, log[2].Fault)

	for _, tc := range []struct{ path, body, err string }{
		{"/sim/faults", `{"op":"chargeCard"}`, `unknown operation \"chargeCard\"`},
		{"/sim/faults", `{"op":"capturePayment","fault":{"kind":"decline"}}`, "applies to createTokenCheckoutSession only"},
		{"/sim/faults", `{"op":"capturePayment","fault":{"kind":"timeout","duration":"5 minutes"}}`, "malformed body"},
		{"/sim/faults", `{"op":"capturePayment","fault":{"kind":"error"},"count":2,"always":true}`, "count and always exclude each other"},
		{"/sim/faults", `{"op":"capturePayment","count":-1}`, "count -1 is negative"},
		{"/sim/faults", `{"op":"capturePayment","kind":"error"}`, `unknown field \"kind\"`},
		{"/sim/chaos", `{"seed":1,"rate":2}`, "chaos rate 2 is not from 0 to 1"},
		{"/sim/chaos", `{"seed":1,"rate":0.5,"kinds":["boom"]}`, `unknown fault kind \"boom\"`},
		{"/sim/chaos", `{"seed":"one"}`, "malformed body"},
	} {
		status, body := s.admin(http.MethodPost, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, status, tc.body)
		require.Contains(t, body, tc.err, tc.body)
	}
	require.Len(t, s.sim.Faults(), 5, "refused orders changed nothing")
}

// A request held by a timeout fault holds no lock: other calls go on meanwhile. Close releases it.
func TestHeldRequestBlocksNothingAndCloseReleasesIt(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{})
	bearer := s.bearer()
	s.sim.FailNext(egwsim.OpGetToken, egwsim.Fault{Kind: egwsim.KindTimeout, Duration: egwsim.Forever})
	req, err := http.NewRequest(http.MethodGet, s.url+"/egw/v1/tokens/"+egwsim.TokenActive, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("X-Request-Id", uuid.NewString())
	held := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	require.Eventually(t, func() bool { return len(s.sim.Faults()) == 1 }, 5*time.Second, time.Millisecond)

	require.Equal(t, http.StatusOK, s.getToken(bearer))
	status, _ := s.egw(http.MethodPost, "/egw/v1/payments/mit", `{"channel":"MERCHANT","orderNumber":"R1",
		"instructedAmount":{"amount":"10","currency":{"currencyCode":"EUR"}},
		"participantId":"`+egwsim.DefaultParticipantID+`","shopAgreementId":"`+egwsim.DefaultShopAgreementID+`"}`, bearer, uuid.NewString())
	require.Equal(t, http.StatusOK, status)

	s.sim.Close()
	require.Equal(t, http.StatusGatewayTimeout, <-held)
}

// Options.Latency delays every EGW call: a client that waits less gives up. Close ends the delays.
func TestLatencyOption(t *testing.T) {
	t.Parallel()
	s := newServer(t, egwsim.Options{Latency: time.Hour})
	req, err := http.NewRequest(http.MethodGet, s.url+"/egw/v1/tokens/"+egwsim.TokenActive, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.bearer()) // the token endpoint is not delayed
	req.Header.Set("X-Request-Id", uuid.NewString())
	_, err = (&http.Client{Timeout: 100 * time.Millisecond}).Do(req)
	require.ErrorContains(t, err, "Client.Timeout exceeded")

	s.sim.Close()
	require.Equal(t, http.StatusOK, s.getToken(s.bearer()))
}
