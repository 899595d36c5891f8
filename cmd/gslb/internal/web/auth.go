package web

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// reader guards a read endpoint (the status page, /api/v1/status,
// backends, explain) when Deps.StatusTokens is set: the request must carry
// one of them, as a bearer token (gslb ctl, curl -H) or as the password of
// HTTP basic authentication (a browser asks for it; any user name).
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	if len(s.deps.StatusTokens) == 0 {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.readAllowed(r) {
			h(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="gslb status", charset="UTF-8"`)
		writeJSON(w, http.StatusUnauthorized, apiError{"the status needs a token ([http] status_auth): send it as a bearer token, or as the password of basic authentication"})
	}
}

// readAllowed tells whether r carries a status token.
func (s *Server) readAllowed(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		_, got, ok = r.BasicAuth()
	}
	if !ok || got == "" {
		return false
	}
	allowed := false
	for _, t := range s.deps.StatusTokens {
		// Every token compared, in constant time each.
		if subtle.ConstantTimeCompare([]byte(got), []byte(t)) == 1 {
			allowed = true
		}
	}
	return allowed
}
