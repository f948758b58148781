package egw

import "slices"

// Decline codes: the apiClientMessages codes with which a payment is refused. EGW does not
// publish its message codes, so this set is Recur's assumption about them, shared with the
// simulator; an unknown code on a 4xx answer is classified Permanent, which is also not retried.
const (
	// CodeAuthorizationDeclined: the issuer refused the authorization without saying why.
	CodeAuthorizationDeclined = "AUTHORIZATION_DECLINED"
	// CodeInsufficientFunds: the card's account cannot cover the amount.
	CodeInsufficientFunds = "INSUFFICIENT_FUNDS"
	// CodeCardExpired: the card stored in the token has expired.
	CodeCardExpired = "CARD_EXPIRED"
	// CodeTokenSuspended: the token is not ACTIVE.
	CodeTokenSuspended = "TOKEN_SUSPENDED"
	// CodeTokenPurposeMismatch: the token lacks the purpose the payment's channel needs
	// (RECURRING needs SUBSCRIPTION or STANDING_ORDER, MERCHANT needs UNSCHEDULED).
	CodeTokenPurposeMismatch = "TOKEN_PURPOSE_MISMATCH"
	// CodeDoNotHonor: the issuer's generic refusal.
	CodeDoNotHonor = "DO_NOT_HONOR"
)

var declineCodes = []string{
	CodeAuthorizationDeclined,
	CodeInsufficientFunds,
	CodeCardExpired,
	CodeTokenSuspended,
	CodeTokenPurposeMismatch,
	CodeDoNotHonor,
}

// IsDeclineCode reports whether an apiClientMessages code means that the payment was refused.
func IsDeclineCode(code string) bool { return slices.Contains(declineCodes, code) }
