// Package egw is the gateway.Gateway adapter for the Tietoevry E-commerce Gateway (EGW) merchant
// API: OAuth2 client credentials, an X-Request-Id per request, typed requests and responses, and
// the mapping of EGW's answers to gateway error classes.
//
// The contract it speaks is testdata/egw-openapi.json, a copy of the merged seed specification;
// the contract test runs this client against the simulator in gateway/egwsim and validates every
// request and response against that copy.
//
// # Error classes
//
// Every failed call returns a *gateway.Error:
//
//   - the request never left (dial or DNS failure, token endpoint unreachable or 5xx): Transient;
//   - timeout, reset or EOF after the request was written: UnknownOutcome for POST, PATCH and
//     DELETE, Transient for GET;
//   - HTTP 429 and 503: Transient; any other 5xx: UnknownOutcome for mutating calls, Transient
//     for GET;
//   - HTTP 409: UnknownOutcome, because EGW does not document what a conflict means: read the
//     payment before acting again;
//   - HTTP 400, 402 or 422 carrying a decline code (see IsDeclineCode): Declined;
//   - any other 4xx: Permanent. A 401 makes the client fetch a new access token and send the
//     request once more, with the same X-Request-Id (the gateway did not act on it); a second
//     401, or a token endpoint that rejects the credentials, is Permanent;
//   - a 2xx answer whose body cannot be decoded: UnknownOutcome for mutating calls, Transient
//     for GET.
//
// Neither the client secret nor access tokens ever appear in errors or logs.
package egw
