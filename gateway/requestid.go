package gateway

import "context"

type requestIDKey struct{}

// WithRequestID returns a context that makes the next gateway call send id as its request id
// (EGW's X-Request-Id), so that a caller can record the id before the call. Without it, adapters
// generate a fresh id per request.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id set by WithRequestID, if any.
func RequestID(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(requestIDKey{}).(string)
	return id, ok && id != ""
}
