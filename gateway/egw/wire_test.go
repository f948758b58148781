package egw_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egw"
)

func TestAmount(t *testing.T) {
	t.Parallel()
	for _, m := range []billing.Money{eur(1050), eur(5), {Amount: 1200, Currency: "JPY"}, {Amount: 1234, Currency: "KWD"}} {
		a, err := egw.AmountOf(m)
		require.NoError(t, err)
		back, err := a.Money()
		require.NoError(t, err)
		require.Equal(t, m, back)
	}
	a, err := egw.AmountOf(eur(1050))
	require.NoError(t, err)
	require.Equal(t, egw.Amount{Amount: "10.50", Currency: egw.Currency{CurrencyCode: "EUR"}}, a)

	for _, bad := range []egw.Amount{
		{Amount: "10.505", Currency: egw.Currency{CurrencyCode: "EUR"}},
		{Amount: "1e3", Currency: egw.Currency{CurrencyCode: "EUR"}},
		{Amount: "10", Currency: egw.Currency{CurrencyCode: "eur"}},
	} {
		_, err := bad.Money()
		require.Error(t, err, bad.Amount)
	}
}

func TestCardExpiry(t *testing.T) {
	t.Parallel()
	e := egw.ExpiryOf(1, 2020)
	require.Equal(t, egw.CardExpiry{Month: "01", Year: "20"}, e)
	m, y, err := e.MonthYear()
	require.NoError(t, err)
	require.Equal(t, []int{1, 2020}, []int{m, y})

	for _, bad := range []egw.CardExpiry{{Month: "13", Year: "30"}, {Month: "1", Year: "30"}, {Month: "12", Year: "2030"}, {Month: "12", Year: "x1"}} {
		_, _, err := bad.MonthYear()
		require.Error(t, err, bad)
	}
}

func TestValidOrderNumber(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"R-2026/03:1", "a(b).c,d'e+f?g", "0"} {
		require.True(t, egw.ValidOrderNumber(ok), ok)
	}
	for _, bad := range []string{"", "has space", "ä", "a_b", strings.Repeat("1", 256)} {
		require.False(t, egw.ValidOrderNumber(bad), bad)
	}
}

func TestIsDeclineCode(t *testing.T) {
	t.Parallel()
	require.True(t, egw.IsDeclineCode(egw.CodeInsufficientFunds))
	require.False(t, egw.IsDeclineCode("INVALID_REQUEST"))
	require.False(t, egw.IsDeclineCode(""))
}
