// Package egwsim simulates the EGW merchant API for development and tests: a real http.Handler
// that speaks the same contract as the gateway (gateway/egw/testdata/egw-openapi.json), with an
// OAuth2 token endpoint, stateful tokens and payments, scripted and random faults, and a ledger
// of what was charged.
//
// # Endpoints
//
//	POST  /oauth2/token                                  client_credentials; credentials by HTTP
//	                                                     basic auth or form fields
//	GET   /egw/{version}/tokens/{gatewayTokenId}
//	DELETE /egw/{version}/tokens/{gatewayTokenId}        suspends the token
//	POST  /egw/{version}/payments/mit
//	POST  /egw/{version}/payments/cit                    channel BROWSER, amount 0 allowed with
//	                                                     setupToken; _links.checkoutRedirect is
//	                                                     GET /sim/checkout/{paymentId}
//	POST  /egw/{version}/payments/{paymentId}/sessions/token
//	GET   /egw/{version}/payments/{paymentId}
//	PATCH /egw/{version}/payments/{paymentId}/capture
//	PATCH /egw/{version}/payments/{paymentId}/cancel
//	POST  /egw/{version}/refunds                         {paymentId, instructedAmount}: refunds part
//	                                                     or all of a captured payment (REFUNDED once
//	                                                     all is), cancels one not yet captured; more
//	                                                     than is left is a 400 (not in the contract)
//	GET   /sim/checkout/{paymentId}                      the hosted checkout: a page with two buttons
//	POST  /sim/checkout/{paymentId}                      outcome=complete|fail (form or query):
//	                                                     authorizes the payment and stores a token
//	                                                     (tok_sim_cit_...) with the setupToken
//	                                                     purposes, or declines it; then 303 to the
//	                                                     shopRedirectUrl (CompleteCheckout)
//	GET   /sim/ledger                                    the ledger as JSON
//	GET   /sim/faults                                    the faults injected so far (Faults)
//	POST  /sim/faults                                    script a fault (FailNext, FailAlways)
//	DELETE /sim/faults                                   drop scripted faults (ClearFaults)
//	POST  /sim/chaos                                     start random faults (SetChaos)
//	DELETE /sim/chaos                                    stop them (StopChaos)
//
// The /sim/ endpoints need no authentication.
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
// at once and answers COMPLETED. Options.Latency (default 0) delays every /egw/ call. With
// Options.ReplayRequestIDs a POST, PATCH or DELETE that repeats an X-Request-Id gets the first
// answer again and is not carried out twice (EGW does not document either behaviour).
//
// # Callbacks
//
// With Options.CallbackURL, the simulator POSTs {"type": "PAYMENT", "paymentId": ...} with an
// X-Request-Id there after a checkout, a token session, a capture, a cancel or a refund (not when
// a processing payment settles later by itself), and sends it again after each of
// Options.CallbackDelays (EGW's 1 s, 5 min, 1 h, 1, 2 and 3 days by default) until it is answered
// 2xx.
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
// when the delay has passed on the simulator's clock. A token's ProcessingFor replaces the
// ProcessingDelay for its payments; Forever leaves them SENT_FOR_PROCESSING for good.
//
// # Faults
//
// A call that passes the bearer and X-Request-Id checks may be given a Fault of one of these
// kinds: an error answer with any 4xx or 5xx status (ErrorResponse code SIMULATED_FAULT), added
// latency, a timeout (the request is held until the client gives up), a connection reset (TCP
// RST, no answer), and for token sessions a decline or a payment that stays SENT_FOR_PROCESSING.
// Errors, timeouts and resets strike before the call takes effect, or with AfterEffect after it:
// the payment is created, authorized, captured or cancelled, and the answer is lost.
//
// FailNext queues a fault for the next call to an operation, FailAlways gives one to every call
// until ClearFaults, and SetChaos gives random faults at a rate, replayably from a seed, with one
// random stream per operation. Scripted faults come first. Faults records every fault injected,
// with the call's X-Request-Id. No fault waits with the simulator's lock held; Close ends every
// wait at once, so that a server can shut down (http.Server.RegisterOnShutdown(sim.Close)).
//
// The admin endpoint takes the same as JSON: op is an Operation (the contract's operationId),
// durations are strings ("250ms", "forever"):
//
//	POST /sim/faults {"op": "capturePayment", "fault": {"kind": "reset", "after_effect": true}}
//	POST /sim/faults {"op": "initiateMitPayment", "fault": {"status": 409}, "count": 3}
//	POST /sim/faults {"op": "getPaymentInformation", "fault": {"kind": "latency", "duration": "2s"}, "always": true}
//	POST /sim/chaos  {"seed": 42, "rate": 0.2, "ops": ["capturePayment"], "kinds": ["error", "timeout", "reset"]}
//
// Invalid input is answered 400 with {"error": "..."}.
//
// # Seeded tokens
//
//	tok_sim_active     ACTIVE, purposes CIT, UNSCHEDULED, SUBSCRIPTION, STANDING_ORDER,
//	                   MASTERCARD ...0005, expires 12/2099
//	tok_sim_suspended  SUSPENDED, all purposes, VISA ...0021, expires 12/2099
//	tok_sim_declined   ACTIVE, UNSCHEDULED, SUBSCRIPTION, STANDING_ORDER, MASTERCARD ...0013,
//	                   expires 12/2099; every authorization is declined AUTHORIZATION_DECLINED
//	tok_sim_expired    ACTIVE, all purposes, VISA ...0039, expired 01/2020
//	tok_sim_insufficient_funds
//	                   ACTIVE, all purposes, VISA ...0047, expires 12/2099; every
//	                   authorization is declined INSUFFICIENT_FUNDS (a soft decline)
//	tok_sim_processing ACTIVE, all purposes, MASTERCARD ...0054, expires 12/2099; its payments
//	                   stay SENT_FOR_PROCESSING for good
//	tok_sim_recovering ACTIVE, all purposes, VISA ...0062, expires 12/2099; its first two
//	                   authorizations are declined INSUFFICIENT_FUNDS, later ones succeed
//
// Sim.AddToken adds more, and an id that extends a seeded one with "_" and anything
// (tok_sim_active_42, tok_sim_declined_b) is a new token like it, made on first use.
package egwsim
