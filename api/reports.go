package api

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// reportRoutes are the finance reports: JSON, or CSV with ?format=csv or Accept: text/csv. They
// are mounted twice, under /v1/reports for API keys and under /ui/reports for the finance pages'
// download buttons.
func (a *API) reportRoutes(r chi.Router) {
	r.Get("/billing_runs", a.runReports)
	r.Get("/billing_runs/{id}", a.runReport)
	r.Get("/billing_runs/{id}/charges", a.runChargesReport)
	r.Get("/revenue", a.revenueReport)
	r.Get("/subscriptions_at_risk", a.atRiskReport)
}

// runReportStatuses are the outcomes that a billing-run report always shows, zero when no charge
// is in them.
var runReportStatuses = []billing.ChargeStatus{billing.ChargeSucceeded, billing.ChargeFailed, billing.ChargeRetrying, billing.ChargeNeedsReview}

type totalJSON struct {
	Count  int   `json:"count"`
	Amount int64 `json:"amount"`
}

// runCurrencyJSON is what became of a run's charges in one currency.
type runCurrencyJSON struct {
	Currency    string               `json:"currency"`
	Due         totalJSON            `json:"due"`
	Attempted   totalJSON            `json:"attempted"`
	Succeeded   totalJSON            `json:"succeeded"`
	Failed      totalJSON            `json:"failed"`
	Retrying    totalJSON            `json:"retrying"`
	NeedsReview totalJSON            `json:"needs_review"`
	ByStatus    map[string]totalJSON `json:"by_status"` // every status, those above included
}

// runReportJSON is a billing run with its charges' outcomes in each currency.
type runReportJSON struct {
	billingRunJSON
	DurationSeconds *float64          `json:"duration_seconds"` // null while the run is under way
	Currencies      []runCurrencyJSON `json:"currencies"`
}

func total(t store.Total) totalJSON { return totalJSON{Count: t.Count, Amount: t.Amount} }

// duration is how long a run took, in seconds; nil while it is under way.
func duration(r billing.BillingRun) *float64 {
	if r.FinishedAt == nil {
		return nil
	}
	s := r.FinishedAt.Sub(r.StartedAt).Seconds()
	return &s
}

func runCurrencyOut(rr store.RunReport) runCurrencyJSON {
	out := runCurrencyJSON{Currency: rr.Currency, Due: total(rr.Due), Attempted: total(rr.Attempted),
		Succeeded: total(rr.ByStatus[billing.ChargeSucceeded]), Failed: total(rr.ByStatus[billing.ChargeFailed]),
		Retrying: total(rr.ByStatus[billing.ChargeRetrying]), NeedsReview: total(rr.ByStatus[billing.ChargeNeedsReview]),
		ByStatus: map[string]totalJSON{}}
	for _, s := range runReportStatuses {
		out.ByStatus[string(s)] = total(rr.ByStatus[s])
	}
	for s, t := range rr.ByStatus {
		out.ByStatus[string(s)] = total(t)
	}
	return out
}

// runReportCSV has a row per run and currency.
var runReportCSV = func() []column[store.RunReport] {
	cols := []column[store.RunReport]{
		{"billing_run_id", func(r store.RunReport) string { return r.ID.String() }},
		{"as_of", func(r store.RunReport) string { return csvTime(r.AsOf) }},
		{"started_at", func(r store.RunReport) string { return csvTime(r.StartedAt) }},
		{"finished_at", func(r store.RunReport) string { return csvOptTime(r.FinishedAt) }},
		{"duration_seconds", func(r store.RunReport) string {
			if d := duration(r.BillingRun); d != nil {
				return strconv.FormatFloat(*d, 'f', 3, 64)
			}
			return ""
		}},
		{"subscriptions_due", func(r store.RunReport) string { return csvInt(r.SubscriptionsDue) }},
		{"currency", func(r store.RunReport) string { return r.Currency }},
	}
	outcome := func(name string, get func(store.RunReport) store.Total) {
		cols = append(cols,
			column[store.RunReport]{name + "_count", func(r store.RunReport) string { return csvInt(get(r).Count) }},
			column[store.RunReport]{name + "_amount", func(r store.RunReport) string { return csvInt(get(r).Amount) }},
			column[store.RunReport]{name + "_decimal", func(r store.RunReport) string { return csvDecimal(get(r).Amount, r.Currency) }})
	}
	outcome("due", func(r store.RunReport) store.Total { return r.Due })
	outcome("attempted", func(r store.RunReport) store.Total { return r.Attempted })
	for _, s := range runReportStatuses {
		outcome(string(s), func(r store.RunReport) store.Total { return r.ByStatus[s] })
	}
	return cols
}()

