package main

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxBody bounds request bodies of the API.
const maxBody = 4096

// readToken reads the admin API's bearer token. A token file that others
// may read is refused: anyone on the machine could drain the service.
func readToken(file string) (string, error) {
	if file == "" {
		return "", nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin token file %s is readable by others (mode %v); chmod 600 it", file, fi.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("admin token file %s: the token is shorter than 16 characters", file)
	}
	return tok, nil
}

// httpHandler serves the HTTP side: health, readiness, metrics and the
// backend API.
func (a *app) httpHandler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := a.notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, why+"\n")
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.status())
	})
	mux.HandleFunc("GET /{$}", a.statusPage)
	mux.HandleFunc("GET /api/v1/backends", func(w http.ResponseWriter, r *http.Request) {
		out := []backendJSON{}
		shares := a.shares()
		for _, svc := range a.h.Snapshot().Services() {
			for _, b := range svc.Backends {
				bj := a.backendJSON(svc, b)
				bj.AnswerShare = shareOf(shares, b.ID)
				out = append(out, bj)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"backends": out})
	})
	mux.HandleFunc("GET /api/v1/backends/{service}/{backend}", func(w http.ResponseWriter, r *http.Request) {
		svc, b := a.findBackend(r.PathValue("service"), r.PathValue("backend"))
		if b == nil {
			writeJSON(w, http.StatusNotFound, apiError{"no such backend"})
			return
		}
		writeJSON(w, http.StatusOK, a.backendJSON(svc, b))
	})
	admin := func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			writeJSON(w, http.StatusForbidden, apiError{"the admin write API is off: set [admin] token_file in the configuration"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gslb"`)
			writeJSON(w, http.StatusUnauthorized, apiError{"missing or wrong bearer token"})
			return
		}
		svc, b := a.findBackend(r.PathValue("service"), r.PathValue("backend"))
		if b == nil {
			writeJSON(w, http.StatusNotFound, apiError{"no such backend"})
			return
		}
		source := "api " + r.RemoteAddr
		if r.Method == http.MethodDelete {
			if err := a.admin.Set(b.ID, nil, source); err != nil {
				writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, a.backendJSON(svc, b))
			return
		}
		o, err := parseOverride(http.MaxBytesReader(w, r.Body, maxBody), time.Now())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			return
		}
		if err := a.admin.Set(b.ID, o, source); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, a.backendJSON(svc, b))
	}
	mux.HandleFunc("GET /api/v1/explain", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		client := q.Get("client")
		if client == "" {
			client, _, _ = strings.Cut(r.RemoteAddr, ":")
			if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
				client = ap.Addr().String()
			}
		}
		req, err := parseExplain(q.Get("name"), q.Get("type"), client, q.Get("ecs"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := explain(w, a.h, req); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("PUT /api/v1/backends/{service}/{backend}/admin", admin)
	mux.HandleFunc("DELETE /api/v1/backends/{service}/{backend}/admin", admin)
	return mux
}

// notReady says why the server is not ready, "" when it is: ready means a
// configuration is loaded and every probe has reported once.
func (a *app) notReady() string {
	snap := a.h.Snapshot()
	if snap == nil {
		return "configuration not loaded"
	}
	if !a.listening.Load() {
		return "DNS listeners not bound yet"
	}
	if snap.Config.HasGeo() && a.geo == nil {
		return "GeoIP database not open"
	}
	waiting := 0
	for _, svc := range snap.Services() {
		for _, b := range svc.Backends {
			if st := b.State(); st != nil && !st.Probed() {
				waiting++
			}
		}
	}
	if waiting > 0 {
		return fmt.Sprintf("waiting for the first health check of %d backend(s)", waiting)
	}
	return ""
}

// overrideRequest is the body of PUT .../admin.
type overrideRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
	// Expires is an RFC 3339 time; For a duration from now ("30m").
	Expires time.Time `json:"expires"`
	For     string    `json:"for"`
}

