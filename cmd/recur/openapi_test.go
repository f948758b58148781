package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	vconfig "github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
)

// apiContract is the API's own OpenAPI document (api/openapi.json) as a validator, shared by all
// tests; every request that a testEnv's client sends to /v1, and its answer, is checked against it.
var apiContract = sync.OnceValues(func() (*contract, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPIDocument())
	if err != nil {
		return nil, err
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	v, errs := validator.NewValidator(doc, vconfig.WithFormatAssertions(), vconfig.WithStrictMode())
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &contract{v: v, model: &model.Model}, nil
})

// contract serializes validations: the library does not promise to be safe for concurrent use.
type contract struct {
	mu      sync.Mutex
	v       validator.Validator
	model   *v3.Document
	checked int // exchanges checked
}

// check validates a request and its answer, whose bodies are given, and returns what breaks the
// document, or nothing. An answer is always checked. A request is held to the document when the
// API took it (2xx): a request that the document refuses, the API must refuse too (tests send
// bad input on purpose, and the API's 4xx answer to it is checked like any other). A path or
// method that the document does not have must be a 404 or 405.
func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	vreq := req.Clone(req.Context())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	_, _, route := paths.FindPath(vreq, c.model, nil)
	name := fmt.Sprintf("%s %s (%s %s)", req.Method, route, req.Method, req.URL.RequestURI())
	if route == "" {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return []string{fmt.Sprintf("%s %s is not in the document but answered %d", req.Method, req.URL.Path, resp.StatusCode)}
		}
		return nil
	}
	var out []string
	if ok, errs := c.v.ValidateHttpRequestSync(vreq); !ok && resp.StatusCode < 300 {
		if missing(errs) && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			return nil
		}
		out = append(out, fmt.Sprintf("request %s breaks the document, but the API answered %d:%s", name, resp.StatusCode, describe(errs)))
	}
	vresp := *resp
	vresp.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := c.v.ValidateHttpResponse(vreq, &vresp); !ok {
		out = append(out, fmt.Sprintf("answer %d to %s breaks the document:%s\n%s", resp.StatusCode, name, describe(errs), respBody))
	}
	return out
}

// missing reports whether errs say that the document has no such path or method.
func missing(errs []*verrors.ValidationError) bool {
	for _, e := range errs {
		if e.IsPathMissingError() || e.IsOperationMissingError() {
			return true
		}
	}
	return false
}

func describe(errs []*verrors.ValidationError) string {
	var sb strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&sb, "\n  - %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&sb, "\n      %s: %s", f.FieldPath, f.Reason)
		}
	}
	return sb.String()
}

// validating is the http.RoundTripper of a testEnv's client: it checks every request to /v1 and
// its answer against the API's document (see contract.check) and fails the test on the spot,
// naming the operation and what breaks the document.
type validating struct {
	t    *testing.T
	next http.RoundTripper
}

func (vt validating) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/v1/") {
		return vt.next.RoundTrip(req)
	}
	reqBody, err := readBody(&req.Body)
	if err != nil {
		return nil, err
	}
	resp, err := vt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := readBody(&resp.Body)
	if err != nil {
		return nil, err
	}
	c, err := apiContract()
	require.NoError(vt.t, err)
	for _, breach := range c.check(req, reqBody, resp, respBody) {
		vt.t.Error(breach)
	}
	return resp, nil
}

// readBody reads a body and puts back a copy to be read again.
func readBody(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(*body)
	if err != nil {
		return nil, err
	}
	if err := (*body).Close(); err != nil {
		return nil, err
	}
	*body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// The validator is not vacuous: answers and accepted requests that break the document are caught,
// and the traffic of a real env is checked.
func TestOpenAPIValidatorCatchesBreaches(t *testing.T) {
	t.Parallel()
	c, err := apiContract()
	require.NoError(t, err)
	const id = "0193b6a4-7c1e-7d2a-9f6e-2b8c4d1a5e70"
	answer := func(status int, contentType, body string) *http.Response {
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
			Body: io.NopCloser(strings.NewReader(body))}
	}
	request := func(method, path, body string) *http.Request {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer rk_test")
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	send := func(req *http.Request, reqBody string, resp *http.Response) []string {
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return c.check(req, []byte(reqBody), resp, body)
	}
	customer := `{"id":"` + id + `","external_id":"acct_1","email":"ada@example.com","name":"Ada","created_at":"2026-01-31T09:00:00Z","test_clock_id":null}`
	require.Empty(t, send(request("GET", "/v1/customers/"+id, ""), "", answer(200, "application/json", customer)))

	for name, tc := range map[string]struct {
		req             *http.Request
		reqBody         string
		resp            *http.Response
		wantInTheBreach string
	}{
		"a field missing": {request("GET", "/v1/customers/"+id, ""), "",
			answer(200, "application/json", `{"id":"`+id+`","external_id":"acct_1","email":"ada@example.com","created_at":"2026-01-31T09:00:00Z"}`), "GET /v1/customers/{id}"},
		"a field not documented": {request("GET", "/v1/customers/"+id, ""), "",
			answer(200, "application/json", strings.Replace(customer, `"name"`, `"nickname":"A","name"`, 1)), "breaks the document"},
		"not a date-time": {request("GET", "/v1/customers/"+id, ""), "",
			answer(200, "application/json", strings.Replace(customer, "2026-01-31T09:00:00Z", "yesterday", 1)), "breaks the document"},
		"a problem that is not problem+json": {request("GET", "/v1/customers/"+id, ""), "",
			answer(404, "application/json", `{"error":"not found"}`), "answer 404"},
		"an undocumented status": {request("GET", "/v1/customers/"+id, ""), "",
			answer(201, "application/json", customer), "answer 201"},
		"a bad request taken": {request("POST", "/v1/customers", `{"external_id":"acct_1","email":"ada@example.com","name":"Ada","age":3}`),
			`{"external_id":"acct_1","email":"ada@example.com","name":"Ada","age":3}`, answer(201, "application/json", customer), "request POST /v1/customers"},
		"an undocumented parameter": {request("GET", "/v1/plans?foo=1", ""), "",
			answer(200, "application/json", `{"data":[],"has_more":false}`), "foo"},
		"an undocumented route": {request("GET", "/v1/refunds", ""), "",
			answer(200, "application/json", `{"data":[],"has_more":false}`), "GET /v1/refunds"},
	} {
		breaches := send(tc.req, tc.reqBody, tc.resp)
		require.NotEmpty(t, breaches, name)
		require.Contains(t, strings.Join(breaches, "\n"), tc.wantInTheBreach, name)
	}
	// A bad request that the API refuses is not a breach; its answer is checked.
	bad := `{"external_id":"acct_1","name":"Ada","amount":"ten"}`
	problem := `{"type":"/problems/validation","title":"Invalid request","status":422,"errors":[{"field":"amount","reason":"is not a known field"}]}`
	require.Empty(t, send(request("POST", "/v1/customers", bad), bad, answer(422, "application/problem+json", problem)))

	// A testEnv's requests go through it.
	e := newTestEnv(t)
	c.mu.Lock()
	before := c.checked
	c.mu.Unlock()
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/openapi.json", nil, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Greater(t, c.checked, before)
}
