package egw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/recur-billing/recur/gateway"
)

// maxBody bounds how much of an answer is read.
const maxBody = 1 << 20

// Client is the EGW adapter. It implements gateway.Gateway and is safe for concurrent use.
type Client struct {
	cfg    Config
	prefix string // BaseURL + "/egw/{version}/"
	http   *http.Client
	tokens *tokens
	log    *slog.Logger
}

var _ gateway.Gateway = (*Client)(nil)

// New checks cfg, fills in its defaults and returns a client. It does not contact EGW: the first
// call fetches the access token.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cc := &clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL}
	tokenHTTP := &http.Client{Transport: cfg.Transport, Timeout: cfg.Timeout}
	return &Client{
		cfg:    cfg,
		prefix: strings.TrimSuffix(cfg.BaseURL, "/") + "/egw/" + url.PathEscape(cfg.Version) + "/",
		http: &http.Client{
			Transport: cfg.Transport,
			// A redirect is not part of the contract; following one could turn a POST into a GET.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		tokens: &tokens{cfg: cc, ctx: context.WithValue(context.Background(), oauth2.HTTPClient, tokenHTTP)},
		log:    logger.With(slog.String("component", "egw")),
	}, nil
}

// tokens holds the library's caching token source, and replaces it when EGW rejects its token
// before the token's announced expiry (a revoked token, or a clock that disagrees).
type tokens struct {
	cfg *clientcredentials.Config
	ctx context.Context

	mu  sync.Mutex
	src oauth2.TokenSource
}

func (t *tokens) current() oauth2.TokenSource {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == nil {
		t.src = t.cfg.TokenSource(t.ctx)
	}
	return t.src
}

// renew drops stale unless another call has already replaced it.
func (t *tokens) renew(stale oauth2.TokenSource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src == stale {
		t.src = nil
	}
}

// call is one EGW operation.
type call struct {
	op     string // names the operation in errors and logs
	method string
	path   string // below /egw/{version}/, segments already escaped
	query  url.Values
	in     any // the JSON body, nil for none
	out    any // where a 2xx answer is decoded
}

// do sends k with one request id, resending it once with a fresh access token if EGW answers
// 401, and returns nil or a *gateway.Error.
func (c *Client) do(ctx context.Context, k call) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	mutating := k.method != http.MethodGet
	reqID, err := requestID(ctx)
	if err != nil {
		return &gateway.Error{Class: gateway.Permanent, Op: k.op, Err: err}
	}
	var body []byte
	if k.in != nil {
		if body, err = json.Marshal(k.in); err != nil {
			return &gateway.Error{Class: gateway.Permanent, Op: k.op, Err: err}
		}
	}
	log := c.log.With(slog.String("op", k.op), slog.String("request_id", reqID))
	for attempt := 1; ; attempt++ {
		src := c.tokens.current()
		tok, err := src.Token()
		if err != nil {
			gerr := tokenError(k.op, err)
			log.WarnContext(ctx, "egw access token not obtained", slog.Any("error", gerr))
			return gerr
		}
		start := time.Now()
		resp, written, err := c.send(ctx, k, body, reqID, tok)
		if err != nil {
			gerr := &gateway.Error{Class: transportClass(written, mutating), Op: k.op, Err: err}
			log.WarnContext(ctx, "egw request failed", slog.Bool("written", written), slog.Any("error", gerr))
			return gerr
		}
		log.DebugContext(ctx, "egw answered", slog.String("method", k.method), slog.String("path", k.path),
			slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
		if resp.StatusCode == http.StatusUnauthorized && attempt == 1 {
			drain(resp)
			c.tokens.renew(src)
			continue
		}
		defer drain(resp)
		return answer(k, resp, mutating)
	}
}

// send makes one HTTP request and reports whether its headers were written to the connection.
func (c *Client) send(ctx context.Context, k call, body []byte, reqID string, tok *oauth2.Token) (*http.Response, bool, error) {
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { written.Store(true) }})
	u := c.prefix + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("X-Request-Id", reqID)
	req.Header.Set("Accept", "application/json")
	if k.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	tok.SetAuthHeader(req)
	resp, err := c.http.Do(req)
	return resp, written.Load(), err
}

// answer decodes a 2xx answer into k.out, or turns any other into a *gateway.Error.
func answer(k call, resp *http.Response, mutating bool) error {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e ErrorResponse
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&e) // the status alone classifies
		msg := reason(e.APIClientMessages)
		return &gateway.Error{
			Class:  statusClass(resp.StatusCode, msg.Code, mutating),
			Op:     k.op,
			Status: resp.StatusCode,
			Code:   msg.Code,
			Text:   msg.Text,
		}
	}
	err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(k.out)
	if err == nil {
		if v, ok := k.out.(interface{ complete() error }); ok {
			err = v.complete()
		}
	}
	if err != nil {
		return undecodable(k.op, resp.StatusCode, mutating, err)
	}
	return nil
}

// undecodable is the error for a 2xx answer that the client cannot read: a mutating call may
// have taken effect, a read may be repeated.
func undecodable(op string, status int, mutating bool, err error) *gateway.Error {
	class := gateway.Transient
	if mutating {
		class = gateway.UnknownOutcome
	}
	return &gateway.Error{Class: class, Op: op, Status: status, Err: fmt.Errorf("undecodable answer: %w", err)}
}

// reason picks the message that explains a failure: the first decline, else the first message.
func reason(msgs []APIClientMessage) APIClientMessage {
	for _, m := range msgs {
		if IsDeclineCode(m.Code) {
			return m
		}
	}
	if len(msgs) > 0 {
		return msgs[0]
	}
	return APIClientMessage{}
}

// statusClass classifies a non-2xx answer.
func statusClass(status int, code string, mutating bool) gateway.Class {
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return gateway.Transient
	case status >= 500 && mutating:
		return gateway.UnknownOutcome
	case status >= 500:
		return gateway.Transient
	case status == http.StatusConflict:
		return gateway.UnknownOutcome
	case (status == http.StatusBadRequest || status == http.StatusPaymentRequired ||
		status == http.StatusUnprocessableEntity) && IsDeclineCode(code):
		return gateway.Declined
	default:
		return gateway.Permanent
	}
}

// transportClass classifies a request that got no answer: one that never reached the connection
// had no effect; one that did may have, unless it only reads.
func transportClass(written, mutating bool) gateway.Class {
	if written && mutating {
		return gateway.UnknownOutcome
	}
	return gateway.Transient
}

// tokenError classifies a failure to obtain an access token: the EGW request was not sent.
// The token endpoint's status goes into the text, not into Error.Status, which is EGW's.
func tokenError(op string, err error) *gateway.Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		class := gateway.Permanent // bad credentials or a misconfigured endpoint
		if s := re.Response.StatusCode; s == http.StatusTooManyRequests || s >= 500 {
			class = gateway.Transient
		}
		return &gateway.Error{Class: class, Op: op, Code: re.ErrorCode, Text: re.ErrorDescription,
			Err: fmt.Errorf("token endpoint answered %s", re.Response.Status)}
	}
	return &gateway.Error{Class: gateway.Transient, Op: op, Err: fmt.Errorf("fetching access token: %w", err)}
}

// requestID returns the caller's request id (see gateway.WithRequestID) or a fresh UUID.
func requestID(ctx context.Context) (string, error) {
	id, ok := gateway.RequestID(ctx)
	if !ok {
		return uuid.NewString(), nil
	}
	if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
		return "", fmt.Errorf("request id %q is not a UUID", id)
	}
	return id, nil
}

// drain reads what is left of a body so that the connection can be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
}
