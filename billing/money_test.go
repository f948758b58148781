package billing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecimalRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		m    Money
		want string
	}{
		{Money{1050, "EUR"}, "10.50"},
		{Money{5, "EUR"}, "0.05"},
		{Money{0, "EUR"}, "0.00"},
		{Money{1200, "JPY"}, "1200"},
		{Money{1234, "KWD"}, "1.234"},
		{Money{-250, "USD"}, "-2.50"},
	}
	for _, c := range cases {
		got, err := c.m.Decimal()
		require.NoError(t, err)
		require.Equal(t, c.want, got)
		back, err := ParseDecimal(got, c.m.Currency)
		require.NoError(t, err)
		require.Equal(t, c.m, back)
	}
}

func TestParseDecimalForms(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int64{"1056": 105600, "5768.2": 576820, "1.50": 150, "0.1": 10} {
		m, err := ParseDecimal(s, "EUR")
		require.NoError(t, err, s)
		require.Equal(t, want, m.Amount, s)
	}
	for _, bad := range []string{"", "1.", ".5", "1.234", "1,50", "abc", "1e3", "--1", "99999999999999999999"} {
		_, err := ParseDecimal(bad, "EUR")
		require.Error(t, err, bad)
	}
}

func TestCurrencyDigits(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{"EUR": 2, "JPY": 0, "KWD": 3, "SEK": 2} {
		got, err := CurrencyDigits(code)
		require.NoError(t, err)
		require.Equal(t, want, got, code)
	}
	for _, bad := range []string{"eur", "EU", "ABC", "XXX", "XAU", ""} {
		_, err := CurrencyDigits(bad)
		require.Error(t, err, bad)
	}
}
