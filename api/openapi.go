package api

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument is the API's OpenAPI 3.1 document. It is written by hand as JSON, so that it is
// served as it is kept; the tests hold it to the router and to the end-to-end tests' traffic.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the API's OpenAPI 3.1 document (JSON).
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

// serveOpenAPI answers the document. Like Stripe's, it is public: it needs no API key.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