// eachRunReport folds the rows of store.EachRunReport (one per run and currency) into one report
// per run, and calls fn with each.
func (a *API) eachRunReport(r *http.Request, f store.RunFilter, fn func(runReportJSON) error) error {
	var cur *runReportJSON
	err := store.EachRunReport(r.Context(), a.db, f, func(rr store.RunReport) error {
		if cur != nil && cur.ID != rr.ID {
			if err := fn(*cur); err != nil {
				return err
			}
			cur = nil
		}
		if cur == nil {
			cur = &runReportJSON{billingRunJSON: billingRunOut(rr.BillingRun), DurationSeconds: duration(rr.BillingRun),
				Currencies: []runCurrencyJSON{}}
		}
		if rr.Currency != "" {
			cur.Currencies = append(cur.Currencies, runCurrencyOut(rr))
		}
		return nil
	})
	if err == nil && cur != nil {
		err = fn(*cur)
	}
	return err
}

// startingAfter reads the optional ?starting_after= id: the last one of the previous page.
func startingAfter(r *http.Request) (*uuid.UUID, error) { return queryID(r, "starting_after") }

// runReports lists billing runs, newest first, with what became of their charges in each
// currency. The CSV has a row per run and currency; a JSON page has up to ?limit= runs.
func (a *API) runReports(w http.ResponseWriter, r *http.Request) {
	after, err := startingAfter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows := func(limit int, fn func(store.RunReport) error) error {
		return store.EachRunReport(r.Context(), a.db, store.RunFilter{StartingAfter: after, Limit: limit}, fn)
	}
	serveList(a, w, r, "billing-runs.csv", runReportCSV, rows, func(n int) (any, error) {
		var out []runReportJSON
		err := a.eachRunReport(r, store.RunFilter{StartingAfter: after, Limit: n + 1}, func(rr runReportJSON) error {
			out = append(out, rr)
			return nil
		})
		return page(out, n), err
	})
}