// parseOverride reads an override from a request body.
func parseOverride(r io.Reader, now time.Time) (*health.Override, error) {
	var req overrideRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("bad request body: %v", err)
	}
	o := &health.Override{State: req.State, Reason: req.Reason, Expires: req.Expires}
	if req.For != "" {
		d, err := time.ParseDuration(req.For)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("bad \"for\" %q: want a duration such as \"30m\"", req.For)
		}
		if !req.Expires.IsZero() {
			return nil, fmt.Errorf("give \"for\" or \"expires\", not both")
		}
		o.Expires = now.Add(d).UTC().Truncate(time.Second)
	}
	if !o.Expires.IsZero() && !o.Expires.After(now) {
		return nil, fmt.Errorf("expires %v is in the past", o.Expires)
	}
	switch o.State {
	case health.AdminUp, health.AdminDown, health.AdminDrain:
	default:
		return nil, fmt.Errorf("bad state %q: want up, down or drain", o.State)
	}
	return o, nil
}

func (a *app) findBackend(service, backend string) (*zones.Service, *zones.Backend) {
	service = strings.TrimSuffix(strings.ToLower(service), ".")
	for _, svc := range a.h.Snapshot().Services() {
		if strings.ToLower(strings.TrimSuffix(svc.Name, ".")) != service {
			continue
		}
		for _, b := range svc.Backends {
			if b.Name == backend {
				return svc, b
			}
		}
	}
	return nil, nil
}

type apiError struct {
	Error string `json:"error"`
}

// backendJSON is a backend as the API shows it.
type backendJSON struct {
	ID                   string        `json:"id"`
	Service              string        `json:"service"`
	Name                 string        `json:"name"`
	Address              string        `json:"address"`
	Check                string        `json:"check"`
	Serving              bool          `json:"serving"`
	Healthy              bool          `json:"healthy"`
	Probed               bool          `json:"probed"`
	Since                *time.Time    `json:"since"`
	ConsecutiveSuccesses int           `json:"consecutive_successes"`
	ConsecutiveFailures  int           `json:"consecutive_failures"`
	LastProbe            *time.Time    `json:"last_probe"`
	LastError            string        `json:"last_error"`
	Weight               float64       `json:"weight"`
	EffectiveWeight      float64       `json:"effective_weight"`
	AnswerShare          *float64      `json:"answer_share"`
	RTTSeconds           float64       `json:"rtt_seconds"`
	ErrorRate            float64       `json:"error_rate"`
	Load                 *float64      `json:"load"`
	Admin                *adminJSON    `json:"admin"`
	History              []historyJSON `json:"history"`
}

// adminJSON is an admin override as the API shows it: every field always
// present, expires null when the override does not expire.
type adminJSON struct {
	State   string     `json:"state"`
	Reason  string     `json:"reason"`
	Expires *time.Time `json:"expires"`
	Source  string     `json:"source"`
	Set     time.Time  `json:"set"`
}

type historyJSON struct {
	At              time.Time `json:"at"`
	OK              bool      `json:"ok"`
	DurationSeconds float64   `json:"duration_seconds"`
	Reason          string    `json:"reason"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (a *app) backendJSON(svc *zones.Service, b *zones.Backend) backendJSON {
	out := backendJSON{
		ID:      b.ID,
		Service: strings.TrimSuffix(svc.Name, "."),
		Name:    b.Name,
		Address: b.Addr.String(),
		Check:   b.Check.String(),
		Serving: b.Serving(),
		Healthy: true,
		Weight:  b.Weight,
		History: []historyJSON{},

		EffectiveWeight: b.EffectiveWeight(),
	}
	if o := b.Override(); o != nil {
		out.Admin = &adminJSON{State: o.State, Reason: o.Reason, Expires: timePtr(o.Expires), Source: o.Source, Set: o.Set.UTC()}
	}
	if st := b.State(); st != nil {
		out.Healthy = st.Up()
		out.Probed = st.Probed()
		out.Since = timePtr(st.Since())
		out.ConsecutiveSuccesses, out.ConsecutiveFailures = st.Consecutive()
		out.LastProbe = timePtr(st.LastProbe())
		out.LastError = st.LastError()
		out.RTTSeconds = st.RTT().Seconds()
		out.ErrorRate = st.ErrorRate()
		if l, ok := st.Load(); ok {
			out.Load = &l
		}
		for _, h := range st.History() {
			out.History = append(out.History, historyJSON{At: h.At.UTC(), OK: h.OK, DurationSeconds: h.Duration.Seconds(), Reason: h.Reason})
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
