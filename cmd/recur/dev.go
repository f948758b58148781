package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/recur-billing/recur/api"
	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/cmd/recur/internal/localpg"
	"github.com/recur-billing/recur/gateway/egw"
	"github.com/recur-billing/recur/gateway/egwsim"
)

// devCmd runs everything on one machine with working defaults: a local database (DATABASE_URL,
// else localhost:5432, else a throwaway cluster), migrations, the EGW simulator (unless RECUR_EGW_*
// point elsewhere), the API and the workers. It prints an API key and a curl walk-through.
func devCmd(ctx context.Context, cfg config, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", cfg.Addr, "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := cfg.logger()
	url, stopDB, err := localpg.Ensure(ctx, localpg.Options{Logger: log, Getenv: getenv})
	if err != nil {
		return err
	}
	defer stopDB(context.WithoutCancel(ctx)) //nolint:errcheck // stopping a throwaway cluster
	cfg.DatabaseURL = url
	pool, err := openMigrated(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer pool.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close() //nolint:errcheck // closed by serve unless an error comes first
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + displayHost(ln.Addr())
	}

	// With the built-in simulator, the instance runs on a test clock that the API can advance
	// (POST /v1/test_clock/advance), and the API offers per-customer test clocks (/v1/test_clocks);
	// with a real gateway, on the wall clock only (the API tells them apart by the clock: see
	// api.sandbox). The simulator sends its callbacks to this instance.
	var clock billing.Clock = billing.SystemClock{}
	egwCfg := cfg.EGW
	if egwCfg != nil {
		if err := refuseSandboxData(ctx, pool); err != nil {
			return err
		}
	} else {
		testClock := billing.NewTestClock()
		clock = testClock
		sim := egwsim.New(egwsim.Options{Clock: testClock, CallbackURL: cfg.PublicURL + "/v1/egw/callbacks"}, log)
		simURL, stopSim, err := serveSimulator(sim)
		if err != nil {
			return err
		}
		defer stopSim()
		sc := simulatorConfig(simURL)
		egwCfg = &sc
		log.Info("EGW simulator started", slog.String("url", simURL), slog.String("ledger", simURL+"/sim/ledger"))
	}
	gw, err := egw.New(*egwCfg, log)
	if err != nil {
		return err
	}
	a, err := newApp(pool, gw, clock, log, cfg.Jobs, modeAll, cfg.PublicURL)
	if err != nil {
		return err
	}
	key, err := api.CreateAPIKey(ctx, pool, "recur dev", billing.SystemClock{})
	if err != nil {
		return err
	}
	financeKey, err := api.CreateAPIKeyWithRole(ctx, pool, "recur dev finance", api.RoleFinance, billing.SystemClock{})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "export RECUR_API_KEY=%s\n\n%s", key, walkthrough(ln.Addr(), financeKey))
	if _, ok := clock.(*billing.TestClock); ok {
		io.WriteString(stdout, testClockWalkthrough) //nolint:errcheck // like the lines above
	}
	return a.serve(ctx, ln)
}

// testClockWalkthrough shows the test clock, printed when `recur dev` runs on one.
const testClockWalkthrough = `# Test clock: move this instance's time forward (never back) to see renewals, trial ends, dunning (GNU date):
curl -s -H "$H" $API/test_clock                               # {"now": ...}
curl -s -H "$H" -H "$J" $API/test_clock/advance -d '{"to":"'$(date -u -d '+1 month +1 minute' +%Y-%m-%dT%H:%M:%SZ)'"}'
sleep 2; curl -s -H "$H" $API/subscriptions/$SUB/charges     # the second period, charged
# Per-customer test clocks: customers created with a test_clock_id live at their clock's time.
CLK=$(curl -s -H "$H" -H "$J" $API/test_clocks -d '{"name":"demo","frozen_time":"2030-01-15T10:00:00Z"}' | id)
curl -s -H "$H" -H "$J" $API/test_clocks/$CLK/advance -d '{"frozen_time":"2030-02-15T10:01:00Z"}'   # "status":"advancing", then "ready"

`

// serveSimulator serves sim on a free loopback port.
func serveSimulator(sim *egwsim.Sim) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: sim.Handler()}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// simulatorConfig is the EGW client's configuration for a simulator with default options at url.
func simulatorConfig(url string) egw.Config {
	return egw.Config{BaseURL: url, TokenURL: url + "/oauth2/token",
		ClientID: egwsim.DefaultClientID, ClientSecret: egwsim.DefaultClientSecret,
		ParticipantID: egwsim.DefaultParticipantID, ShopAgreementID: egwsim.DefaultShopAgreementID}
}

// displayHost is how a person reaches addr: localhost for a loopback or unspecified address.
func displayHost(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok && (tcp.IP.IsUnspecified() || tcp.IP.IsLoopback()) {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return addr.String()
}

// walkthrough is a curl session against the API at addr, from a customer to a succeeded charge,
// and the way to the finance pages and reports with a finance key.
func walkthrough(addr net.Addr, financeKey string) string {
	return strings.NewReplacer("HOST", displayHost(addr), "FINANCE_KEY", financeKey).Replace(`# Paste the export line above into a shell, then try:
H='Authorization: Bearer '$RECUR_API_KEY; J='Content-Type: application/json'; API=http://HOST/v1
id() { sed -n 's/^{"id":"\([^"]*\)".*/\1/p'; }
CUS=$(curl -s -H "$H" -H "$J" $API/customers -d '{"external_id":"acct_'$RANDOM'","email":"ada@example.com","name":"Ada"}' | id)
PM=$(curl -s -H "$H" -H "$J" $API/customers/$CUS/payment_methods -d '{"gateway_token_id":"tok_sim_active_'$RANDOM'"}' | id)
SUB=$(curl -s -H "$H" -H "$J" $API/subscriptions -d '{"customer_id":"'$CUS'","payment_method_id":"'$PM'","amount":1250,"currency":"EUR","interval":"month","interval_count":1}' | id)
sleep 2; curl -s -H "$H" $API/subscriptions/$SUB/charges     # status "succeeded", with each gateway step
curl -s -H "$H" $API/billing_runs                             # what each scheduler pass found due and did

# Finance: open http://HOST/ui/ and sign in with this read-only finance key:
#   FINANCE_KEY
# It reads the reports too, as JSON or CSV:
F='Authorization: Bearer FINANCE_KEY'
curl -s -H "$F" $API/reports/billing_runs; curl -s -H "$F" "$API/reports/revenue?interval=month&format=csv"

`)
}
