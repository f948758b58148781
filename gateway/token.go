package gateway

import (
	"fmt"
	"slices"
	"time"

	"github.com/recur-billing/recur/billing"
)

// MITPurposes are the purposes that let a token be charged without the customer.
var MITPurposes = []Purpose{PurposeSubscription, PurposeStandingOrder, PurposeUnscheduled}

// PurposesFor returns the purposes of which a token needs one to be charged on channel ch.
func PurposesFor(ch Channel) []Purpose {
	if ch == ChannelMerchant {
		return []Purpose{PurposeUnscheduled}
	}
	return []Purpose{PurposeSubscription, PurposeStandingOrder}
}

// Carries reports whether purposes (a stored payment method's, by name) include one of anyOf.
func Carries(purposes []string, anyOf ...Purpose) bool {
	return slices.ContainsFunc(anyOf, func(p Purpose) bool { return slices.Contains(purposes, string(p)) })
}

// Check says why the token cannot be charged at time now for any of the purposes anyOf, or
// returns nil when it can: it must be ACTIVE, carry one of the purposes and its card must not have
// expired.
func (t Token) Check(now time.Time, anyOf ...Purpose) *billing.Failure {
	if t.Status != TokenActive {
		return &billing.Failure{Code: billing.FailureTokenNotActive, Reason: fmt.Sprintf("token status is %s, not ACTIVE", t.Status)}
	}
	if !slices.ContainsFunc(anyOf, t.HasPurpose) {
		return &billing.Failure{Code: billing.FailurePurposeMissing, Reason: fmt.Sprintf("token purposes %v include none of %v", t.Purposes, anyOf)}
	}
	if t.Expired(now) {
		return &billing.Failure{Code: billing.FailureCardExpired, Reason: fmt.Sprintf("card expired at the end of %02d/%d", t.ExpiryMonth, t.ExpiryYear)}
	}
	return nil
}
