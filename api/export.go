package api

import (
	"encoding/csv"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/recur-billing/recur/billing"
)

// wantsCSV reads how a list is asked for: ?format=csv or ?format=json, else an Accept header
// naming text/csv. JSON is the default.
func wantsCSV(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, &billing.ValidationError{Field: "format", Reason: "must be json or csv"}
	}
	for part := range strings.SplitSeq(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true, nil
		}
	}
	return false, nil
}

// column is one column of a CSV export of rows of type T.
type column[T any] struct {
	name  string
	value func(T) string
}

// flushEvery is how many CSV rows go out in one flush (the first row goes at once).
const flushEvery = 1000

// serveList answers a list in the format asked for. As CSV, each is asked for every row (limit
// 0: ?limit= is for JSON pages, though it is checked either way) and every row is written as it comes, so that memory stays flat however many there are. As
// JSON, jsonPage answers a page of up to ?limit= items (see pageOf).
func serveList[T any](a *API, w http.ResponseWriter, r *http.Request, filename string, cols []column[T],
	each func(limit int, fn func(T) error) error, jsonPage func(n int) (any, error)) {
	csvOut, err := wantsCSV(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	n, err := limit(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Add("Vary", "Accept")
	if csvOut {
		streamCSV(a, w, r, filename, cols, func(fn func(T) error) error { return each(0, fn) })
		return
	}
	out, err := jsonPage(n)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// pageOf makes a JSON page of n rows: it asks each for one row more, to tell whether there are
// more, and converts them with toJSON.
func pageOf[T, J any](each func(limit int, fn func(T) error) error, toJSON func(T) J) func(n int) (any, error) {
	return func(n int) (any, error) {
		var out []J
		err := each(n+1, func(v T) error { out = append(out, toJSON(v)); return nil })
		return page(out, n), err
	}
}

// streamCSV writes the rows that each hands over as a CSV attachment. The status and the header
// row go out with the first row (or at the end when there is none), so an error before then is
// still answered as a problem. An error after it cuts the answer off, so that the client sees a
// failed download rather than a short file that looks complete.
func streamCSV[T any](a *API, w http.ResponseWriter, r *http.Request, filename string, cols []column[T], each func(fn func(T) error) error) {
	cw := csv.NewWriter(w)
	rc := http.NewResponseController(w)
	rows := 0
	start := func() {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
		w.WriteHeader(http.StatusOK)
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		_ = cw.Write(names)
	}
	record := make([]string, len(cols))
	err := each(func(v T) error {
		if rows == 0 {
			start()
		}
		rows++
		for i, c := range cols {
			record[i] = c.value(v)
		}
		if err := cw.Write(record); err != nil {
			return err
		}
		if rows == 1 || rows%flushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return rc.Flush()
		}
		return nil
	})
	switch {
	case err != nil && rows == 0:
		a.fail(w, r, err)
	case err != nil:
		if r.Context().Err() == nil { // not just a client that went away
			a.log.ErrorContext(r.Context(), "csv export cut off", slog.Int("rows", rows), slog.Any("error", err))
		}
		panic(http.ErrAbortHandler)
	default:
		if rows == 0 {
			start()
		}
		cw.Flush()
	}
}

// CSV cells. Money goes out as integer minor units beside a decimal column ("1250" and "12.50"),
// times as RFC 3339 in UTC.

func csvInt[N int | int64](n N) string { return strconv.FormatInt(int64(n), 10) }

func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func csvOptTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}

// csvDecimal formats an amount with its currency's fraction digits; empty without a currency.
func csvDecimal(amount int64, currency string) string {
	d, err := billing.Money{Amount: amount, Currency: currency}.Decimal()
	if err != nil {
		return ""
	}
	return d
}

// csvText keeps text that people and gateways wrote (names, failure reasons) from being read as
// a formula by a spreadsheet: such a cell gets a leading apostrophe, as OWASP advises.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