// runReport shows one billing run with what became of its charges in each currency.
func (a *API) runReport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	csvOut, err := wantsCSV(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := store.GetBillingRun(r.Context(), a.db, id); err != nil {
		a.fail(w, r, err)
		return
	}
	if csvOut {
		streamCSV(a, w, r, "billing-run-"+id.String()+".csv", runReportCSV, func(fn func(store.RunReport) error) error {
			return store.EachRunReport(r.Context(), a.db, store.RunFilter{ID: &id}, fn)
		})
		return
	}
	var out runReportJSON
	if err := a.eachRunReport(r, store.RunFilter{ID: &id}, func(rr runReportJSON) error { out = rr; return nil }); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// periodSpanJSON is where a billing period starts and ends.
type periodSpanJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// chargeRowJSON is a charge in a report: with its customer, attempts and why it failed.
type chargeRowJSON struct {
	ID                 uuid.UUID        `json:"id"`
	BillingRunID       *uuid.UUID       `json:"billing_run_id"`
	SubscriptionID     uuid.UUID        `json:"subscription_id"`
	CustomerID         uuid.UUID        `json:"customer_id"`
	CustomerExternalID string           `json:"customer_external_id"`
	CustomerName       string           `json:"customer_name"`
	Period             periodSpanJSON   `json:"period"`
	Status             string           `json:"status"`
	Amount             int64            `json:"amount"`
	Currency           string           `json:"currency"`
	Failure            *billing.Failure `json:"failure"`
	Attempts           int              `json:"attempts"`
	GatewayPaymentID   *string          `json:"gateway_payment_id"`
	UpdatedAt          time.Time        `json:"updated_at"`
}

func chargeRowOut(c store.ChargeRow) chargeRowJSON {
	return chargeRowJSON{ID: c.ID, BillingRunID: c.BillingRunID, SubscriptionID: c.SubscriptionID, CustomerID: c.CustomerID,
		CustomerExternalID: c.CustomerExternalID, CustomerName: c.CustomerName,
		Period: periodSpanJSON{Start: c.PeriodStart, End: c.PeriodEnd}, Status: string(c.Status), Amount: c.Amount.Amount,
		Currency: c.Amount.Currency, Failure: c.Failure, Attempts: c.Attempts, GatewayPaymentID: nonEmpty(c.GatewayPaymentID),
		UpdatedAt: c.UpdatedAt}
}

func failureCode(f *billing.Failure) string {
	if f == nil {
		return ""
	}
	return f.Code
}

func failureReason(f *billing.Failure) string {
	if f == nil {
		return ""
	}
	return f.Reason
}

var chargeRowCSV = []column[store.ChargeRow]{
	{"charge_id", func(c store.ChargeRow) string { return c.ID.String() }},
	{"billing_run_id", func(c store.ChargeRow) string {
		if c.BillingRunID == nil {
			return ""
		}
		return c.BillingRunID.String()
	}},
	{"subscription_id", func(c store.ChargeRow) string { return c.SubscriptionID.String() }},
	{"customer_id", func(c store.ChargeRow) string { return c.CustomerID.String() }},
	{"customer_external_id", func(c store.ChargeRow) string { return csvText(c.CustomerExternalID) }},
	{"customer_name", func(c store.ChargeRow) string { return csvText(c.CustomerName) }},
	{"period_start", func(c store.ChargeRow) string { return csvTime(c.PeriodStart) }},
	{"period_end", func(c store.ChargeRow) string { return csvTime(c.PeriodEnd) }},
	{"status", func(c store.ChargeRow) string { return string(c.Status) }},
	{"amount", func(c store.ChargeRow) string { return csvInt(c.Amount.Amount) }},
	{"currency", func(c store.ChargeRow) string { return c.Amount.Currency }},
	{"amount_decimal", func(c store.ChargeRow) string { return csvDecimal(c.Amount.Amount, c.Amount.Currency) }},
	{"failure_code", func(c store.ChargeRow) string { return csvText(failureCode(c.Failure)) }},
	{"failure_reason", func(c store.ChargeRow) string { return csvText(failureReason(c.Failure)) }},
	{"attempts", func(c store.ChargeRow) string { return csvInt(c.Attempts) }},
	{"gateway_payment_id", func(c store.ChargeRow) string { return csvText(c.GatewayPaymentID) }},
	{"updated_at", func(c store.ChargeRow) string { return csvTime(c.UpdatedAt) }},
}

// statusName is the shape of a charge status's name.
var statusName = regexp.MustCompile(`^[a-z_]{1,40}$`)

// chargeStatus reads the optional ?status= filter.
func chargeStatus(r *http.Request) (billing.ChargeStatus, error) {
	s := r.URL.Query().Get("status")
	if s != "" && !statusName.MatchString(s) {
		return "", &billing.ValidationError{Field: "status", Reason: "must be a charge status such as succeeded or failed"}
	}
	return billing.ChargeStatus(s), nil
}

// runChargesReport lists a billing run's charges in the order they were made, with failure
// reasons; ?status= keeps one status.
func (a *API) runChargesReport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status, err := chargeStatus(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	after, err := startingAfter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if _, err := store.GetBillingRun(r.Context(), a.db, id); err != nil {
		a.fail(w, r, err)
		return
	}
	name := "billing-run-" + id.String() + "-charges.csv"
	if status != "" {
		name = "billing-run-" + id.String() + "-" + string(status) + "-charges.csv"
	}
	rows := func(limit int, fn func(store.ChargeRow) error) error {
		f := store.ChargeRowFilter{BillingRunID: id, Status: status, StartingAfter: after, Limit: limit}
		return store.EachRunCharge(r.Context(), a.db, f, fn)
	}
	serveList(a, w, r, name, chargeRowCSV, rows, pageOf(rows, chargeRowOut))
}

// revenueRange reads ?interval= (day, the default, or month), ?from= and ?to= (dates, both
// included; by default the last 30 days or 12 months) and ?currency=.
func (a *API) revenueRange(r *http.Request) (store.RevenueFilter, error) {
	q := r.URL.Query()
	f := store.RevenueFilter{Interval: q.Get("interval"), Currency: q.Get("currency")}
	if f.Interval == "" {
		f.Interval = store.RevenueByDay
	}
	if f.Interval != store.RevenueByDay && f.Interval != store.RevenueByMonth {
		return f, &billing.ValidationError{Field: "interval", Reason: "must be day or month"}
	}
	if f.Currency != "" {
		if _, err := billing.CurrencyDigits(f.Currency); err != nil {
			return f, &billing.ValidationError{Field: "currency", Reason: err.Error()}
		}
	}
	date := func(field string, def time.Time) (time.Time, error) {
		s := q.Get(field)
		if s == "" {
			return def, nil
		}
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return d, &billing.ValidationError{Field: field, Reason: "must be a date like 2026-03-31"}
		}
		return d, nil
	}
	today := a.clock.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -29), today
	maxSpan, unit := 366*24*time.Hour, "366 days"
	if f.Interval == store.RevenueByMonth {
		from = time.Date(today.Year(), today.Month()-11, 1, 0, 0, 0, 0, time.UTC)
		maxSpan, unit = 10*366*24*time.Hour, "10 years"
	}
	var err error
	if f.From, err = date("from", from); err != nil {
		return f, err
	}
	if to, err = date("to", to); err != nil {
		return f, err
	}
	f.To = to.AddDate(0, 0, 1)
	if f.Interval == store.RevenueByMonth { // whole months
		f.From = time.Date(f.From.Year(), f.From.Month(), 1, 0, 0, 0, 0, time.UTC)
		f.To = time.Date(to.Year(), to.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case !f.To.After(f.From):
		return f, &billing.ValidationError{Field: "to", Reason: "must not be before from"}
	case f.To.Sub(f.From) > maxSpan:
		return f, &billing.ValidationError{Field: "to", Reason: "must be at most " + unit + " after from"}
	}
	return f, nil
}

