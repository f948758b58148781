package gateway

import (
	"errors"
	"fmt"
)

// Class says what a failed gateway call means for the caller.
type Class int

// Error classes.
const (
	// Permanent: the request is wrong or not allowed (bad input, unknown payment, forbidden,
	// misconfiguration). Repeating it will fail the same way.
	Permanent Class = iota
	// Transient: the gateway did not act (it answered 503 or 429, or the request never left).
	// The same call may be repeated after a pause.
	Transient
	// UnknownOutcome: the request may or may not have taken effect (timeout or connection reset
	// after sending, a 5xx other than 503, a conflict). Read the gateway's state before acting again.
	UnknownOutcome
	// Declined: the issuer or the gateway refused the payment (insufficient funds, expired card,
	// suspended token...). Code and Text say why.
	Declined
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case UnknownOutcome:
		return "unknown_outcome"
	case Declined:
		return "declined"
	default:
		return "permanent"
	}
}

// Error is a failed gateway call.
type Error struct {
	Class  Class
	Op     string // the operation, e.g. "create_mit_payment"
	Status int    // HTTP status, 0 when no answer came
	Code   string // the gateway's reason code, when it gave one
	Text   string // the gateway's reason text, when it gave one
	Err    error  // the underlying transport or decoding error, if any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("gateway %s: %s", e.Op, e.Class)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" || e.Text != "" {
		msg += fmt.Sprintf(": %s %s", e.Code, e.Text)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of a gateway error. Errors that are not *Error (a cancelled context,
// say) are UnknownOutcome: nobody can tell whether the gateway acted.
func ClassOf(err error) Class {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Class
	}
	return UnknownOutcome
}

// IsNotFound reports whether err is the gateway saying that the token or payment does not exist.
func IsNotFound(err error) bool {
	var ge *Error
	return errors.As(err, &ge) && ge.Status == 404
}
