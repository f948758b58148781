package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/recur-billing/recur/gateway/egwsim"
)

// egwsimCmd serves the EGW simulator on its own and prints the settings that point Recur at it.
func egwsimCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("egwsim", flag.ContinueOnError)
	addr := fs.String("addr", "localhost:8090", "address to listen on")
	delay := fs.Duration("processing-delay", 0, "how long payments stay SENT_FOR_PROCESSING")
	latency := fs.Duration("latency", 0, "delay added to every EGW call")
	replay := fs.Bool("replay-request-ids", false, "answer a repeated X-Request-Id of a POST/PATCH/DELETE as the first time")
	callback := fs.String("callback-url", "", "where to send EGW's payment callbacks, e.g. http://localhost:8080/v1/egw/callbacks (default: none)")
	var chaos egwsim.Chaos
	fs.Float64Var(&chaos.Rate, "chaos-rate", 0, "probability from 0 to 1 that an EGW call gets a random fault (error, timeout or reset, before or after its effect)")
	fs.Int64Var(&chaos.Seed, "chaos-seed", 0, "seed of the random faults, to replay them (default: a random seed, printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sim := egwsim.New(egwsim.Options{ProcessingDelay: *delay, Latency: *latency, ReplayRequestIDs: *replay, CallbackURL: *callback}, cfg.logger())
	var chaosNote string
	if chaos.Rate != 0 {
		if chaos.Seed == 0 {
			chaos.Seed = rand.Int64()
		}
		if err := sim.SetChaos(chaos); err != nil {
			return err
		}
		chaosNote = fmt.Sprintf("# random faults: --chaos-rate %v --chaos-seed %d\n", chaos.Rate, chaos.Seed)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, `export RECUR_EGW_BASE_URL=%s
export RECUR_EGW_TOKEN_URL=%s/oauth2/token
export RECUR_EGW_CLIENT_ID=%s
export RECUR_EGW_CLIENT_SECRET=%s
export RECUR_EGW_PARTICIPANT_ID=%s
export RECUR_EGW_SHOP_AGREEMENT_ID=%s
# ledger: %s/sim/ledger, injected faults: %s/sim/faults
%s`, url, url, egwsim.DefaultClientID, egwsim.DefaultClientSecret, egwsim.DefaultParticipantID,
		egwsim.DefaultShopAgreementID, url, url, chaosNote)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(sim.Close) // release the requests that faults hold
	go func() {
		<-ctx.Done()
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutCtx) //nolint:errcheck // best effort on the way out
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
