package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// Problem is an RFC 9457 problem details object. Validation problems list each bad field.
type Problem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Errors []FieldProblem `json:"errors,omitempty"`
}

// FieldProblem says which input field is wrong and why.
type FieldProblem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// fail answers with the problem that err stands for (see problem).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := a.problem(r, err)
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeProblem(w, p)
}

// problem returns the problem that err stands for. It is the one place where errors become HTTP
// statuses, for the API and the finance pages alike. Unexpected errors are logged and become a
// 500 that tells nothing inside.
func (a *API) problem(r *http.Request, err error) Problem {
	var (
		ve *billing.ValidationError
		ge *gateway.Error
	)
	switch {
	case errors.As(err, &ve):
		return Problem{Type: "/problems/validation", Title: "Invalid request", Status: http.StatusUnprocessableEntity,
			Detail: ve.Error(), Errors: []FieldProblem{{Field: ve.Field, Reason: ve.Reason}}}
	case errors.Is(err, billing.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Detail: err.Error()}
	case errors.Is(err, billing.ErrConflict):
		return Problem{Status: http.StatusConflict, Detail: err.Error()}
	case errors.As(err, &ge) && ge.Class == gateway.Transient:
		return Problem{Type: "/problems/gateway-unavailable", Title: "Payment gateway unavailable",
			Status: http.StatusServiceUnavailable, Detail: "the payment gateway did not answer; try again shortly"}
	case errors.As(err, &ge):
		a.log.ErrorContext(r.Context(), "gateway error", slog.Any("error", err))
		return Problem{Type: "/problems/gateway-error", Title: "Payment gateway error",
			Status: http.StatusBadGateway, Detail: fmt.Sprintf("the payment gateway failed: %s", ge.Class)}
	default:
		a.log.ErrorContext(r.Context(), "request failed", slog.Any("error", err))
		return Problem{Status: http.StatusInternalServerError, Detail: "an unexpected error occurred; it has been logged"}
	}
}

// decode reads a JSON request body into dst. Unknown fields, wrong types, trailing data and
// bodies over 1 MiB are validation problems that name the field.
func decode(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &billing.ValidationError{Field: "Content-Type", Reason: "must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	var (
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return &billing.ValidationError{Field: "body", Reason: "is required: a JSON object"}
	case errors.As(err, &typeErr):
		return &billing.ValidationError{Field: typeErr.Field, Reason: "must be " + jsonKind(typeErr.Type)}
	case errors.As(err, &tooBig):
		return &billing.ValidationError{Field: "body", Reason: "must be at most 1 MiB"}
	case isTimeError(err) && timeField(dst) != "":
		return &billing.ValidationError{Field: timeField(dst), Reason: "must be an RFC 3339 time, such as 2026-01-01T00:00:00Z"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &billing.ValidationError{Field: field, Reason: "is not a known field"}
	default:
		return &billing.ValidationError{Field: "body", Reason: "is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
}

// isTimeError reports whether err is time.Time's refusal of a JSON value, which encoding/json
// returns without the field's name.
func isTimeError(err error) bool {
	var pe *time.ParseError
	return errors.As(err, &pe) || strings.HasPrefix(err.Error(), "Time.UnmarshalJSON: ")
}

// timeField returns the JSON name of the one time field of the struct that dst points to, or ""
// when it has none or several (then the field cannot be told).
func timeField(dst any) string {
	t := reflect.TypeOf(dst)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return ""
	}
	name := ""
	for _, f := range reflect.VisibleFields(t.Elem()) {
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft != reflect.TypeFor[time.Time]() {
			continue
		}
		if name != "" {
			return ""
		}
		name, _, _ = strings.Cut(f.Tag.Get("json"), ",")
	}
	return name
}

// jsonKind names a Go type as the JSON value it is decoded from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}
