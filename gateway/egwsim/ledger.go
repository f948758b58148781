package egwsim

import (
	"net/http"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
)

// Entry is the ledger's record of one payment: what was asked, authorized and captured.
type Entry struct {
	PaymentID         string                `json:"paymentId"`
	OrderNumber       string                `json:"orderNumber"`
	MerchantReference string                `json:"merchantReference,omitempty"`
	Channel           gateway.Channel       `json:"channel"`
	TokenID           string                `json:"tokenId,omitempty"` // set by the token session
	Status            gateway.PaymentStatus `json:"status"`
	Instructed        billing.Money         `json:"instructed"`
	Authorized        billing.Money         `json:"authorized"` // zero unless authorized
	Captured          billing.Money         `json:"captured"`   // zero unless captured
	Refunded          billing.Money         `json:"refunded"`   // zero until refunded; the sum of Refunds
	Refunds           []Refund              `json:"refunds,omitempty"`
	Cancelled         bool                  `json:"cancelled"`
	DeclineCode       string                `json:"declineCode,omitempty"` // why it FAILED
	CreatedAt         time.Time             `json:"createdAt"`
	SessionAt         time.Time             `json:"sessionAt,omitzero"`
	AuthorizedAt      time.Time             `json:"authorizedAt,omitzero"`
	FailedAt          time.Time             `json:"failedAt,omitzero"`
	CapturedAt        time.Time             `json:"capturedAt,omitzero"`
	CancelledAt       time.Time             `json:"cancelledAt,omitzero"`
}

// Refund is one refund of a captured payment.
type Refund struct {
	RefundID  string        `json:"refundId"`
	Amount    billing.Money `json:"amount"`
	CreatedAt time.Time     `json:"createdAt"`
}

// Ledger returns every payment, oldest first, as of the simulator's clock.
func (s *Sim) Ledger() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := make([]Entry, 0, len(s.order))
	for _, id := range s.order {
		entries = append(entries, s.find(id).Entry)
	}
	return entries
}

// Payment returns the ledger entry of one payment.
func (s *Sim) Payment(id string) (Entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.find(id); p != nil {
		return p.Entry, true
	}
	return Entry{}, false
}

// serveLedger shows the ledger as JSON, for people.
func (s *Sim) serveLedger(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Ledger())
}
