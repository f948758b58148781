package egwsim

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// issueToken is the OAuth2 token endpoint (RFC 6749 section 4.4, client credentials).
func (s *Sim) issueToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "unreadable form"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "only client_credentials is supported"})
		return
	}
	id, secret, basic := clientCredentials(r)
	if !s.validClient(id, secret) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="egwsim"`)
		}
		writeJSON(w, http.StatusUnauthorized, oauthError{"invalid_client", "client authentication failed"})
		return
	}
	token := rand.Text()
	s.mu.Lock()
	now := s.opts.Clock.Now()
	for t, exp := range s.bearers { // forget expired tokens
		if !now.Before(exp) {
			delete(s.bearers, t)
		}
	}
	s.bearers[token] = now.Add(s.opts.TokenTTL)
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.TokenTTL.Seconds()),
	})
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// clientCredentials reads the client id and secret from HTTP basic auth (form-encoded, as RFC 6749
// section 2.3.1 says) or from the form.
func clientCredentials(r *http.Request) (id, secret string, basic bool) {
	if u, p, ok := r.BasicAuth(); ok {
		uu, err1 := url.QueryUnescape(u)
		pp, err2 := url.QueryUnescape(p)
		if err1 == nil && err2 == nil {
			return uu, pp, true
		}
		return "", "", true
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), false
}

func (s *Sim) validClient(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret))
	return idOK&secretOK == 1
}

// authorized reports whether r carries a bearer token that the simulator issued and that has not
// expired. The caller holds s.mu.
func (s *Sim) authorized(r *http.Request) bool {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	exp, ok := s.bearers[token]
	return ok && s.opts.Clock.Now().Before(exp)
}
