package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTestClockOnlyMovesForward(t *testing.T) {
	t.Parallel()
	c := NewTestClock()
	require.WithinDuration(t, time.Now(), c.Now(), time.Second)

	to := c.Now().Add(31 * 24 * time.Hour)
	require.NoError(t, c.Advance(to))
	require.WithinDuration(t, to, c.Now(), time.Second)
	require.False(t, c.Now().Before(to), "it runs on from where it was moved")

	var ve *ValidationError
	for _, bad := range []time.Time{to.Add(-time.Hour), c.Now().Add(-time.Millisecond), c.Now().Add(MaxTestClockAdvance + time.Hour)} {
		require.ErrorAs(t, c.Advance(bad), &ve)
		require.Equal(t, "to", ve.Field)
	}
	require.WithinDuration(t, to, c.Now(), time.Second, "a refused advance changes nothing")
}
