package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/jobs"
)

// config is everything the environment configures. It is read and validated once at start.
type config struct {
	DatabaseURL string
	DBMaxConns  int32
	Addr        string
	Mode        mode
	LogLevel    slog.Level
	LogFormat   string
	// Clock is the system clock, moved by RECUR_TEST_CLOCK_OFFSET in tests.
	Clock billing.Clock
	// EGW is nil when RECUR_EGW_BASE_URL is not set: `recur dev` then runs its own simulator.
	EGW  *egw.Config
	Jobs jobs.Config
	// PublicURL is where EGW and customers' browsers reach the API, without a trailing slash;
	// empty turns payment-method setups off (recur dev fills it in).
	PublicURL string
}

// envVars documents every variable the binary reads; `recur help` prints it and the README
// repeats it.
var envVars = []struct{ name, def, doc string }{
	{"DATABASE_URL", "", "PostgreSQL URL. recur dev finds or starts a local database when unset."},
	{"RECUR_ADDR", ":8080", "Address the API listens on (--addr overrides)."},
	{"RECUR_MODE", "all", "What recur serve runs: all, api (the API, enqueueing only) or worker (the jobs, with /healthz, /readyz, /metrics) (--mode overrides)."},
	{"RECUR_DB_MAX_CONNS", "20", "Database connections per process."},
	{"RECUR_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"RECUR_LOG_FORMAT", "text", "text or json."},
	{"RECUR_BILLING_INTERVAL", "5s", "How often the scheduler looks for due subscriptions."},
	{"RECUR_POLL_INTERVAL", "2s", "How long to wait before re-reading a payment still processing at the gateway."},
	{"RECUR_MAX_WORKERS", "50", "Jobs worked at once per process."},
	{"RECUR_CHARGE_LEASE", "1m", "How long a worker holds a charge between gateway calls; a crashed worker's charge is taken over after it."},
	{"RECUR_RECONCILE_INTERVAL", "30s", "How often the janitor looks for charges to reconcile; it backs off per charge from there up to 1h."},
	{"RECUR_REVIEW_AFTER", "24h", "How long a charge's outcome may stay unknown at the gateway before it goes to needs_review."},
	{"RECUR_JOB_TIMEOUT", "5m", "Longest run of one job."},
	{"RECUR_RESCUE_AFTER", "65m", "When a job still running is taken back from its process (which died); more than RECUR_JOB_TIMEOUT."},
	{"RECUR_DUNNING_SCHEDULE", "1d,3d,5d,7d", "Retries of a soft-declined subscription charge, as offsets from its first decline (d for days, or Go durations such as 12h), increasing."},
	{"RECUR_DUNNING_END", "cancel", "What happens to a subscription whose charge is still declined after the last retry: cancel, or unpaid (not billed until paid)."},
	{"RECUR_TOKEN_CHECK_AHEAD", "7d", "The token check re-reads the tokens of subscriptions due within this (d for days, or a Go duration)."},
	{"RECUR_TOKEN_CHECK_INTERVAL", "1h", "How often the token check runs."},
	{"RECUR_WEBHOOK_TIMEOUT", "10s", "How long a webhook endpoint has to answer each delivery attempt; less than RECUR_JOB_TIMEOUT."},
	{"RECUR_WEBHOOK_DISPATCH_INTERVAL", "2s", "How often new events are dispatched to the webhook endpoints."},
	{"RECUR_TEST_CLOCK_OFFSET", "0s", "Tests only: run at the wall-clock time plus this offset (a simulated future billing period)."},
	{"RECUR_TEST_CRASH_AT", "", "Tests only: kill the process with SIGKILL at a fault point such as before:capture or after:start_session."},
	{"RECUR_EGW_BASE_URL", "", "EGW API root, e.g. https://sandbox-api.ecomm.api.tietoevry.com. Unset: recur dev runs the built-in simulator."},
	{"RECUR_EGW_TOKEN_URL", "", "EGW OAuth2 token endpoint (client credentials)."},
	{"RECUR_EGW_CLIENT_ID", "", "EGW OAuth2 client id."},
	{"RECUR_EGW_CLIENT_SECRET", "", "EGW OAuth2 client secret (never logged)."},
	{"RECUR_EGW_VERSION", "v1", "The {version} path segment of EGW's API."},
	{"RECUR_EGW_PARTICIPANT_ID", "", "EGW participantId of the merchant."},
	{"RECUR_EGW_SHOP_AGREEMENT_ID", "", "EGW shopAgreementId of the shop."},
	{"RECUR_EGW_TIMEOUT", "15s", "Timeout of each EGW call."},
	{"RECUR_PUBLIC_URL", "", "Public base URL of the API, e.g. https://billing.example.com: the hosted checkout sends customers back to it, and EGW's callback URL is <it>/v1/egw/callbacks. Unset: no payment-method setups (recur dev: http://localhost:<port>)."},
}

// loadConfig reads the environment. Every bad value is reported, each with its variable's name.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, e := range envVars {
			if e.name == name {
				return e.def
			}
		}
		return ""
	}
	var errs []error
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 5s or 1m", name, get(name)))
		}
		return d
	}
	positive := func(name string) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n <= 0 || n > 10000 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number from 1 to 10000", name, get(name)))
		}
		return n
	}
	c := config{
		DatabaseURL: get("DATABASE_URL"),
		DBMaxConns:  int32(positive("RECUR_DB_MAX_CONNS")),
		Addr:        get("RECUR_ADDR"),
		Mode:        mode(get("RECUR_MODE")),
		LogFormat:   get("RECUR_LOG_FORMAT"),
		Jobs: jobs.Config{
			BillingInterval:    duration("RECUR_BILLING_INTERVAL"),
			PollInterval:       duration("RECUR_POLL_INTERVAL"),
			MaxWorkers:         positive("RECUR_MAX_WORKERS"),
			Lease:              duration("RECUR_CHARGE_LEASE"),
			ReviewAfter:        duration("RECUR_REVIEW_AFTER"),
			ReconcileInterval:  duration("RECUR_RECONCILE_INTERVAL"),
			JobTimeout:         duration("RECUR_JOB_TIMEOUT"),
			RescueStuckAfter:   duration("RECUR_RESCUE_AFTER"),
			FaultPoint:         crashAt(get("RECUR_TEST_CRASH_AT")),
			Dunning:            billing.Dunning{End: billing.DunningEnd(get("RECUR_DUNNING_END"))},
			TokenCheckInterval: duration("RECUR_TOKEN_CHECK_INTERVAL"),
		},
	}
	c.Jobs.WebhookTimeout, c.Jobs.WebhookDispatchInterval = duration("RECUR_WEBHOOK_TIMEOUT"), duration("RECUR_WEBHOOK_DISPATCH_INTERVAL")
	if c.Jobs.WebhookTimeout >= c.Jobs.JobTimeout {
		errs = append(errs, fmt.Errorf("RECUR_WEBHOOK_TIMEOUT=%s: want less than RECUR_JOB_TIMEOUT=%s", c.Jobs.WebhookTimeout, c.Jobs.JobTimeout))
	}
	var err error
	if c.Jobs.Dunning.Schedule, err = parseDays(get("RECUR_DUNNING_SCHEDULE")); err == nil {
		err = c.Jobs.Dunning.Validate()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("RECUR_DUNNING_SCHEDULE=%q, RECUR_DUNNING_END=%q: %w", get("RECUR_DUNNING_SCHEDULE"), get("RECUR_DUNNING_END"), err))
	}
	if ahead, err := parseDays(get("RECUR_TOKEN_CHECK_AHEAD")); err != nil || len(ahead) != 1 || ahead[0] <= 0 {
		errs = append(errs, fmt.Errorf("RECUR_TOKEN_CHECK_AHEAD=%q: want one positive duration such as 7d or 36h", get("RECUR_TOKEN_CHECK_AHEAD")))
	} else {
		c.Jobs.TokenCheckAhead = ahead[0]
	}
	c.Clock = billing.SystemClock{}
	if offset, err := time.ParseDuration(get("RECUR_TEST_CLOCK_OFFSET")); err != nil {
		errs = append(errs, fmt.Errorf("RECUR_TEST_CLOCK_OFFSET=%q: want a duration such as 720h", get("RECUR_TEST_CLOCK_OFFSET")))
	} else if offset != 0 {
		c.Clock = billing.OffsetClock{Offset: offset}
	}
	// A run renews its charge's lease at each step, so a lease shorter than one gateway call would
	// let another run take the charge over while the call is still under way.
	if egwTimeout := duration("RECUR_EGW_TIMEOUT"); c.Jobs.Lease <= egwTimeout {
		errs = append(errs, fmt.Errorf("RECUR_CHARGE_LEASE=%s: want more than RECUR_EGW_TIMEOUT=%s", c.Jobs.Lease, egwTimeout))
	}
	if c.Jobs.RescueStuckAfter <= c.Jobs.JobTimeout {
		errs = append(errs, fmt.Errorf("RECUR_RESCUE_AFTER=%s: want more than RECUR_JOB_TIMEOUT=%s", c.Jobs.RescueStuckAfter, c.Jobs.JobTimeout))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("RECUR_LOG_LEVEL"))); err != nil {
		errs = append(errs, fmt.Errorf("RECUR_LOG_LEVEL=%q: want debug, info, warn or error", get("RECUR_LOG_LEVEL")))
	}
	if err := c.Mode.check(); err != nil {
		errs = append(errs, fmt.Errorf("RECUR_MODE=%q: %w", c.Mode, err))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("RECUR_LOG_FORMAT=%q: want text or json", c.LogFormat))
	}
	if get("RECUR_EGW_BASE_URL") != "" {
		c.EGW = &egw.Config{
			BaseURL: get("RECUR_EGW_BASE_URL"), TokenURL: get("RECUR_EGW_TOKEN_URL"),
			ClientID: get("RECUR_EGW_CLIENT_ID"), ClientSecret: get("RECUR_EGW_CLIENT_SECRET"),
			Version: get("RECUR_EGW_VERSION"), ParticipantID: get("RECUR_EGW_PARTICIPANT_ID"),
			ShopAgreementID: get("RECUR_EGW_SHOP_AGREEMENT_ID"), Timeout: duration("RECUR_EGW_TIMEOUT"),
		}
	}
	if c.PublicURL, err = publicURL(get("RECUR_PUBLIC_URL")); err != nil {
		errs = append(errs, fmt.Errorf("RECUR_PUBLIC_URL: %w", err)) // the value may hold credentials
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// publicURL checks a public base URL: empty, or an absolute http or https URL with no query or
// fragment. It returns it without a trailing slash.
func publicURL(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("want an absolute http or https URL without query, fragment or credentials, such as https://billing.example.com")
	}
	return strings.TrimSuffix(s, "/"), nil
}

// parseDays reads a comma-separated list of durations, each a number of days ("3d") or a Go
// duration ("12h").
func parseDays(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if days, ok := strings.CutSuffix(f, "d"); ok {
			n, err := strconv.Atoi(days)
			if err != nil || n < 0 || n > 3650 {
				return nil, fmt.Errorf("%q: want a whole number of days such as 3d", f)
			}
			out = append(out, time.Duration(n)*24*time.Hour)
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil {
			return nil, fmt.Errorf("%q: want days such as 3d or a duration such as 12h", f)
		}
		out = append(out, d)
	}
	return out, nil
}

func (c config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// crashAt returns a fault point that kills this process with SIGKILL when point is reached (no
// deferred function, no flush: as a power cut would), or nil when point is empty.
func crashAt(point string) func(string) {
	if point == "" {
		return nil
	}
	return func(reached string) {
		if reached == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL) //nolint:errcheck // there is no after
		}
	}
}
