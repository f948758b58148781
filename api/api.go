// Package api is Recur's REST API: a chi router with API-key authentication, JSON in and out with
// snake_case fields, and RFC 9457 problem+json errors.
package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/recur-billing/recur/billing"
	"github.com/recur-billing/recur/billing/store"
	"github.com/recur-billing/recur/gateway"
	"github.com/recur-billing/recur/jobs"
)

// Deps are what the API works with.
type Deps struct {
	Pool    *pgxpool.Pool
	Gateway gateway.Gateway
	Jobs    *jobs.Client // to enqueue work in the same transaction as the rows that need it
	Clock   billing.Clock
	Logger  *slog.Logger
	// PublicURL is where EGW and customers' browsers reach this API (return URLs), without a
	// trailing slash. Empty: payment-method setups cannot be made (their routes are a 404).
	PublicURL string
}

// API serves Recur's REST endpoints.
type API struct {
	db    *pgxpool.Pool
	gw    gateway.Gateway
	jobs  *jobs.Client
	clock billing.Clock
	log   *slog.Logger

	publicURL string
}

// New returns the API's HTTP handler.
func New(d Deps) http.Handler {
	a := &API{db: d.Pool, gw: d.Gateway, jobs: d.Jobs, clock: d.Clock, log: d.Logger, publicURL: d.PublicURL}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, a.logRequests, a.recoverPanics)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, Problem{Status: http.StatusNotFound, Detail: "no such endpoint"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, Problem{Status: http.StatusMethodNotAllowed})
	})
	r.Get("/v1/openapi.json", serveOpenAPI)
	// EGW and the customer's browser carry no API key: these trust their input for nothing.
	r.Post("/v1/egw/callbacks", a.egwCallback)
	if a.publicURL != "" {
		r.Get("/v1/payment_method_setups/{id}/return", a.setupReturn)
	}
	r.Route("/v1", func(r chi.Router) {
		r.Use(a.authenticate)
		// Every route names the role it needs: read (finance and above) or write (write and admin).
		read, write := r.With(allow(RoleFinance)), r.With(allow(RoleWrite))
		write.Post("/customers", a.idempotent(a.createCustomer))
		read.Get("/customers", a.listCustomers)
		read.Get("/customers/{id}", getOne(a, store.GetCustomer, as(customerOut)))
		write.Post("/customers/{id}/payment_methods", a.idempotent(a.createPaymentMethod))
		read.Get("/customers/{id}/payment_methods", a.listPaymentMethods)
		write.Post("/customers/{id}/charges", a.idempotent(a.createCustomerCharge))
		write.Delete("/customers/{id}/payment_methods/{pm}", a.idempotent(a.removePaymentMethod))
		if a.publicURL != "" {
			write.Post("/customers/{id}/payment_method_setups", a.idempotent(a.createSetup))
		}
		read.Get("/payment_method_setups/{id}", getOne(a, store.GetSetup, as(setupOut)))
		write.Post("/plans", a.idempotent(a.createPlan))
		read.Get("/plans", a.listPlans)
		read.Get("/plans/{id}", getOne(a, store.GetPlan, as(planOut)))
		write.Post("/subscriptions", a.idempotent(a.createSubscription))
		read.Get("/subscriptions", a.listSubscriptions)
		read.Get("/subscriptions/{id}", getOne(a, store.GetSubscription, a.renderSubscription))
		write.Post("/subscriptions/{id}/cancel", a.idempotent(a.cancelSubscription))
		write.Post("/subscriptions/{id}/undo_cancel", a.idempotent(a.undoCancel))
		write.Post("/subscriptions/{id}/pause", a.idempotent(a.pauseSubscription))
		write.Post("/subscriptions/{id}/resume", a.idempotent(a.resumeSubscription))
		write.Post("/subscriptions/{id}/payment_method", a.idempotent(a.setSubscriptionPaymentMethod))
		write.Post("/subscriptions/{id}/change", a.idempotent(a.changePrice))
		write.Post("/subscriptions/{id}/periods/{index}/amount", a.idempotent(a.setPeriodAmount))
		read.Get("/subscriptions/{id}/charges", a.listSubscriptionCharges)
		read.Get("/charges", a.listAllCharges)
		read.Get("/charges/{id}", getOne(a, store.GetCharge, a.renderCharge))
		write.Post("/charges/{id}/void", a.idempotent(a.voidCharge))
		write.Post("/charges/{id}/retry", a.idempotent(a.retryCharge))
		write.Post("/charges/{id}/refunds", a.idempotent(a.createRefund))
		read.Get("/billing_runs", a.listBillingRuns)
		read.Get("/billing_runs/{id}", getOne(a, store.GetBillingRun, as(billingRunDetail)))
		read.Get("/billing_runs/{id}/charges", a.listBillingRunCharges)
		read.Route("/reports", a.reportRoutes)
		read.Get("/events", a.listEvents)
		read.Get("/events/{id}", getOne(a, store.GetEvent, as(same[billing.Event])))
		write.Post("/webhook_endpoints", a.idempotent(a.createWebhookEndpoint))
		read.Get("/webhook_endpoints", a.listWebhookEndpoints)
		read.Get("/webhook_endpoints/{id}", getOne(a, store.GetWebhookEndpoint, as(a.webhookEndpointOut)))
		write.Post("/webhook_endpoints/{id}", a.idempotent(a.updateWebhookEndpoint))
		write.Delete("/webhook_endpoints/{id}", a.idempotent(a.deleteWebhookEndpoint))
		write.Post("/webhook_endpoints/{id}/rotate_secret", a.idempotent(a.rotateWebhookSecret))
		read.Get("/webhook_endpoints/{id}/deliveries", a.listWebhookDeliveries)
		write.Post("/webhook_endpoints/{id}/deliveries/retry_failed", a.idempotent(a.retryFailedWebhookDeliveries))
		write.Post("/webhook_endpoints/{id}/deliveries/{delivery_id}/retry", a.idempotent(a.retryWebhookDelivery))
		if tc, ok := sandbox(d.Clock); ok {
			read.Get("/test_clock", a.getTestClock)
			write.Post("/test_clock/advance", a.idempotent(a.advanceTestClock(tc)))
			write.Post("/test_clocks", a.idempotent(a.createFrozenClock))
			read.Get("/test_clocks", a.listFrozenClocks)
			read.Get("/test_clocks/{id}", getOne(a, store.GetTestClock, as(frozenClockOut)))
			write.Post("/test_clocks/{id}/advance", a.idempotent(a.advanceFrozenClock))
			write.Delete("/test_clocks/{id}", a.idempotent(a.deleteFrozenClock))
		}
	})
	r.Route("/ui", a.webRoutes)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// list is the envelope of every list answer.
