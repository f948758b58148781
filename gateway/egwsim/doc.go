// Package egwsim simulates the EGW merchant API for development and tests: a real http.Handler
// that speaks the same contract as the gateway (gateway/egw/testdata/egw-openapi.json), with an
// OAuth2 token endpoint, stateful tokens and payments, one-shot faults and a ledger of what was
// charged.
//
// # Endpoints
//
//	POST  /oauth2/token                                  client_credentials; credentials by HTTP
//	                                                     basic auth or form fields
//	GET   /egw/{version}/tokens/{gatewayTokenId}
//	DELETE /egw/{version}/tokens/{gatewayTokenId}        suspends the token
//	POST  /egw/{version}/payments/mit
//	POST  /egw/{version}/payments/{paymentId}/sessions/token
//	GET   /egw/{version}/payments/{paymentId}
//	PATCH /egw/{version}/payments/{paymentId}/capture
//	PATCH /egw/{version}/payments/{paymentId}/cancel
//	GET   /sim/ledger                                    the ledger as JSON, no authentication
//
// Every /egw/ call needs a bearer token from /oauth2/token that has not expired (else 401) and an
// X-Request-Id header holding a UUID (else 400). {version} is any value unless Options.Version
// fixes it. Errors carry EGW's ErrorResponse body with one apiClientMessage whose code is one of
// the Code constants here or a decline code from gateway/egw.
//
// # Defaults
//
// Client id DefaultClientID ("recur-sim"), secret DefaultClientSecret ("recur-sim-secret"),
// participant DefaultParticipantID ("recur-sim-participant"), shop DefaultShopAgreementID
// ("recur-sim-shop"); MIT payments must name the configured participant and shop (else 403).
// Access tokens live DefaultTokenTTL (5 minutes). With ProcessingDelay 0 a token session settles
// at once and answers COMPLETED.
//
// # Payments
//
// A payment follows EGW's states: INITIALIZED -> (token session) SENT_FOR_PROCESSING ->
// AUTHORIZED or FAILED; AUTHORIZED -> (capture) CAPTURED; INITIALIZED or AUTHORIZED -> (cancel)
// CANCELLED. A session on a payment that already had one, a capture of a payment that is not
// AUTHORIZED and a cancel of one that is neither INITIALIZED nor AUTHORIZED answer 409. A capture
// may be partial but not exceed the authorized amount (400).
//
// A token session is declined (400 with a decline code, payment FAILED) when the token is
// SUSPENDED (TOKEN_SUSPENDED), its card has expired (CARD_EXPIRED), it lacks the purpose the
// channel needs (TOKEN_PURPOSE_MISMATCH: RECURRING needs SUBSCRIPTION or STANDING_ORDER, MERCHANT
// needs UNSCHEDULED), or the token has a DeclineCode. A DeclineCode is the issuer's answer, so
// with a ProcessingDelay the session answers SENT_FOR_PROCESSING and the payment turns FAILED
// when the delay has passed on the simulator's clock.
//
// # Seeded tokens
//
//	tok_sim_active     ACTIVE, purposes CIT, UNSCHEDULED, SUBSCRIPTION, STANDING_ORDER,
//	                   MASTERCARD ...0005, expires 12/2099
//	tok_sim_suspended  SUSPENDED, all purposes, VISA ...0021, expires 12/2099
//	tok_sim_declined   ACTIVE, UNSCHEDULED, SUBSCRIPTION, STANDING_ORDER, MASTERCARD ...0013,
//	                   expires 12/2099; every authorization is declined AUTHORIZATION_DECLINED
//	tok_sim_expired    ACTIVE, all purposes, VISA ...0039, expired 01/2020
//
// Sim.AddToken adds more.
package egwsim
