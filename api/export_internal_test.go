package api

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCSVTextDefusesFormulas(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ada Lovelace Ltd":  "Ada Lovelace Ltd",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1 555":            "'+1 555",
		"-2":                "'-2",
		"@SUM(A1)":          "'@SUM(A1)",
		"":                  "",
	} {
		require.Equal(t, want, csvText(in), in)
	}
}

func TestWantsCSV(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, accept string
		csv         bool
	}{
		{"/x", "", false},
		{"/x", "application/json", false},
		{"/x", "text/csv", true},
		{"/x", "application/json;q=0.5, text/csv; charset=utf-8", true},
		{"/x?format=csv", "application/json", true},
		{"/x?format=json", "text/csv", false},
	} {
		r := httptest.NewRequest("GET", c.url, nil)
		r.Header.Set("Accept", c.accept)
		got, err := wantsCSV(r)
		require.NoError(t, err)
		require.Equal(t, c.csv, got, "%s %s", c.url, c.accept)
	}
	_, err := wantsCSV(httptest.NewRequest("GET", "/x?format=xlsx", nil))
	require.ErrorContains(t, err, "format: must be json or csv")
}
