package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	sim := egwsim.New(egwsim.Options{ProcessingDelay: *delay}, cfg.logger())
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, `export RECUR_EGW_BASE_URL=%s
export RECUR_EGW_TOKEN_URL=%s/oauth2/token
export RECUR_EGW_CLIENT_ID=%s
export RECUR_EGW_CLIENT_SECRET=%s
export RECUR_EGW_PARTICIPANT_ID=%s
export RECUR_EGW_SHOP_AGREEMENT_ID=%s
# ledger: %s/sim/ledger
`, url, url, egwsim.DefaultClientID, egwsim.DefaultClientSecret, egwsim.DefaultParticipantID,
		egwsim.DefaultShopAgreementID, url)
	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
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
