package egwsim

import (
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
)

// Defaults for the zero Options fields.
const (
	DefaultClientID        = "recur-sim"
	DefaultClientSecret    = "recur-sim-secret"
	DefaultParticipantID   = "recur-sim-participant"
	DefaultShopAgreementID = "recur-sim-shop"
	DefaultTokenTTL        = 5 * time.Minute
)

// Seeded token ids; see the package documentation.
const (
	TokenActive    = "tok_sim_active"
	TokenSuspended = "tok_sim_suspended"
	TokenDeclined  = "tok_sim_declined"
	TokenExpired   = "tok_sim_expired"
	// TokenInsufficientFunds is declined INSUFFICIENT_FUNDS: a soft decline, worth retrying.
	TokenInsufficientFunds = "tok_sim_insufficient_funds"
	// TokenProcessing leaves its payments SENT_FOR_PROCESSING for good.
	TokenProcessing = "tok_sim_processing"
	// TokenRecovering is declined INSUFFICIENT_FUNDS twice, then authorized: a customer who
	// tops up their account during dunning.
	TokenRecovering = "tok_sim_recovering"
)

// Options configure a Sim; the zero value is usable.
type Options struct {
	// ClientID and ClientSecret are the OAuth2 client credentials the token endpoint accepts.
	ClientID, ClientSecret string
	// ParticipantID and ShopAgreementID are the merchant that MIT payments must name.
	ParticipantID, ShopAgreementID string
	// Version, when set, is the only {version} path segment served; otherwise any is.
	Version string
	// TokenTTL is how long an access token is valid. x/oauth2 renews a token 10s before it
	// expires, so a TTL of 10s or less makes its clients fetch one for every call.
	TokenTTL time.Duration
	// Clock tells the simulator's time (token expiry, card expiry, processing, timestamps).
	// Default: the system clock.
	Clock billing.Clock
	// ProcessingDelay is how long a payment stays SENT_FOR_PROCESSING after its token session
	// before it turns AUTHORIZED or FAILED. 0 settles at once and the session answers COMPLETED.
	ProcessingDelay time.Duration
	// Latency delays every EGW call (the /egw/ endpoints, not the token endpoint or /sim/) by
	// this much real time before it is checked and carried out, as a distant gateway would.
	Latency time.Duration
	// ReplayRequestIDs makes a call that changes state (POST, PATCH, DELETE) and repeats an
	// X-Request-Id answer as the first call with that id did, without carrying it out again, as a
	// gateway that treats request ids as idempotency keys would. EGW does not document whether it
	// does; the default is that it does not.
	ReplayRequestIDs bool
	// CallbackURL, when set, receives EGW's callback {type: PAYMENT, paymentId} with an
	// X-Request-Id after a payment changes (a checkout, a token session, a capture, a cancel, a
	// refund), sent again after each of CallbackDelays until it is answered 2xx.
	CallbackURL string
	// CallbackDelays are the waits between tries of a callback (DefaultCallbackDelays when nil;
	// tests shorten them).
	CallbackDelays []time.Duration
}

// Token is a stored token at the simulated gateway.
type Token struct {
	gateway.Token
	// DeclineCode, when set, declines every authorization with the token with this code
	// (e.g. egw.CodeInsufficientFunds).
	DeclineCode string
	// DeclineTimes, when not 0, declines only the first this many authorizations with
	// DeclineCode; later ones go through.
	DeclineTimes int
	// ProcessingFor, when not 0, replaces Options.ProcessingDelay for the payments of token
	// sessions with this token; Forever leaves them SENT_FOR_PROCESSING for good.
	ProcessingFor time.Duration
}

// Sim is the simulated gateway. It is safe for concurrent use.
type Sim struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	bearers  map[string]time.Time // access token -> expiry
	tokens   map[string]Token
	payments map[string]*payment
	order    []string              // payment ids, oldest first
	next     map[Operation][]Fault // FailNext, with defaults
	always   map[Operation]Fault   // FailAlways, with defaults
	chaos    *chaos                // nil: none
	injected []Injection
	replies  map[string]reply // by request id, with ReplayRequestIDs

	closed    chan struct{} // closed by Close: waits end
	closeOnce sync.Once
}

