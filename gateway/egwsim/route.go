package egwsim

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/google/uuid"

	"github.com/recur-billing/recur/gateway/egw"
)

// apiClientMessages codes of the simulator's errors that are not declines.
const (
	CodeUnauthorized            = "UNAUTHORIZED"              // 401: no valid bearer token
	CodeInvalidRequest          = "INVALID_REQUEST"           // 400: malformed header or body
	CodeForbidden               = "FORBIDDEN"                 // 403: not the configured merchant
	CodeNotFound                = "NOT_FOUND"                 // 404: unknown token or payment
	CodeInvalidState            = "INVALID_STATE"             // 409: not allowed in the payment's state
	CodeAmountExceedsAuthorized = "AMOUNT_EXCEEDS_AUTHORIZED" // 400: capture above the authorization
	CodeAmountExceedsCaptured   = "AMOUNT_EXCEEDS_CAPTURED"   // 400: refunds above the captured amount
	CodeSimulatedFault          = "SIMULATED_FAULT"           // a Fault's answer
)

// Operation names an EGW endpoint by the contract's operationId.
type Operation string

// The simulated operations.
const (
	OpGetToken           Operation = "getToken"
	OpDeactivateToken    Operation = "deactivateToken"
	OpInitiateMitPayment Operation = "initiateMitPayment"
	OpInitiateCitPayment Operation = "initiateCitPayment"
	OpCreateTokenSession Operation = "createTokenCheckoutSession"
	OpGetPayment         Operation = "getPaymentInformation"
	OpCapture            Operation = "capturePayment"
	OpCancel             Operation = "cancelPayment"
	// OpRefund is POST refunds, which EGW documents outside the OpenAPI document: the name is
	// the simulator's.
	OpRefund Operation = "refundPayment"
)

// operations are all the simulated operations.
var operations = []Operation{OpGetToken, OpDeactivateToken, OpInitiateMitPayment, OpInitiateCitPayment, OpCreateTokenSession, OpGetPayment, OpCapture, OpCancel, OpRefund}

// reply is an operation's answer: a status and a JSON body.
type reply struct {
	status int
	body   any
}

func ok(body any) reply { return reply{http.StatusOK, body} }

func fail(status int, code, format string, args ...any) reply {
	return reply{status, egw.ErrorResponse{APIClientMessages: []egw.APIClientMessage{
		{Category: "ERROR", Code: code, Text: fmt.Sprintf(format, args...)},
	}}}
}

// request is one admitted call to an operation.
type request struct {
	*http.Request
	body  []byte
	fault Fault // the call's fault with its defaults, or the zero Fault
}

// operation carries out one call, with the simulator's lock held.
type operation func(r request) reply

// route serves op at pattern behind the checks that every EGW endpoint makes, with op's faults.
//
// A call is read, delayed by Options.Latency, checked and given its fault under the lock, delayed
// by a latency fault, carried out under the lock unless its fault strikes before, and answered
// unless its fault strikes after. Nothing waits with the lock held.
func (s *Sim) route(mux *http.ServeMux, op Operation, pattern string, h operation) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.answer(w, r, op, fail(http.StatusBadRequest, CodeInvalidRequest, "unreadable body: %v", err))
			return
		}
		s.wait(r, s.opts.Latency)
		f, refused := s.admit(op, r)
		if refused != nil {
			s.answer(w, r, op, *refused)
			return
		}
		if f.Kind == KindLatency {
			s.wait(r, f.Duration)
		}
		if f.strikes() && !f.AfterEffect {
			s.strike(w, r, op, f)
			return
		}
		s.mu.Lock()
		key := s.replayKey(r)
		rep, replayed := s.replies[key]
		if !replayed {
			rep = h(request{Request: r, body: body, fault: f})
			if key != "" {
				s.replies[key] = rep
			}
		}
		s.mu.Unlock()
		if f.strikes() && f.AfterEffect {
			s.strike(w, r, op, f)
			return
		}
		s.answer(w, r, op, rep)
	})
}

// replayKey is the key under which a call's answer is kept with Options.ReplayRequestIDs: its
// request id, or "" when it is not kept (a read, or no replaying).
func (s *Sim) replayKey(r *http.Request) string {
	if !s.opts.ReplayRequestIDs || r.Method == http.MethodGet {
		return ""
	}
	return r.Header.Get("X-Request-Id")
}

// admit makes the checks of every EGW call and, when they pass, picks the call's fault. It returns
// the answer to a call that fails a check.
func (s *Sim) admit(op Operation, r *http.Request) (Fault, *reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refused reply
	switch v, id := r.PathValue("version"), r.Header.Get("X-Request-Id"); {
	case !s.authorized(r):
		refused = fail(http.StatusUnauthorized, CodeUnauthorized, "missing, unknown or expired bearer token")
	case s.opts.Version != "" && v != s.opts.Version:
		refused = fail(http.StatusNotFound, CodeNotFound, "API version %q is not served", v)
	case uuid.Validate(id) != nil || len(id) != 36:
		refused = fail(http.StatusBadRequest, CodeInvalidRequest, "X-Request-Id %q is not a UUID", id)
	default:
		return s.pickFault(op, r), nil
	}
	return Fault{}, &refused
}

// strike makes a call fail as f says: an error answer, a request held until the client gives up,
// or a connection reset.
func (s *Sim) strike(w http.ResponseWriter, r *http.Request, op Operation, f Fault) {
	when := "before"
	if f.AfterEffect {
		when = "after"
	}
	switch f.Kind {
	case KindError:
		s.answer(w, r, op, fail(f.Status, CodeSimulatedFault, "simulated fault %s %s", when, op))
	case KindTimeout:
		s.wait(r, f.Duration)
		// Only a client that waited longer than the hold, or a simulator being closed, reads this.
		s.answer(w, r, op, fail(http.StatusGatewayTimeout, CodeSimulatedFault, "simulated timeout %s %s", when, op))
	case KindReset:
		s.log.DebugContext(r.Context(), "egwsim reset the connection", slog.String("op", string(op)),
			slog.String("path", r.URL.Path), slog.String("request_id", r.Header.Get("X-Request-Id")))
		reset(w)
	}
}

// reset closes the call's connection without an answer: over TCP with an RST (SO_LINGER 0).
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable (HTTP/2): net/http resets the stream
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

func (s *Sim) answer(w http.ResponseWriter, r *http.Request, op Operation, rep reply) {
	s.log.DebugContext(r.Context(), "egwsim answered", slog.String("op", string(op)),
		slog.String("path", r.URL.Path), slog.String("request_id", r.Header.Get("X-Request-Id")),
		slog.Int("status", rep.status))
	if rep.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeJSON(w, rep.status, rep.body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
