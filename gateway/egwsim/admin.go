package egwsim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// The admin endpoints script faults over HTTP. They need no authentication: the simulator is a
// development and test tool.

// faultOrder is the body of POST /sim/faults.
type faultOrder struct {
	Op    Operation `json:"op"`
	Fault Fault     `json:"fault"`
	// Count is how many of the next calls get the fault (FailNext); default 1.
	Count int `json:"count,omitempty"`
	// Always gives the fault to every call until cleared (FailAlways).
	Always bool `json:"always,omitempty"`
}

// addFault serves POST /sim/faults.
func (s *Sim) addFault(w http.ResponseWriter, r *http.Request) {
	var o faultOrder
	err := readStrict(r, &o)
	switch {
	case err != nil:
	case o.Count < 0:
		err = fmt.Errorf("count %d is negative", o.Count)
	case o.Count > 0 && o.Always:
		err = errors.New("count and always exclude each other")
	default:
		err = o.Fault.Validate(o.Op)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	if o.Always {
		s.FailAlways(o.Op, o.Fault)
	} else {
		for range max(o.Count, 1) {
			s.FailNext(o.Op, o.Fault)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// setChaos serves POST /sim/chaos.
func (s *Sim) setChaos(w http.ResponseWriter, r *http.Request) {
	var c Chaos
	err := readStrict(r, &c)
	if err == nil {
		err = s.SetChaos(c)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, adminError{err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readStrict decodes r's JSON body into v, rejecting unknown fields.
func readStrict(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = decodeStrict(b, v)
	}
	if err != nil {
		return fmt.Errorf("malformed body: %w", err)
	}
	return nil
}

// adminError is the body of an admin endpoint's 400.
type adminError struct {
	Error string `json:"error"`
}

// noContent adapts f to an admin endpoint that answers 204.
func noContent(f func()) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		f()
		w.WriteHeader(http.StatusNoContent)
	}
}