// revenueRowJSON is what was collected, failed and refunded in one day or month and currency.
type revenueRowJSON struct {
	Period    string    `json:"period"` // 2026-03-31, or 2026-03 by month
	Currency  string    `json:"currency"`
	Collected totalJSON `json:"collected"`
	Failed    totalJSON `json:"failed"`
	Refunded  totalJSON `json:"refunded"`
}

// periodLabel names a revenue period: its date, or its month.
func periodLabel(start time.Time, interval string) string {
	if interval == store.RevenueByMonth {
		return start.Format("2006-01")
	}
	return start.Format(time.DateOnly)
}

func revenueCSV(interval string) []column[store.RevenueRow] {
	cols := []column[store.RevenueRow]{
		{"period", func(r store.RevenueRow) string { return periodLabel(r.PeriodStart, interval) }},
		{"currency", func(r store.RevenueRow) string { return r.Currency }},
	}
	for _, o := range []struct {
		name string
		get  func(store.RevenueRow) store.Total
	}{
		{"collected", func(r store.RevenueRow) store.Total { return r.Collected }},
		{"failed", func(r store.RevenueRow) store.Total { return r.Failed }},
		{"refunded", func(r store.RevenueRow) store.Total { return r.Refunded }},
	} {
		cols = append(cols,
			column[store.RevenueRow]{o.name + "_count", func(r store.RevenueRow) string { return csvInt(o.get(r).Count) }},
			column[store.RevenueRow]{o.name + "_amount", func(r store.RevenueRow) string { return csvInt(o.get(r).Amount) }},
			column[store.RevenueRow]{o.name + "_decimal", func(r store.RevenueRow) string { return csvDecimal(o.get(r).Amount, r.Currency) }})
	}
	return cols
}

