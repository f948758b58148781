package billing

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Money is an amount in integer minor units of an ISO 4217 currency: {1050, "EUR"} is 10.50 EUR.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// CurrencyDigits returns the number of minor-unit digits of an ISO 4217 alpha-3 code (2 for EUR,
// 0 for JPY, 3 for KWD). Codes must be upper case; the X-codes (precious metals, funds, testing,
// "no currency") are not accepted for billing.
func CurrencyDigits(code string) (int, error) {
	if len(code) != 3 || strings.ToUpper(code) != code || code[0] == 'X' {
		return 0, fmt.Errorf("%q is not an upper-case ISO 4217 currency code", code)
	}
	unit, err := currency.ParseISO(code)
	if err != nil {
		return 0, fmt.Errorf("%q is not an ISO 4217 currency code", code)
	}
	digits, _ := currency.Standard.Rounding(unit)
	return digits, nil
}

// Decimal formats m as a decimal string with the currency's fraction digits ("10.50", "1200" for
// JPY), the form that gateways such as EGW expect.
func (m Money) Decimal() (string, error) {
	digits, err := CurrencyDigits(m.Currency)
	if err != nil {
		return "", err
	}
	sign, n := "", m.Amount
	if n < 0 {
		sign, n = "-", -n
	}
	s := strconv.FormatInt(n, 10)
	if digits == 0 {
		return sign + s, nil
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return sign + s[:len(s)-digits] + "." + s[len(s)-digits:], nil
}

// ParseDecimal reads a decimal amount such as "1056", "5768.2" or "1.50" in the given currency
// into minor units. More fraction digits than the currency has is an error, never a rounding.
func ParseDecimal(s, code string) (Money, error) {
	digits, err := CurrencyDigits(code)
	if err != nil {
		return Money{}, err
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	if whole == "" || !allDigits(whole) || !allDigits(frac) || (hasDot && frac == "") {
		return Money{}, fmt.Errorf("%q is not a decimal amount", s)
	}
	if len(frac) > digits {
		return Money{}, fmt.Errorf("%q has more than %d fraction digits for %s", s, digits, code)
	}
	n, err := strconv.ParseInt(whole+frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	if err != nil {
		return Money{}, fmt.Errorf("%q is out of range", s)
	}
	if neg {
		n = -n
	}
	return Money{Amount: n, Currency: code}, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// String formats m for people and logs: "10.50 EUR".
func (m Money) String() string {
	d, err := m.Decimal()
	if err != nil {
		return fmt.Sprintf("%d (minor units) %s", m.Amount, m.Currency)
	}
	return d + " " + m.Currency
}