// New returns a simulator with the seeded tokens.
func New(opts Options, logger *slog.Logger) *Sim {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.ParticipantID == "" {
		opts.ParticipantID = DefaultParticipantID
	}
	if opts.ShopAgreementID == "" {
		opts.ShopAgreementID = DefaultShopAgreementID
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.Clock == nil {
		opts.Clock = billing.SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		opts:     opts,
		log:      logger.With(slog.String("component", "egwsim")),
		bearers:  map[string]time.Time{},
		tokens:   map[string]Token{},
		payments: map[string]*payment{},
		replies:  map[string]reply{},
		next:     map[Operation][]Fault{},
		always:   map[Operation]Fault{},
		closed:   make(chan struct{}),
	}
	for _, t := range seededTokens() {
		s.AddToken(t)
	}
	return s
}

func seededTokens() []Token {
	all := []gateway.Purpose{gateway.PurposeCIT, gateway.PurposeUnscheduled, gateway.PurposeSubscription, gateway.PurposeStandingOrder}
	card := func(id string, status gateway.TokenStatus, purposes []gateway.Purpose, brand, last4 string, month, year int) gateway.Token {
		return gateway.Token{ID: id, Status: status, Purposes: purposes, Brand: brand, Last4: last4,
			CardholderName: "Sim Cardholder", ExpiryMonth: month, ExpiryYear: year}
	}
	return []Token{
		{Token: card(TokenActive, gateway.TokenActive, all, "MASTERCARD", "0005", 12, 2099)},
		{Token: card(TokenSuspended, gateway.TokenSuspended, all, "VISA", "0021", 12, 2099)},
		{Token: card(TokenDeclined, gateway.TokenActive, all[1:], "MASTERCARD", "0013", 12, 2099), DeclineCode: egw.CodeAuthorizationDeclined},
		{Token: card(TokenExpired, gateway.TokenActive, all, "VISA", "0039", 1, 2020)},
		{Token: card(TokenInsufficientFunds, gateway.TokenActive, all, "VISA", "0047", 12, 2099), DeclineCode: egw.CodeInsufficientFunds},
		{Token: card(TokenProcessing, gateway.TokenActive, all, "MASTERCARD", "0054", 12, 2099), ProcessingFor: Forever},
		{Token: card(TokenRecovering, gateway.TokenActive, all, "VISA", "0062", 12, 2099), DeclineCode: egw.CodeInsufficientFunds, DeclineTimes: 2},
	}
}

// AddToken adds t, or replaces the token with its id.
func (s *Sim) AddToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Purposes = slices.Clone(t.Purposes)
	s.tokens[t.ID] = t
}

// Token returns the stored token with id, as it is now.
func (s *Sim) Token(id string) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, found := s.tokens[id]
	return t, found
}

// Handler serves the simulated API.
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", s.issueToken)
	mux.HandleFunc("GET /sim/ledger", s.serveLedger)
	mux.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Faults()) })
	mux.HandleFunc("POST /sim/faults", s.addFault)
	mux.HandleFunc("DELETE /sim/faults", noContent(s.ClearFaults))
	mux.HandleFunc("POST /sim/chaos", s.setChaos)
	mux.HandleFunc("DELETE /sim/chaos", noContent(s.StopChaos))
	s.route(mux, OpGetToken, "GET /egw/{version}/tokens/{tokenId}", s.getToken)
	s.route(mux, OpDeactivateToken, "DELETE /egw/{version}/tokens/{tokenId}", s.deactivateToken)
	s.route(mux, OpInitiateMitPayment, "POST /egw/{version}/payments/mit", s.initiateMIT)
	s.route(mux, OpInitiateCitPayment, "POST /egw/{version}/payments/cit", s.initiateCIT)
	mux.HandleFunc("GET /sim/checkout/{paymentId}", s.serveCheckout)
	mux.HandleFunc("POST /sim/checkout/{paymentId}", s.finishCheckout)
	s.route(mux, OpCreateTokenSession, "POST /egw/{version}/payments/{paymentId}/sessions/token", s.startSession)
	s.route(mux, OpGetPayment, "GET /egw/{version}/payments/{paymentId}", s.getPayment)
	s.route(mux, OpCapture, "PATCH /egw/{version}/payments/{paymentId}/capture", s.capture)
	s.route(mux, OpCancel, "PATCH /egw/{version}/payments/{paymentId}/cancel", s.cancel)
	s.route(mux, OpRefund, "POST /egw/{version}/refunds", s.refund)
	return mux
}
