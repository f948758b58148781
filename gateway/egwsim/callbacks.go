package egwsim

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// DefaultCallbackDelays are EGW's waits before it sends a callback that was not answered 2xx
// again: 1 s, 5 min, 1 h, 1 day, 2 days, 3 days.
var DefaultCallbackDelays = []time.Duration{time.Second, 5 * time.Minute, time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour}

// Callback is the body of a callback: which payment changed. The receiver reads the payment for
// its state.
type Callback struct {
	Type      string `json:"type"` // PAYMENT
	PaymentID string `json:"paymentId"`
}

// changed sends a callback for the payment, when Options.CallbackURL is set, without waiting.
// The caller may hold s.mu.
func (s *Sim) changed(paymentID string) {
	if s.opts.CallbackURL == "" {
		return
	}
	go s.sendCallback(paymentID)
}

// sendCallback POSTs the callback until it is answered 2xx, waiting Options.CallbackDelays
// between tries (real time), or gives up after the last; Close stops it.
func (s *Sim) sendCallback(paymentID string) {
	body, _ := json.Marshal(Callback{Type: "PAYMENT", PaymentID: paymentID})
	delays := s.opts.CallbackDelays
	if delays == nil {
		delays = DefaultCallbackDelays
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for try := 0; ; try++ {
		status := s.postCallback(client, body)
		log := s.log.With(slog.String("payment_id", paymentID), slog.Int("try", try+1), slog.Int("status", status))
		if status >= 200 && status <= 299 {
			log.Debug("egwsim callback delivered")
			return
		}
		if try == len(delays) {
			log.Warn("egwsim callback given up")
			return
		}
		log.Debug("egwsim callback not accepted: sending it again later", slog.Duration("after", delays[try]))
		select {
		case <-time.After(delays[try]):
		case <-s.closed:
			return
		}
	}
}

// postCallback sends one callback and returns the answer's status, 0 when none came.
func (s *Sim) postCallback(client *http.Client, body []byte) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", uuid.NewString())
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
