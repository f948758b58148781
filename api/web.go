package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
)

// The finance pages: server-rendered html/template pages under /ui for people with a finance
// key, on the same reports as the API. Sessions are kept server-side (web_sessions): the cookie
// carries a random id whose SHA-256 is stored, so signing out or revoking the key ends the
// session at once, and no signing secret has to be configured and shared between processes.

//go:embed web
var webFiles embed.FS

const (
	sessionCookie = "recur_session"
	sessionTTL    = 8 * time.Hour // a working day; then sign in again
	webPageSize   = 50
)

// pages are the page templates, each with the layout.
var pages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"money": func(amount int64, currency string) string {
			return billing.Money{Amount: amount, Currency: currency}.String()
		},
		"when":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"day":      func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
		"short":    func(s string) string { return s[max(0, len(s)-8):] },
		"label":    statusLabel,
		"duration": durationText,
	}
	out := map[string]*template.Template{}
	names, err := fs.Glob(webFiles, "web/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		if name == "web/layout.html" {
			continue
		}
		out[strings.TrimPrefix(name, "web/")] = template.Must(template.New("").Funcs(funcs).ParseFS(webFiles, "web/layout.html", name))
	}
	return out
}()

// statusLabel names a status for people: "needs_review" is "Needs review".
func statusLabel(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
}

