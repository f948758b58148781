package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egw"
)

// newBrowser starts a headless Chromium for the test, with a profile of its own and nothing that
// reaches out to the network, and returns its context; every browser action of the test must be
// done within a minute and a half.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("RECUR_CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path == "" {
			path, _ = exec.LookPath(name)
		}
	}
	if path == "" {
		t.Fatal("the browser tests need Chromium: apt-get install chromium (.ci/run does), or set RECUR_CHROMIUM")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900))
	ctx, cancel := chromedp.NewContext(alloc)
	// Start the browser on a context without a deadline: the one with the deadline is for actions.
	require.NoError(t, chromedp.Do(ctx))
	ctx, cancelActions := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelActions(); cancel(); cancelAlloc() })
	return ctx
}

// browse runs browser actions, failing the test on the first error.
func browse(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, actions...))
}

// textOf returns the visible text of the element that the CSS selector finds.
func textOf(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	require.NoError(t, err, css)
	return strings.TrimSpace(s)
}

// countOf returns how many elements the CSS selector finds.
func countOf(t *testing.T, ctx context.Context, css string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(css)+`).length`))
	require.NoError(t, err, css)
	return n
}

// TestFinancePagesInBrowser signs in to the finance pages in headless Chromium, opens a billing
// run with paid and declined charges, checks the figures shown against the database, drills down
// to the failed charges and one charge's timeline, downloads a CSV, looks at the revenue chart and
// signs out. With RECUR_UPDATE_SCREENSHOT=1 it saves the run page as docs/billing-run.png.
func TestFinancePagesInBrowser(t *testing.T) {
	t.Parallel()
	e := newFinanceEnv(t)
	runID := e.seedRun()
	key := e.financeKey()
	totals := e.runTotals(runID)
	ctx := newBrowser(t)
	runLink := `a[href="/ui/runs/` + runID + `"]`

	// Without a session the pages send the browser to the form, and back to the list after it.
	browse(t, ctx, chromedp.Navigate(e.url+"/ui/"), chromedp.WaitVisible(chromedp.ID("key")))
	browse(t, ctx, chromedp.SendKeys(chromedp.ID("key"), "rk_wrong"), chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.ID("key-error")))
	require.Contains(t, textOf(t, ctx, "#key-error"), "not valid")
	browse(t, ctx, chromedp.SendKeys(chromedp.ID("key"), key), // the form comes back empty
		chromedp.Submit(chromedp.ID("key")), chromedp.WaitVisible(chromedp.CSS(runLink)))

	// The run's figures are the database's.
	browse(t, ctx, chromedp.Click(chromedp.CSS(runLink)), chromedp.WaitVisible(chromedp.CSS("table.summary")))
	for currency, byStatus := range totals {
		var due billing.Money
		due.Currency = currency
		var dueCount int
		for status, total := range byStatus {
			cell := `td[data-cell="` + currency + ` ` + status
			require.Equal(t, strconv.Itoa(total.Count), textOf(t, ctx, cell+` count"]`), "%s %s", currency, status)
			require.Equal(t, billing.Money{Amount: total.Amount, Currency: currency}.String(), textOf(t, ctx, cell+` amount"]`))
			due.Amount += total.Amount
			dueCount += total.Count
		}
		require.Equal(t, strconv.Itoa(dueCount), textOf(t, ctx, `td[data-cell="`+currency+` due count"]`))
		require.Equal(t, due.String(), textOf(t, ctx, `td[data-cell="`+currency+` due amount"]`))
	}
	require.Equal(t, "74.99 EUR", textOf(t, ctx, `td[data-cell="EUR succeeded amount"]`))
	require.Equal(t, len(seededCustomers), countOf(t, ctx, "table.charges tbody tr"))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(shot), "\x89PNG"), "a PNG screenshot")
	if os.Getenv("RECUR_UPDATE_SCREENSHOT") != "" {
		docs := filepath.Join("..", "..", "docs")
		require.NoError(t, os.MkdirAll(docs, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(docs, "billing-run.png"), shot, 0o644))
	}

	// Drill down to the failed charges, and download them.
	browse(t, ctx, chromedp.Click(chromedp.CSS(`nav.tabs a[href*="status=failed"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav.tabs a[aria-current="page"][href*="status=failed"]`)))
	require.Equal(t, totals["EUR"]["failed"].Count, countOf(t, ctx, "table.charges tbody tr"))
	failed := textOf(t, ctx, "table.charges tbody")
	require.Contains(t, failed, egw.CodeAuthorizationDeclined)
	require.NotContains(t, failed, egw.CodeInsufficientFunds, "a soft decline is retrying, not failed")

	downloads := t.TempDir()
	_, err = chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: new(true)})
	require.NoError(t, err)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	browse(t, ctx, chromedp.Click(chromedp.ID("download-charges")))
	var file string
	for ev, err := range progress {
		require.NoError(t, err)
		require.NotEqual(t, browser.DownloadProgressStateCanceled, ev.State)
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
	}
	body, err := os.ReadFile(file)
	require.NoError(t, err)
	rows := csvRecords(t, body)
	require.Len(t, rows, totals["EUR"]["failed"].Count)
	var sum int64
	for _, r := range rows {
		require.Equal(t, "failed", r["status"])
		require.NotEmpty(t, r["failure_reason"])
		n, err := strconv.ParseInt(r["amount"], 10, 64)
		require.NoError(t, err)
		sum += n
	}
	require.Equal(t, totals["EUR"]["failed"].Amount, sum)

	// One failed charge: its attempt's steps, as the database has them.
	browse(t, ctx, chromedp.Click(chromedp.CSS("table.charges tbody tr a")), chromedp.WaitVisible(chromedp.CSS("ol.timeline")))
	location, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	chargeID := location[strings.LastIndex(location, "/")+1:]
	var steps int
	require.NoError(t, e.db.QueryRow(context.Background(), `
		SELECT count(*) FROM charge_steps s JOIN charge_attempts a ON a.id = s.attempt_id WHERE a.charge_id = $1`, chargeID).Scan(&steps))
	require.Positive(t, steps)
	require.Equal(t, steps, countOf(t, ctx, "ol.timeline li.step"))
	require.Contains(t, textOf(t, ctx, "main"), "Check token")

	// The revenue chart has a pair of bars a month, and the table the month's figures.
	browse(t, ctx, chromedp.Navigate(e.url+"/ui/revenue?interval=month&from=2026-01-01&to=2026-02-28&currency=EUR"),
		chromedp.WaitVisible(chromedp.CSS("figure.chart svg")))
	require.Equal(t, 2, countOf(t, ctx, "svg rect.collected"))
	require.Equal(t, 2, countOf(t, ctx, "svg rect.failed"))
	require.Contains(t, textOf(t, ctx, "main table"), "3 · 74.99 EUR")

	// Signing out ends the session: the pages ask for a key again.
	browse(t, ctx, chromedp.Click(chromedp.CSS(".sign-out button")), chromedp.WaitVisible(chromedp.ID("key")))
	browse(t, ctx, chromedp.Navigate(e.url+"/ui/runs/"+runID), chromedp.WaitVisible(chromedp.ID("key")))
}
