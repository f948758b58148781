package egw

import (
	"context"
	"net/http"
	"net/url"

	"github.com/recur-billing/recur/gateway"
)

// GetToken reads a stored token's status, purposes and card details. EGW does not tell the card
// brand here, so Token.Brand is empty.
func (c *Client) GetToken(ctx context.Context, tokenID string) (gateway.Token, error) {
	const op = "get_token"
	var r TokenInformationResponse
	if err := c.do(ctx, call{op: op, method: http.MethodGet, path: "tokens/" + url.PathEscape(tokenID), out: &r}); err != nil {
		return gateway.Token{}, err
	}
	t := gateway.Token{ID: r.GatewayTokenID, Status: r.TokenStatus, Purposes: r.Purposes}
	if r.Card != nil {
		t.Last4, t.CardholderName = r.Card.LastFourDigits, r.Card.CardholderName
		if r.Card.Expiry != nil {
			m, y, err := r.Card.Expiry.MonthYear()
			if err != nil {
				return gateway.Token{}, undecodable(op, http.StatusOK, false, err)
			}
			t.ExpiryMonth, t.ExpiryYear = m, y
		}
	}
	return t, nil
}

// DeactivateToken suspends a stored token at EGW so that no further payment can use it, and
// returns its new status.
func (c *Client) DeactivateToken(ctx context.Context, tokenID string) (gateway.TokenStatus, error) {
	var r DeactivateTokenResponse
	if err := c.do(ctx, call{op: "deactivate_token", method: http.MethodDelete, path: "tokens/" + url.PathEscape(tokenID), out: &r}); err != nil {
		return "", err
	}
	return r.TokenStatus, nil
}
