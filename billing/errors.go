package billing

import (
	"errors"
	"fmt"
)

// Domain errors. Callers wrap them with context; the API maps them to HTTP statuses in one place.
var (
	// ErrNotFound: the thing asked for does not exist (or belongs to nobody the caller may see).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the current state (a duplicate, say).
	ErrConflict = errors.New("conflict")
)

// ValidationError says which input field is wrong and why.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// ConflictError is an ErrConflict that says what it clashes with.
type ConflictError struct {
	Reason string
}

func (e *ConflictError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
