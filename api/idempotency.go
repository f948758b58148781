package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// txHandler is a POST handler. It makes its writes in tx and returns the status and body of its
// answer, or an error that fail turns into a problem. It does not write the answer itself, so
// that idempotent can store the answer in the same transaction as the writes.
type txHandler func(ctx context.Context, tx pgx.Tx, r *http.Request) (status int, body any, err error)

const (
	idempotencyKeyHeader = "Idempotency-Key"
	// maxBodySize is the largest request body read, 1 MiB.
	maxBodySize = 1 << 20
)

// idempotent serves h in one transaction, with Stripe's idempotency keys.
//
// Without an Idempotency-Key header, h runs in a transaction that commits unless h fails with a
// 5xx. With one, scoped to the API key that sent it, the request's fingerprint (method, path and
// body) decides:
//   - a key never seen: h runs, and its answer is stored in the same transaction as its writes,
//     so that no effect is ever committed without the answer a retry gets;
//   - the key stored with the same fingerprint: the stored answer is sent again, with the header
//     Idempotent-Replayed: true, and nothing runs;
//   - the key stored with another fingerprint: a 422;
//   - the key held by a request still being executed: a 409 at once.
//
// Problems (4xx) are stored like successes, since running the request again would answer the
// same. 5xx answers, a gateway that could not be reached among them, are not stored: the
// transaction is rolled back and a retry runs again.
func (a *API) idempotent(h txHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		key, err := idempotencyKey(r.Header)
		var body []byte
		if err == nil {
			body, err = bufferBody(w, r)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		tx, err := a.db.Begin(ctx)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit; otherwise nothing to keep
		res, err := a.respond(ctx, tx, r, h, key, fingerprint(r, body))
		if err == nil && res.status < 500 {
			err = tx.Commit(ctx)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		res.send(w)
	}
}

// respond answers the request in tx: with the answer stored for key when its fingerprint is fp,
// or by running h and storing its answer under key when it is not a 5xx. An error is an answer
// that is not stored.
func (a *API) respond(ctx context.Context, tx pgx.Tx, r *http.Request, h txHandler, key string, fp []byte) (*response, error) {
	keyID := apiKeyID(ctx)
	if key != "" {
		locked, err := store.LockIdempotencyKey(ctx, tx, keyID, key)
		if err != nil {
			return nil, err
		}
		if !locked {
			return nil, &billing.ConflictError{Reason: "a request with this Idempotency-Key is still being executed; retry once it is finished"}
		}
		stored, err := store.GetStoredResponse(ctx, tx, keyID, key)
		switch {
		case err == nil && bytes.Equal(stored.Fingerprint, fp):
			res := &response{header: http.Header{}, status: stored.Status}
			res.header.Set("Content-Type", stored.ContentType)
			res.header.Set("Idempotent-Replayed", "true")
			res.body.Write(stored.Body)
			return res, nil
		case err == nil:
			return nil, &billing.ValidationError{Field: idempotencyKeyHeader, Reason: "was already used with another request (method, path or body)"}
		case !errors.Is(err, billing.ErrNotFound):
			return nil, err
		}
	}
	res := a.run(ctx, tx, r, h)
	if key == "" || res.status >= 500 {
		return res, nil
	}
	err := store.SaveStoredResponse(ctx, tx, keyID, key, store.StoredResponse{
		Fingerprint: fp, Status: res.status, ContentType: res.header.Get("Content-Type"), Body: res.body.Bytes(),
	}, a.clock.Now())
	return res, err
}

// run runs h in a savepoint of tx and renders its answer. When h fails, its writes are rolled
// back to the savepoint, and its answer is the problem that the error stands for.
func (a *API) run(ctx context.Context, tx pgx.Tx, r *http.Request, h txHandler) *response {
	res := &response{header: http.Header{}}
	sp, err := tx.Begin(ctx)
	if err == nil {
		var (
			status int
			body   any
		)
		status, body, err = h(ctx, sp, r)
		if err == nil {
			err = sp.Commit(ctx)
		}
		if err == nil {
			writeJSON(res, status, body)
			return res
		}
		// A failed rollback leaves tx aborted: its commit fails then, and the request with it.
		_ = sp.Rollback(ctx)
	}
	a.fail(res, r, err)
	return res
}

// idempotencyKey reads the optional Idempotency-Key header: 1 to 255 printable ASCII characters.
func idempotencyKey(h http.Header) (string, error) {
	values := h.Values(idempotencyKeyHeader)
	if len(values) == 0 {
		return "", nil
	}
	bad := &billing.ValidationError{Field: idempotencyKeyHeader, Reason: "must be sent once, with 1 to 255 printable ASCII characters"}
	if len(values) > 1 || len(values[0]) < 1 || len(values[0]) > 255 {
		return "", bad
	}
	for _, c := range []byte(values[0]) {
		if c < ' ' || c > '~' {
			return "", bad
		}
	}
	return values[0], nil
}

// bufferBody reads the request body, at most maxBodySize bytes, returns it and puts it back in the
// request for the handler to decode.
func bufferBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodySize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, &billing.ValidationError{Field: "body", Reason: "must be at most 1 MiB"}
	case err != nil:
		return nil, &billing.ValidationError{Field: "body", Reason: "could not be read"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// fingerprint is the SHA-256 of the request's method, path and body.
func fingerprint(r *http.Request, body []byte) []byte {
	h := sha256.New()
	// The escaped path holds no space and no newline, so the parts cannot run into each other.
	h.Write([]byte(r.Method + " " + r.URL.EscapedPath() + "\n"))
	h.Write(body)
	return h.Sum(nil)
}

// response is an answer rendered before it is sent, so that it can be stored first.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (res *response) Header() http.Header         { return res.header }
func (res *response) WriteHeader(status int)      { res.status = status }
func (res *response) Write(b []byte) (int, error) { return res.body.Write(b) }

// send writes the answer to w.
func (res *response) send(w http.ResponseWriter) {
	for k, v := range res.header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.status)
	_, _ = w.Write(res.body.Bytes())
}
