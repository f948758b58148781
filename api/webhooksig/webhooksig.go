// Package webhooksig signs Recur's webhook deliveries and verifies them: the Recur-Signature
// header, "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", with one v1 per signing secret
// (two while a secret is being rotated). It uses only the standard library, so that a receiver can
// import it or copy it.
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header is the name of the HTTP header that carries the signature.
const Header = "Recur-Signature"

// Tolerance is how far from the receiver's clock a delivery's timestamp may be before Verify
// refuses it, which bounds how long a captured delivery can be replayed.
const Tolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrMalformed = errors.New("webhooksig: malformed " + Header + " header")
	ErrTooOld    = errors.New("webhooksig: timestamp outside the tolerance")
	ErrMismatch  = errors.New("webhooksig: no v1 signature matches")
)

// Sign returns the header value that signs body, sent at t, with each of secrets.
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

// Verify checks that header signs body with secret: it must carry a timestamp within tolerance
// of now (either way) and, among its v1 signatures, one of "<t>.<body>" with secret. Any v1 may
// match, so that deliveries keep verifying while the sender rotates its secret. Comparisons take
// constant time.
func Verify(header string, body []byte, secret string, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case !ok:
			return ErrMalformed
		case k == "t" && ts == "":
			ts = v
		case k == "t":
			return ErrMalformed
		case k == "v1":
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformed
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformed
	}
	if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
		return ErrTooOld
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrMismatch
}

// mac is the HMAC-SHA256 of "<ts>.<body>" keyed with the secret's bytes.
func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts + "."))
	h.Write(body)
	return h.Sum(nil)
}