type list[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// pathID reads the {id} path parameter.
func pathID(r *http.Request) (uuid.UUID, error) { return parseID("id", chi.URLParam(r, "id")) }

// parseID reads a required id field.
func parseID(field, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.Nil, &billing.ValidationError{Field: field, Reason: "is required"}
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return id, &billing.ValidationError{Field: field, Reason: "must be a UUID"}
	}
	return id, nil
}

// limit reads the ?limit= query parameter: 1 to 100, default 20.
func limit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		return 0, &billing.ValidationError{Field: "limit", Reason: "must be an integer from 1 to 100"}
	}
	return n, nil
}

// page trims one extra row fetched to tell whether there are more.
func page[T any](rows []T, n int) list[T] {
	if len(rows) > n {
		return list[T]{Data: rows[:n], HasMore: true}
	}
	if rows == nil {
		rows = []T{}
	}
	return list[T]{Data: rows}
}

func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		a.log.InfoContext(r.Context(), "http request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", ww.Status()), slog.Duration("duration", time.Since(start)),
			slog.String("request_id", middleware.GetReqID(r.Context())))
	})
}

func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic", slog.Any("panic", v))
				writeProblem(w, Problem{Status: http.StatusInternalServerError, Detail: "an unexpected error occurred; it has been logged"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
