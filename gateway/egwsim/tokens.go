package egwsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
)

// token finds a token by id. An id that extends a seeded token's with "_" and anything
// (tok_sim_active_42) is a new token like the seeded one, made on first use: walk-throughs and
// tests can have as many distinct tokens of a kind as they need. The caller holds s.mu.
func (s *Sim) token(id string) (Token, bool) {
	if t, found := s.tokens[id]; found {
		return t, true
	}
	for _, seed := range seededTokens() {
		if strings.HasPrefix(id, seed.ID+"_") {
			seed.ID = id
			s.tokens[id] = seed
			return seed, true
		}
	}
	return Token{}, false
}

func (s *Sim) getToken(r request) reply {
	t, found := s.token(r.PathValue("tokenId"))
	if !found {
		return fail(http.StatusNotFound, CodeNotFound, "token %s not found", r.PathValue("tokenId"))
	}
	return ok(egw.TokenInformationResponse{
		GatewayTokenID:    t.ID,
		PaymentMethodType: "CARD",
		TokenStatus:       t.Status,
		Purposes:          t.Purposes,
		// EGW's token information has no brand.
		Card: &egw.Card{CardholderName: t.CardholderName, Expiry: expiryOf(t.Token), LastFourDigits: t.Last4},
	})
}

func (s *Sim) deactivateToken(r request) reply {
	t, found := s.token(r.PathValue("tokenId"))
	if !found {
		return fail(http.StatusNotFound, CodeNotFound, "token %s not found", r.PathValue("tokenId"))
	}
	t.Status = gateway.TokenSuspended
	s.tokens[t.ID] = t
	return ok(egw.DeactivateTokenResponse{GatewayTokenID: t.ID, TokenStatus: t.Status})
}

func expiryOf(t gateway.Token) *egw.CardExpiry {
	e := egw.ExpiryOf(t.ExpiryMonth, t.ExpiryYear)
	return &e
}

// refusal says why the gateway itself refuses to authorize a payment on channel ch with t at
// time now, before asking the issuer; it returns an empty code when it does not.
func refusal(t Token, ch gateway.Channel, now time.Time) (code, text string) {
	needs := gateway.PurposesFor(ch)
	switch {
	case t.Status != gateway.TokenActive:
		return egw.CodeTokenSuspended, fmt.Sprintf("token %s is %s", t.ID, t.Status)
	case t.Expired(now):
		return egw.CodeCardExpired, fmt.Sprintf("the card of token %s expired %02d/%d", t.ID, t.ExpiryMonth, t.ExpiryYear)
	case !slices.ContainsFunc(needs, t.HasPurpose):
		return egw.CodeTokenPurposeMismatch, fmt.Sprintf("channel %s needs a token with purpose %v; token %s has %v", ch, needs, t.ID, t.Purposes)
	}
	return "", ""
}