// durationText says how long a run took: "1.2 s", or "under way".
func durationText(seconds *float64) string {
	if seconds == nil {
		return "under way"
	}
	return (time.Duration(*seconds * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// webRoutes are the finance pages. Every page needs a session of a key with the finance role (or
// above); without one it sends the browser to the sign-in form. Forms that change something are
// POSTs that carry the session's CSRF token, and cross-origin POSTs are refused outright.
func (a *API) webRoutes(r chi.Router) {
	r.Use(pageHeaders, http.NewCrossOriginProtection().Handler)
	static, err := fs.Sub(webFiles, "web/static")
	if err != nil {
		panic(err)
	}
	r.Get("/static/*", http.StripPrefix("/ui/static/", http.FileServerFS(static)).ServeHTTP)
	r.Get("/sign-in", a.signInPage)
	r.Post("/sign-in", a.signIn)
	r.Group(func(r chi.Router) {
		r.Use(a.session, allow(RoleFinance))
		r.Post("/sign-out", a.signOut)
		r.Get("/", a.runsPage)
		r.Get("/runs/{id}", a.runPage)
		r.Get("/charges/{id}", a.chargePage)
		r.Get("/revenue", a.revenuePage)
		r.Get("/at-risk", a.atRiskPage)
		r.Route("/reports", a.reportRoutes) // the CSV download buttons
	})
}

// pageHeaders keeps the pages from being framed, sniffed or given scripts from elsewhere.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// csrfKey is the request context key of the session's CSRF token.
type csrfKey struct{}

// session lets through requests with a live session cookie, with its key and CSRF token in the
// context; others are sent to the sign-in form, which brings them back afterwards.
func (a *API) session(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			s, err := store.FindWebSession(r.Context(), a.db, hashSecret(c.Value), a.clock.Now())
			switch {
			case err == nil:
				ctx := context.WithValue(withAPIKey(r.Context(), s.Key), csrfKey{}, s.CSRFToken)
				next.ServeHTTP(w, r.WithContext(ctx))
				return
			case !errors.Is(err, billing.ErrNotFound):
				a.webFail(w, r, err)
				return
			}
		}
		http.Redirect(w, r, "/ui/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	})
}

// localPage returns where to go after signing in: next if it is one of the pages, else the first.
func localPage(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.ContainsAny(next, `\`) {
		return next
	}
	return "/ui/"
}

// pageData is what every page template gets.
type pageData struct {
	Title string
	Nav   string // the navigation entry to mark current: runs, revenue or at-risk
	CSRF  string // for the sign-out form; empty when signed out
	Data  any
}

// render writes a page. It renders into a buffer first, so that a template error is a clean 500
// rather than half a page.
func (a *API) render(w http.ResponseWriter, r *http.Request, status int, page string, p pageData) {
	p.CSRF, _ = r.Context().Value(csrfKey{}).(string)
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.log.ErrorContext(r.Context(), "render page", slog.String("page", page), slog.Any("error", err))
		http.Error(w, "the page could not be shown; the error has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// webFail shows the problem that err stands for as a page.
func (a *API) webFail(w http.ResponseWriter, r *http.Request, err error) {
	p := a.problem(r, err)
	a.render(w, r, p.Status, "error.html", pageData{Title: p.Title, Data: p})
}

func (a *API) signInPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "sign_in.html", pageData{Title: "Sign in", Data: signInData{Next: localPage(r.URL.Query().Get("next"))}})
}

type signInData struct {
	Next  string
	Error string
}

// signIn starts a session for a valid API key typed into the form. The pages only read, so any
// key's role will do; finance keys are what they are for.
func (a *API) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	secret := strings.TrimSpace(r.PostFormValue("key"))
	data := signInData{Next: localPage(r.PostFormValue("next"))}
	key, err := store.FindAPIKey(r.Context(), a.db, hashSecret(secret))
	switch {
	case errors.Is(err, billing.ErrNotFound) || !strings.HasPrefix(secret, keyPrefix):
		data.Error = "That key is not valid. Paste a whole API key, starting with " + keyPrefix + "."
		a.render(w, r, http.StatusUnauthorized, "sign_in.html", pageData{Title: "Sign in", Data: data})
		return
	case err != nil:
		a.webFail(w, r, err)
		return
	}
	id, now := rand.Text(), a.clock.Now()
	s := store.WebSession{IDHash: hashSecret(id), Key: key, CSRFToken: rand.Text(), CreatedAt: now, ExpiresAt: now.Add(sessionTTL)}
	if err := store.CreateWebSession(r.Context(), a.db, s); err != nil {
		a.webFail(w, r, err)
		return
	}
	setSessionCookie(w, r, id, int(sessionTTL.Seconds()))
	http.Redirect(w, r, data.Next, http.StatusSeeOther)
}

// setSessionCookie sets (maxAge > 0) or clears (maxAge < 0) the session cookie. It is Secure when
// the page came over TLS, directly or through a proxy that says so.
func setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: value, Path: "/ui", MaxAge: maxAge, HttpOnly: true,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", SameSite: http.SameSiteLaxMode})
}

// signOut ends the session, if the form carries its CSRF token.
func (a *API) signOut(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token, _ := r.Context().Value(csrfKey{}).(string)
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(token)) != 1 {
		a.render(w, r, http.StatusForbidden, "error.html", pageData{Title: "Forbidden", Data: Problem{Status: http.StatusForbidden,
			Title: "Forbidden", Detail: "the form is out of date; reload the page and try again"}})
		return
	}
	c, err := r.Cookie(sessionCookie)
	if err == nil {
		err = store.DeleteWebSession(r.Context(), a.db, hashSecret(c.Value))
	}
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/ui/sign-in", http.StatusSeeOther)
}

// runsData is the billing-runs page.
type runsData struct {
	Runs  []runReportJSON
	Older string // the next page's link; empty on the last
}

// runsPage lists billing runs, newest first, with their outcomes per currency.
func (a *API) runsPage(w http.ResponseWriter, r *http.Request) {
	after, err := startingAfter(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	var runs []runReportJSON
	err = a.eachRunReport(r, store.RunFilter{StartingAfter: after, Limit: webPageSize + 1}, func(rr runReportJSON) error {
		runs = append(runs, rr)
		return nil
	})
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	p := page(runs, webPageSize)
	data := runsData{Runs: p.Data}
	if p.HasMore {
		data.Older = "/ui/?starting_after=" + p.Data[len(p.Data)-1].ID.String()
	}
	a.render(w, r, http.StatusOK, "runs.html", pageData{Title: "Billing runs", Nav: "runs", Data: data})
}

// outcome is one line of a run's summary: a number of charges and their amount.
type outcome struct {
	Key, Label string
	Total      totalJSON
}

// runCurrency is a run's summary in one currency.
type runCurrency struct {
	Currency string
	Outcomes []outcome
}

// statusTab is a link that filters a run's charges by status.
type statusTab struct {
	Label, Href string
	Count       int
	Current     bool
}

// runData is the billing-run page.
type runData struct {
	Run        runReportJSON
	Currencies []runCurrency
	Tabs       []statusTab
	Status     string
	Charges    []store.ChargeRow
	More       string // the next page of charges; empty on the last
	SummaryCSV string
	ChargesCSV string
}

// runSummary lays out a run's outcomes in one currency: the headline ones first, then any other
// status its charges are in (pending, processing, canceled...).
func runSummary(c runCurrencyJSON) runCurrency {
	out := runCurrency{Currency: c.Currency, Outcomes: []outcome{{"due", "Due", c.Due}, {"attempted", "Attempted", c.Attempted}}}
	seen := map[string]bool{}
	for _, s := range runReportStatuses {
		out.Outcomes = append(out.Outcomes, outcome{string(s), statusLabel(string(s)), c.ByStatus[string(s)]})
		seen[string(s)] = true
	}
	for _, s := range slices.Sorted(maps.Keys(c.ByStatus)) {
		if !seen[s] {
			out.Outcomes = append(out.Outcomes, outcome{s, statusLabel(s), c.ByStatus[s]})
		}
	}
	return out
}

// runPage shows a billing run's outcomes per currency and its charges, by status if asked.
func (a *API) runPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		_, err = store.GetBillingRun(r.Context(), a.db, id)
	}
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	status, err := chargeStatus(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	after, err := startingAfter(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	var data runData
	if err := a.eachRunReport(r, store.RunFilter{ID: &id}, func(rr runReportJSON) error { data.Run = rr; return nil }); err != nil {
		a.webFail(w, r, err)
		return
	}
	base := "/ui/runs/" + id.String()
	counts := map[string]int{}
	for _, c := range data.Run.Currencies {
		data.Currencies = append(data.Currencies, runSummary(c))
		for s, t := range c.ByStatus {
			counts[s] += t.Count
		}
	}
	all := 0
	for _, n := range counts {
		all += n
	}
	data.Status = string(status)
	data.Tabs = append(data.Tabs, statusTab{Label: "All", Href: base, Count: all, Current: status == ""})
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		if counts[s] > 0 {
			data.Tabs = append(data.Tabs, statusTab{Label: statusLabel(s), Href: base + "?status=" + s, Count: counts[s], Current: s == string(status)})
		}
	}
	f := store.ChargeRowFilter{BillingRunID: id, Status: status, StartingAfter: after, Limit: webPageSize + 1}
	err = store.EachRunCharge(r.Context(), a.db, f, func(c store.ChargeRow) error { data.Charges = append(data.Charges, c); return nil })
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	p := page(data.Charges, webPageSize)
	data.Charges = p.Data
	filter := url.Values{}
	if status != "" {
		filter.Set("status", string(status))
	}
	if p.HasMore {
		more := url.Values{"starting_after": {p.Data[len(p.Data)-1].ID.String()}, "status": filter["status"]}
		data.More = base + "?" + more.Encode()
	}
	filter.Set("format", "csv")
	data.SummaryCSV = "/ui/reports/billing_runs/" + id.String() + "?format=csv"
	data.ChargesCSV = "/ui/reports/billing_runs/" + id.String() + "/charges?" + filter.Encode()
	a.render(w, r, http.StatusOK, "run.html", pageData{Title: "Billing run " + data.Run.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), Nav: "runs", Data: data})
}

// chargeData is the charge page.
type chargeData struct {
	Charge   billing.Charge
	Customer billing.Customer
	Attempts []billing.Attempt
	Refunds  []billing.Refund
}

// chargePage shows a charge with its lines, the timeline of its attempts and their gateway steps,
// and its refunds.
func (a *API) chargePage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	c, err := store.GetCharge(r.Context(), a.db, id)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	cus, err := store.GetCustomer(r.Context(), a.db, c.CustomerID)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	attempts, err := store.ListAttempts(r.Context(), a.db, id)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	refunds, err := store.ListRefunds(r.Context(), a.db, id)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	lines, err := store.ListLines(r.Context(), a.db, id)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	c.Lines = lines[id]
	title := "Charge of " + c.Amount.String() + " to " + cus.Name
	a.render(w, r, http.StatusOK, "charge.html", pageData{Title: title, Nav: "runs",
		Data: chargeData{Charge: c, Customer: cus, Attempts: attempts[id], Refunds: refunds[id]}})
}

// revenueData is the revenue page.
type revenueData struct {
	Interval, From, To string // the form's values
	Currency           string // the currency shown
	Currencies         []string
	Chart              revenueChart
	CSV                string
}

// revenuePage charts collected against failed amounts by day or month in one currency, with the
// figures in a table below.
func (a *API) revenuePage(w http.ResponseWriter, r *http.Request) {
	f, err := a.revenueRange(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	shown := f.Currency
	f.Currency = "" // every currency, for the choice of currency
	var rows []store.RevenueRow
	if err := store.EachRevenue(r.Context(), a.db, f, func(row store.RevenueRow) error { rows = append(rows, row); return nil }); err != nil {
		a.webFail(w, r, err)
		return
	}
	seen := map[string]int{}
	for _, row := range rows {
		seen[row.Currency]++
	}
	currencies := slices.Sorted(maps.Keys(seen))
	if shown == "" && len(currencies) > 0 {
		shown = currencies[0]
	}
	last := f.To.AddDate(0, 0, -1)
	q := url.Values{"interval": {f.Interval}, "from": {f.From.Format(time.DateOnly)}, "to": {last.Format(time.DateOnly)}, "format": {"csv"}}
	data := revenueData{Interval: f.Interval, From: f.From.Format(time.DateOnly), To: last.Format(time.DateOnly),
		Currency: shown, Currencies: currencies, Chart: newRevenueChart(rows, f, shown), CSV: "/ui/reports/revenue?" + q.Encode()}
	a.render(w, r, http.StatusOK, "revenue.html", pageData{Title: "Revenue", Nav: "revenue", Data: data})
}

// atRiskData is the page of subscriptions at risk.
type atRiskData struct {
	Subscriptions []store.AtRisk
	More          string
}

// atRiskPage lists the subscriptions that may not be paid at their next billing.
func (a *API) atRiskPage(w http.ResponseWriter, r *http.Request) {
	after, err := startingAfter(r)
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	var data atRiskData
	err = store.EachAtRisk(r.Context(), a.db, store.AtRiskFilter{StartingAfter: after, Limit: webPageSize + 1}, func(s store.AtRisk) error {
		data.Subscriptions = append(data.Subscriptions, s)
		return nil
	})
	if err != nil {
		a.webFail(w, r, err)
		return
	}
	p := page(data.Subscriptions, webPageSize)
	data.Subscriptions = p.Data
	if p.HasMore {
		data.More = "/ui/at-risk?starting_after=" + p.Data[len(p.Data)-1].SubscriptionID.String()
	}
	a.render(w, r, http.StatusOK, "at_risk.html", pageData{Title: "Subscriptions at risk", Nav: "at-risk", Data: data})
}
