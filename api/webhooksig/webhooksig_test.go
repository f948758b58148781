package webhooksig_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api/webhooksig"
)

// The vector was computed outside Go:
//
//	printf '%s' '1767225600.<body>' | openssl dgst -sha256 -hmac whsec_example
const (
	body    = `{"id":"0190f0b8-0000-7000-8000-000000000001","type":"subscription.created"}`
	current = "5464e7f5dab3f30212971b9e2936dd781e1e8817cdd8780f1f9cfe8555626fae" // whsec_example
	old     = "39158400e67d04801c5656412a18fcdbab46a90800025eebe7c911931890c7ec" // whsec_previous
)

var sentAt = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, "t=1767225600,v1="+current, webhooksig.Sign([]byte(body), sentAt, "whsec_example"))
	require.Equal(t, "t=1767225600,v1="+current+",v1="+old,
		webhooksig.Sign([]byte(body), sentAt, "whsec_example", "whsec_previous"))
}

func TestVerify(t *testing.T) {
	t.Parallel()
	rotating := "t=1767225600,v1=" + old + ",v1=" + current
	now := sentAt.Add(4 * time.Minute)
	for _, tc := range []struct {
		name, header, secret, body string
		now                        time.Time
		want                       error
	}{
		{"current secret", "t=1767225600,v1=" + current, "whsec_example", body, now, nil},
		{"either secret during rotation", rotating, "whsec_example", body, now, nil},
		{"the old secret too", rotating, "whsec_previous", body, now, nil},
		{"spaces after commas", "t=1767225600, v1=" + current, "whsec_example", body, now, nil},
		{"unknown schemes ignored", "t=1767225600,v0=00,v1=" + current, "whsec_example", body, now, nil},
		{"another secret", rotating, "whsec_other", body, now, webhooksig.ErrMismatch},
		{"a changed body", rotating, "whsec_example", body + " ", now, webhooksig.ErrMismatch},
		{"a changed timestamp", "t=1767225601,v1=" + current, "whsec_example", body, now, webhooksig.ErrMismatch},
		{"too old", rotating, "whsec_example", body, sentAt.Add(5*time.Minute + time.Second), webhooksig.ErrTooOld},
		{"from the future", rotating, "whsec_example", body, sentAt.Add(-6 * time.Minute), webhooksig.ErrTooOld},
		{"no signature", "t=1767225600", "whsec_example", body, now, webhooksig.ErrMalformed},
		{"no timestamp", "v1=" + current, "whsec_example", body, now, webhooksig.ErrMalformed},
		{"two timestamps", "t=1767225600,t=1767225600,v1=" + current, "whsec_example", body, now, webhooksig.ErrMalformed},
		{"not hex", "t=1767225600,v1=zz", "whsec_example", body, now, webhooksig.ErrMalformed},
		{"empty", "", "whsec_example", body, now, webhooksig.ErrMalformed},
	} {
		err := webhooksig.Verify(tc.header, []byte(tc.body), tc.secret, webhooksig.Tolerance, tc.now)
		require.ErrorIs(t, err, tc.want, tc.name)
		if tc.want == nil {
			require.NoError(t, err, tc.name)
		}
	}
}
