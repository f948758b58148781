package egw

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for the optional Config fields.
const (
	DefaultVersion = "v1"
	DefaultTimeout = 15 * time.Second
)

// Config is what the client needs to reach EGW. Its String and LogValue hide ClientSecret.
type Config struct {
	// BaseURL is the API's root, e.g. https://sandbox-api.ecomm.api.tietoevry.com.
	BaseURL string
	// TokenURL is the OAuth2 token endpoint for the client-credentials flow.
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Version is the {version} path segment; EGW does not document it. Default "v1".
	Version string
	// ParticipantID and ShopAgreementID identify the merchant in every payment.
	ParticipantID   string
	ShopAgreementID string
	// Timeout bounds each call, token fetch included. Default 15s.
	Timeout time.Duration
	// Transport sends the HTTP requests, to EGW and to the token endpoint. Default: a clone of
	// http.DefaultTransport with short dial and TLS handshake timeouts. Tests wrap it.
	Transport http.RoundTripper
}

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = DefaultVersion
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Transport == nil {
		c.Transport = defaultTransport()
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	for _, f := range []struct{ name, value string }{{"BaseURL", c.BaseURL}, {"TokenURL", c.TokenURL}} {
		if u, err := url.Parse(f.value); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute http(s) URL", f.name, f.value))
		}
	}
	for _, f := range []struct{ name, value string }{
		{"ClientID", c.ClientID}, {"ClientSecret", c.ClientSecret},
		{"ParticipantID", c.ParticipantID}, {"ShopAgreementID", c.ShopAgreementID},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if strings.ContainsAny(c.Version, "/?#") {
		errs = append(errs, fmt.Errorf("Version %q is not a path segment", c.Version))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %v is negative", c.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("egw config: %w", err)
	}
	return nil
}

// String describes the configuration without the client secret.
func (c Config) String() string {
	return fmt.Sprintf("egw.Config{BaseURL: %q, TokenURL: %q, ClientID: %q, ClientSecret: %s, Version: %q, ParticipantID: %q, ShopAgreementID: %q, Timeout: %v}",
		c.BaseURL, c.TokenURL, c.ClientID, redacted(c.ClientSecret), c.Version, c.ParticipantID, c.ShopAgreementID, c.Timeout)
}

// LogValue logs the configuration without the client secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("token_url", c.TokenURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redacted(c.ClientSecret)),
		slog.String("version", c.Version),
		slog.String("participant_id", c.ParticipantID),
		slog.String("shop_agreement_id", c.ShopAgreementID),
		slog.Duration("timeout", c.Timeout),
	)
}

func redacted(secret string) string {
	if secret == "" {
		return "(empty)"
	}
	return "(redacted)"
}

func defaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
}
