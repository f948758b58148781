package egwsim

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
	CodeSimulatedFault          = "SIMULATED_FAULT"           // a Fault's answer
)

// Operation names an EGW endpoint by the contract's operationId.
type Operation string

// The simulated operations.
const (
	OpGetToken           Operation = "getToken"
	OpDeactivateToken    Operation = "deactivateToken"
	OpInitiateMitPayment Operation = "initiateMitPayment"
	OpCreateTokenSession Operation = "createTokenCheckoutSession"
	OpGetPayment         Operation = "getPaymentInformation"
	OpCapture            Operation = "capturePayment"
	OpCancel             Operation = "cancelPayment"
)

// Fault makes one call to an operation fail.
type Fault struct {
	// Status is the HTTP status answered, e.g. 503, 500 or 429.
	Status int
	// AfterEffect carries the call out before answering Status: the answer is lost, so the
	// caller cannot tell whether the call took effect.
	AfterEffect bool
}

// FailNext makes the next call to op fail with f. Faults for one operation queue up.
func (s *Sim) FailNext(op Operation, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], f)
}

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

// operation handles one call, with the simulator's lock held, given the request and its body.
type operation func(r *http.Request, body []byte) reply

// route serves op at pattern behind the checks that every EGW endpoint makes.
func (s *Sim) route(mux *http.ServeMux, op Operation, pattern string, h operation) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rep := fail(http.StatusBadRequest, CodeInvalidRequest, "unreadable body: %v", err)
		if err == nil {
			rep = s.serve(op, r, body, h)
		}
		s.log.DebugContext(r.Context(), "egwsim answered", slog.String("op", string(op)),
			slog.String("path", r.URL.Path), slog.String("request_id", r.Header.Get("X-Request-Id")),
			slog.Int("status", rep.status))
		if rep.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		writeJSON(w, rep.status, rep.body)
	})
}

func (s *Sim) serve(op Operation, r *http.Request, body []byte, h operation) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.authorized(r) {
		return fail(http.StatusUnauthorized, CodeUnauthorized, "missing, unknown or expired bearer token")
	}
	if v := r.PathValue("version"); s.opts.Version != "" && v != s.opts.Version {
		return fail(http.StatusNotFound, CodeNotFound, "API version %q is not served", v)
	}
	if id := r.Header.Get("X-Request-Id"); uuid.Validate(id) != nil || len(id) != 36 {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "X-Request-Id %q is not a UUID", id)
	}
	f, faulty := s.popFault(op)
	if faulty && !f.AfterEffect {
		return fail(f.Status, CodeSimulatedFault, "simulated fault before %s", op)
	}
	rep := h(r, body)
	if faulty {
		return fail(f.Status, CodeSimulatedFault, "simulated fault after %s", op)
	}
	return rep
}

func (s *Sim) popFault(op Operation) (Fault, bool) {
	q := s.faults[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	s.faults[op] = q[1:]
	return q[0], true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