// revenueReport sums what was collected, failed and refunded by day or month and currency. A
// charge counts on the day it reached its status. The range is bounded, so JSON answers it whole.
func (a *API) revenueReport(w http.ResponseWriter, r *http.Request) {
	f, err := a.revenueRange(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	csvOut, err := wantsCSV(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	each := func(fn func(store.RevenueRow) error) error { return store.EachRevenue(r.Context(), a.db, f, fn) }
	if csvOut {
		name := fmt.Sprintf("revenue-by-%s-%s-%s.csv", f.Interval, f.From.Format(time.DateOnly), f.To.AddDate(0, 0, -1).Format(time.DateOnly))
		streamCSV(a, w, r, name, revenueCSV(f.Interval), each)
		return
	}
	out := list[revenueRowJSON]{Data: []revenueRowJSON{}}
	err = each(func(row store.RevenueRow) error {
		out.Data = append(out.Data, revenueRowJSON{Period: periodLabel(row.PeriodStart, f.Interval), Currency: row.Currency,
			Collected: total(row.Collected), Failed: total(row.Failed), Refunded: total(row.Refunded)})
		return nil
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// atRiskJSON is a subscription that may not be paid at its next billing, and why.
type atRiskJSON struct {
	SubscriptionID     uuid.UUID        `json:"subscription_id"`
	CustomerID         uuid.UUID        `json:"customer_id"`
	CustomerExternalID string           `json:"customer_external_id"`
	CustomerName       string           `json:"customer_name"`
	Amount             int64            `json:"amount"`
	Currency           string           `json:"currency"`
	NextBillingAt      time.Time        `json:"next_billing_at"`
	Reasons            []string         `json:"reasons"` // past_due, card_expiring
	Card               cardJSON         `json:"card"`
	ChargesOwed        int              `json:"charges_owed"` // its outstanding charges, and their sum in its currency
	AmountOwed         int64            `json:"amount_owed"`
	LastFailure        *billing.Failure `json:"last_failure"`
}

type cardJSON struct {
	Brand    string `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
}

// riskReasons names why a subscription is at risk.
func riskReasons(s store.AtRisk) []string {
	var out []string
	if s.PastDue {
		out = append(out, "past_due")
	}
	if s.CardExpiring {
		out = append(out, "card_expiring")
	}
	return out
}

func atRiskOut(s store.AtRisk) atRiskJSON {
	return atRiskJSON{SubscriptionID: s.SubscriptionID, CustomerID: s.CustomerID, CustomerExternalID: s.CustomerExternalID,
		CustomerName: s.CustomerName, Amount: s.Price.Amount, Currency: s.Price.Currency, NextBillingAt: s.NextBillingAt,
		Reasons: riskReasons(s), Card: cardJSON{Brand: s.CardBrand, Last4: s.CardLast4, ExpMonth: s.CardExpMonth, ExpYear: s.CardExpYear},
		ChargesOwed: s.Owed.Count, AmountOwed: s.Owed.Amount, LastFailure: s.LastFailure}
}

var atRiskCSV = []column[store.AtRisk]{
	{"subscription_id", func(s store.AtRisk) string { return s.SubscriptionID.String() }},
	{"customer_id", func(s store.AtRisk) string { return s.CustomerID.String() }},
	{"customer_external_id", func(s store.AtRisk) string { return csvText(s.CustomerExternalID) }},
	{"customer_name", func(s store.AtRisk) string { return csvText(s.CustomerName) }},
	{"amount", func(s store.AtRisk) string { return csvInt(s.Price.Amount) }},
	{"currency", func(s store.AtRisk) string { return s.Price.Currency }},
	{"amount_decimal", func(s store.AtRisk) string { return csvDecimal(s.Price.Amount, s.Price.Currency) }},
	{"next_billing_at", func(s store.AtRisk) string { return csvTime(s.NextBillingAt) }},
	{"past_due", func(s store.AtRisk) string { return strconv.FormatBool(s.PastDue) }},
	{"card_expiring", func(s store.AtRisk) string { return strconv.FormatBool(s.CardExpiring) }},
	{"card_brand", func(s store.AtRisk) string { return csvText(s.CardBrand) }},
	{"card_last4", func(s store.AtRisk) string { return s.CardLast4 }},
	{"card_expiry", func(s store.AtRisk) string { return fmt.Sprintf("%02d/%d", s.CardExpMonth, s.CardExpYear) }},
	{"charges_owed", func(s store.AtRisk) string { return strconv.Itoa(s.Owed.Count) }},
	{"amount_owed", func(s store.AtRisk) string { return csvInt(s.Owed.Amount) }},
	{"amount_owed_decimal", func(s store.AtRisk) string { return csvDecimal(s.Owed.Amount, s.Price.Currency) }},
	{"last_failure_code", func(s store.AtRisk) string { return csvText(failureCode(s.LastFailure)) }},
	{"last_failure_reason", func(s store.AtRisk) string { return csvText(failureReason(s.LastFailure)) }},
}

// atRiskReport lists subscriptions that may not be paid at their next billing, soonest first.
func (a *API) atRiskReport(w http.ResponseWriter, r *http.Request) {
	after, err := startingAfter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rows := func(limit int, fn func(store.AtRisk) error) error {
		return store.EachAtRisk(r.Context(), a.db, store.AtRiskFilter{StartingAfter: after, Limit: limit}, fn)
	}
	serveList(a, w, r, "subscriptions-at-risk.csv", atRiskCSV, rows, pageOf(rows, atRiskOut))
}
