package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// seededCustomer is a subscription that seedRun bills, and how its card behaves.
type seededCustomer struct {
	name     string
	amount   int64
	currency string
	decline  string // the gateway's decline code; empty: payments succeed
	expMonth int    // card expiry; 0: 12/2099
	expYear  int
}

// seededCustomers are billed by seedRun: in EUR three paid (7499), one declined for good (2500)
// and one soft-declined, retrying (990), with one card that runs out before the following
// billing; in SEK one paid.
var seededCustomers = []seededCustomer{
	{name: "Ada Lovelace Ltd", amount: 1250, currency: "EUR"},
	{name: "Babbage Engines", amount: 4999, currency: "EUR"},
	{name: "Curie Labs", amount: 1250, currency: "EUR", expMonth: 2, expYear: 2026},
	{name: "Dirac & Sons", amount: 2500, currency: "EUR", decline: egw.CodeAuthorizationDeclined},
	{name: "Euler Oy", amount: 990, currency: "EUR", decline: egw.CodeInsufficientFunds},
	{name: "Fermi AB", amount: 15000, currency: "SEK"},
}

// seedRun subscribes seededCustomers (each with a card of its own at the simulator), lets their
// first charges settle, moves the clock a month so that one scheduler pass bills them all, and
// returns that billing run's id once all its charges have settled.
func (e *testEnv) seedRun() string {
	e.t.Helper()
	subs := make([]string, len(seededCustomers))
	for i, c := range seededCustomers {
		month, year := c.expMonth, c.expYear
		if month == 0 {
			month, year = 12, 2099
		}
		token := "tok_finance_" + strings.ToLower(strings.Fields(c.name)[0])
		e.sim.AddToken(egwsim.Token{DeclineCode: c.decline, Token: gateway.Token{ID: token, Status: gateway.TokenActive,
			Purposes: []gateway.Purpose{gateway.PurposeSubscription}, Brand: "VISA", Last4: "4242", ExpiryMonth: month, ExpiryYear: year}})
		var cus, pm, sub idJSON
		e.post("/v1/customers", map[string]any{"external_id": "acct_" + token, "email": "billing@example.com", "name": c.name}, 201, &cus)
		e.post("/v1/customers/"+cus.ID+"/payment_methods", map[string]any{"gateway_token_id": token}, 201, &pm)
		e.post("/v1/subscriptions", map[string]any{"customer_id": cus.ID, "payment_method_id": pm.ID,
			"amount": c.amount, "currency": c.currency, "interval": "month"}, 201, &sub)
		subs[i] = sub.ID
	}
	for _, id := range subs {
		e.restingCharges(id, 1)
	}
	var sub struct {
		NextBillingAt time.Time `json:"next_billing_at"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions/"+subs[0], nil, &sub))
	e.clock.Set(sub.NextBillingAt)
	for _, id := range subs {
		e.restingCharges(id, 2)
	}
	var runs struct {
		Data []struct {
			ID             string `json:"id"`
			ChargesCreated int    `json:"charges_created"`
		} `json:"data"`
	}
	require.Equal(e.t, http.StatusOK, e.do(http.MethodGet, "/v1/billing_runs?limit=1", nil, &runs))
	require.Equal(e.t, len(subs), runs.Data[0].ChargesCreated, "the newest run billed every subscription's second month")
	return runs.Data[0].ID
}

// newFinanceEnv is the env for seedRun: a soft decline is retried only after 60 days, so that the
// seeded run's declined charge is still retrying when it is looked at.
func newFinanceEnv(t *testing.T) *testEnv {
	return newTestEnvWith(t, egwsim.Options{}, withDunning([]time.Duration{60 * 24 * time.Hour}, billing.DunningUnpaid))
}

// financeKey makes a finance key on the service's database.
func (e *testEnv) financeKey() string {
	e.t.Helper()
	key, err := api.CreateAPIKeyWithRole(context.Background(), e.db, "finance", api.RoleFinance, e.clock)
	require.NoError(e.t, err)
	return key
}

// get sends a GET with the key and extra headers, and returns the status, the headers and the body.
func (e *testEnv) get(path, key string, header ...string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	require.NoError(e.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, resp.Header, body
}

// csvRecords parses a CSV body into maps from column name to cell.
func csvRecords(t *testing.T, body []byte) []map[string]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, records, "a header row at least")
	var out []map[string]string
	for _, rec := range records[1:] {
		m := map[string]string{}
		for i, name := range records[0] {
			m[name] = rec[i]
		}
		out = append(out, m)
	}
	return out
}

type totalOut struct {
	Count  int   `json:"count"`
	Amount int64 `json:"amount"`
}

type runReportOut struct {
	ID              string   `json:"id"`
	DurationSeconds *float64 `json:"duration_seconds"`
	Currencies      []struct {
		Currency    string              `json:"currency"`
		Due         totalOut            `json:"due"`
		Attempted   totalOut            `json:"attempted"`
		Succeeded   totalOut            `json:"succeeded"`
		Failed      totalOut            `json:"failed"`
		Retrying    totalOut            `json:"retrying"`
		NeedsReview totalOut            `json:"needs_review"`
		ByStatus    map[string]totalOut `json:"by_status"`
	} `json:"currencies"`
}

// runTotals reads what the database holds for a run, by currency and status.
func (e *testEnv) runTotals(runID string) map[string]map[string]totalOut {
	e.t.Helper()
	rows, err := e.db.Query(context.Background(), `
		SELECT currency, status, count(*), sum(amount) FROM charges WHERE billing_run_id = $1 GROUP BY 1, 2`, runID)
	require.NoError(e.t, err)
	defer rows.Close()
	out := map[string]map[string]totalOut{}
	for rows.Next() {
		var currency, status string
		var t totalOut
		require.NoError(e.t, rows.Scan(&currency, &status, &t.Count, &t.Amount))
		if out[currency] == nil {
			out[currency] = map[string]totalOut{}
		}
		out[currency][status] = t
	}
	require.NoError(e.t, rows.Err())
	return out
}

func TestFinanceReports(t *testing.T) {
	t.Parallel()
	e := newFinanceEnv(t)
	runID := e.seedRun()
	key := e.financeKey()
	db := e.runTotals(runID)
	require.Equal(t, totalOut{Count: 3, Amount: 7499}, db["EUR"]["succeeded"])
	require.Equal(t, totalOut{Count: 1, Amount: 2500}, db["EUR"]["failed"])
	require.Equal(t, totalOut{Count: 1, Amount: 990}, db["EUR"]["retrying"])

	t.Run("run", func(t *testing.T) {
		status, _, body := e.get("/v1/reports/billing_runs/"+runID, key)
		require.Equal(t, http.StatusOK, status, "%s", body)
		var run runReportOut
		require.NoError(t, json.Unmarshal(body, &run))
		require.NotNil(t, run.DurationSeconds)
		require.Len(t, run.Currencies, 2)
		eur, sek := run.Currencies[0], run.Currencies[1]
		require.Equal(t, "EUR", eur.Currency)
		require.Equal(t, totalOut{Count: 5, Amount: 10989}, eur.Due)
		require.Equal(t, eur.Due, eur.Attempted)
		require.Equal(t, db["EUR"]["succeeded"], eur.Succeeded)
		require.Equal(t, db["EUR"]["failed"], eur.Failed)
		require.Equal(t, db["EUR"]["retrying"], eur.Retrying)
		require.Zero(t, eur.NeedsReview)
		require.Contains(t, eur.ByStatus, "needs_review", "the outcomes finance expects are there even when zero")
		require.Equal(t, "SEK", sek.Currency)
		require.Equal(t, db["SEK"]["succeeded"], sek.Succeeded)

		status, header, body := e.get("/v1/reports/billing_runs/"+runID+"?format=csv", key)
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "text/csv; charset=utf-8", header.Get("Content-Type"))
		rows := csvRecords(t, body)
		require.Len(t, rows, 2)
		require.Equal(t, "EUR", rows[0]["currency"])
		require.Equal(t, "7499", rows[0]["succeeded_amount"])
		require.Equal(t, "74.99", rows[0]["succeeded_decimal"])
		require.Equal(t, "1", rows[0]["failed_count"])
		require.Equal(t, "1", rows[0]["retrying_count"])
		require.Equal(t, "150.00", rows[1]["due_decimal"])

		var list struct {
			Data    []runReportOut `json:"data"`
			HasMore bool           `json:"has_more"`
		}
		status, _, body = e.get("/v1/reports/billing_runs?limit=1", key)
		require.Equal(t, http.StatusOK, status)
		require.NoError(t, json.Unmarshal(body, &list))
		require.Len(t, list.Data, 1)
		require.Equal(t, runID, list.Data[0].ID, "newest first")
		require.True(t, list.HasMore, "the first months were billed in runs of their own")
		_, _, body = e.get("/v1/reports/billing_runs", key, "Accept", "text/csv")
		require.Greater(t, len(csvRecords(t, body)), 2, "the CSV has every run")
	})

	t.Run("drill-down", func(t *testing.T) {
		var failed struct {
			Data []struct {
				CustomerName string `json:"customer_name"`
				Amount       int64  `json:"amount"`
				Attempts     int    `json:"attempts"`
				Failure      struct {
					Code   string `json:"code"`
					Reason string `json:"reason"`
				} `json:"failure"`
			} `json:"data"`
		}
		status, _, body := e.get("/v1/reports/billing_runs/"+runID+"/charges?status=failed", key)
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.NoError(t, json.Unmarshal(body, &failed))
		require.Len(t, failed.Data, 1)
		codes := map[string]string{}
		for _, c := range failed.Data {
			codes[c.CustomerName] = c.Failure.Code
			require.NotEmpty(t, c.Failure.Reason)
			require.Equal(t, 1, c.Attempts)
		}
		require.Equal(t, map[string]string{"Dirac & Sons": egw.CodeAuthorizationDeclined}, codes)
		status, _, body = e.get("/v1/reports/billing_runs/"+runID+"/charges?status=retrying", key)
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.NoError(t, json.Unmarshal(body, &failed))
		require.Len(t, failed.Data, 1)
		require.Equal(t, "Euler Oy", failed.Data[0].CustomerName)
		require.Equal(t, egw.CodeInsufficientFunds, failed.Data[0].Failure.Code)

		status, header, body := e.get("/v1/reports/billing_runs/"+runID+"/charges", key, "Accept", "text/csv")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, header.Get("Content-Disposition"), `attachment; filename="billing-run-`+runID+`-charges.csv"`)
		rows := csvRecords(t, body)
		require.Len(t, rows, len(seededCustomers), "CSV has every charge; limit is for JSON pages")
		for _, r := range rows {
			if r["customer_name"] == "Babbage Engines" {
				require.Equal(t, "4999", r["amount"])
				require.Equal(t, "49.99", r["amount_decimal"])
				require.Equal(t, "succeeded", r["status"])
				require.Empty(t, r["failure_code"])
			}
		}
	})

	t.Run("revenue", func(t *testing.T) {
		var rev struct {
			Data []struct {
				Period    string   `json:"period"`
				Currency  string   `json:"currency"`
				Collected totalOut `json:"collected"`
				Failed    totalOut `json:"failed"`
				Refunded  totalOut `json:"refunded"`
			} `json:"data"`
		}
		status, _, body := e.get("/v1/reports/revenue?interval=month&from=2026-01-01&to=2026-02-28", key)
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.NoError(t, json.Unmarshal(body, &rev))
		require.Len(t, rev.Data, 4, "January and February, EUR and SEK")
		for _, r := range rev.Data {
			if r.Currency == "EUR" {
				require.Equal(t, totalOut{Count: 3, Amount: 7499}, r.Collected, r.Period)
				require.Equal(t, totalOut{Count: 1, Amount: 2500}, r.Failed, r.Period)
				require.Zero(t, r.Refunded)
			}
		}
		require.Equal(t, "2026-01", rev.Data[0].Period)

		status, _, body = e.get("/v1/reports/revenue?interval=day&from=2026-02-28&to=2026-02-28&currency=SEK&format=csv", key)
		require.Equal(t, http.StatusOK, status)
		rows := csvRecords(t, body)
		require.Len(t, rows, 1)
		require.Equal(t, map[string]string{"period": "2026-02-28", "currency": "SEK", "collected_count": "1",
			"collected_amount": "15000", "collected_decimal": "150.00", "failed_count": "0", "failed_amount": "0",
			"failed_decimal": "0.00", "refunded_count": "0", "refunded_amount": "0", "refunded_decimal": "0.00"}, rows[0])
	})

	t.Run("at risk", func(t *testing.T) {
		var risks struct {
			Data []struct {
				CustomerName string   `json:"customer_name"`
				Reasons      []string `json:"reasons"`
			} `json:"data"`
		}
		status, _, body := e.get("/v1/reports/subscriptions_at_risk", key)
		require.Equal(t, http.StatusOK, status, "%s", body)
		require.NoError(t, json.Unmarshal(body, &risks))
		got := map[string][]string{}
		for _, r := range risks.Data {
			got[r.CustomerName] = r.Reasons
		}
		require.Equal(t, map[string][]string{
			"Curie Labs":   {"card_expiring"}, // good until the end of February; billed next on March 31
			"Dirac & Sons": {"past_due"},
			"Euler Oy":     {"past_due"},
		}, got)
		_, _, body = e.get("/v1/reports/subscriptions_at_risk?format=csv", key)
		rows := csvRecords(t, body)
		require.Len(t, rows, 3)
	})

	t.Run("bad input", func(t *testing.T) {
		cases := []struct{ path, field string }{
			{"/v1/reports/billing_runs?format=xml", "format"},
			{"/v1/reports/billing_runs?limit=0", "limit"},
			{"/v1/reports/billing_runs?starting_after=run_1", "starting_after"},
			{"/v1/reports/billing_runs/not-a-uuid", "id"},
			{"/v1/reports/billing_runs/" + runID + "/charges?status=Failed!", "status"},
			{"/v1/reports/revenue?interval=week", "interval"},
			{"/v1/reports/revenue?from=2026-02-30", "from"},
			{"/v1/reports/revenue?from=2026-03-01&to=2026-02-01", "to"},
			{"/v1/reports/revenue?from=2020-01-01&to=2026-01-01", "to"},
			{"/v1/reports/revenue?currency=eur&format=csv", "currency"},
		}
		for _, c := range cases {
			status, header, body := e.get(c.path, key, "Accept", "text/csv")
			require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", c.path, body)
			require.Equal(t, "application/problem+json", header.Get("Content-Type"), c.path)
			var p problemOut
			require.NoError(t, json.Unmarshal(body, &p))
			require.Equal(t, c.field, p.Errors[0].Field, c.path)
			require.NotEmpty(t, p.Errors[0].Reason, c.path)
		}
		status, header, _ := e.get("/v1/reports/billing_runs/"+billing.NewID().String()+"/charges?format=csv", key)
		require.Equal(t, http.StatusNotFound, status)
		require.Equal(t, "application/problem+json", header.Get("Content-Type"))
	})
}
