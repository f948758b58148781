package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
)

// openAPIOperation is what the route test reads of an operation in the document.
type openAPIOperation struct {
	Role       string            `json:"x-recur-role"`
	Security   *[]map[string]any `json:"security"`
	Parameters []struct {
		Ref string `json:"$ref"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

// documentedOperations reads the document's operations as "METHOD /path" (chi's {param} syntax
// is OpenAPI's).
func documentedOperations(t *testing.T) map[string]openAPIOperation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(api.OpenAPIDocument(), &doc))
	ops := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}, method) {
				continue
			}
			var op openAPIOperation
			require.NoError(t, json.Unmarshal(raw, &op), "%s %s", method, path)
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// TestOpenAPIDocumentsEveryRoute walks the router: every route under /v1 is an operation of the
// document, and every operation of the document is a route, with the role it needs, the answers
// to a missing or weak key and a default problem. The finance pages (/ui) and the
// operations endpoints (/healthz; /readyz and /metrics are added in cmd/recur) are not part of the
// REST API: the document leaves them out, and so does this test. The router is built on a test
// clock and with a public URL, so that the test clock's routes, which only `recur dev` has, and
// the payment-method setups' are walked too. An operation without security (security: []) is
// public: the document, EGW's callbacks, the checkout's return.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	h := api.New(api.Deps{Clock: billing.NewTestClock(), Logger: slog.New(slog.DiscardHandler), PublicURL: "https://recur.example"})
	routes := map[string]bool{}
	err := chi.Walk(h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/v1/") {
			routes[method+" "+route] = true
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, routes, "POST /v1/subscriptions", "the walk found the API's routes")

	ops := documentedOperations(t)
	for route := range routes {
		require.Contains(t, ops, route, "the route %s is not in api/openapi.json", route)
	}
	for name, op := range ops {
		require.True(t, routes[name], "api/openapi.json documents %s, which the router does not have", name)
		method := strings.Fields(name)[0]
		public := op.Security != nil && len(*op.Security) == 0
		switch {
		case name == "GET /v1/openapi.json":
			require.True(t, public, "the document is public")
		case public:
			require.Equal(t, "public", op.Role, "%s: x-recur-role", name)
		case method == http.MethodGet:
			require.Equal(t, "read", op.Role, "%s: x-recur-role", name)
		default:
			require.Equal(t, "write", op.Role, "%s: x-recur-role", name)
		}
		if op.Security == nil {
			for _, status := range []string{"401", "403", "default"} {
				require.Contains(t, op.Responses, status, "%s: the answers of an operation that needs a key", name)
			}
		}
		refs := make([]string, len(op.Parameters))
		for i, p := range op.Parameters {
			refs[i] = p.Ref
		}
		require.Equal(t, method == http.MethodPost && !public, slices.Contains(refs, "#/components/parameters/IdempotencyKey"),
			"%s: the Idempotency-Key header is documented on every POST that needs a key, and only there", name)
	}
}

// TestOpenAPIDocumentIsServed checks that the document is a valid OpenAPI 3.1 document that the
// validator takes, and that GET /v1/openapi.json answers it without an API key.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	doc, err := libopenapi.NewDocument(api.OpenAPIDocument())
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.GetVersion())
	_, errs := validator.NewValidator(doc)
	require.Empty(t, errs)

	srv := httptest.NewServer(api.New(api.Deps{Clock: billing.NewTestClock(), Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/v1/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.JSONEq(t, string(api.OpenAPIDocument()), string(body))
}
