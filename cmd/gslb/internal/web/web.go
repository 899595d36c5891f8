// Package web is gslb's HTTP side: liveness (/healthz), readiness
// (/readyz), Prometheus metrics (/metrics), the status page (/), the status
// and backend API (/api/v1/status, /api/v1/backends/...), the admin write
// API (PUT and DELETE /api/v1/backends/{service}/{backend}/admin), the load
// reports agents push (/api/v1/backends/{service}/{backend}/report) and the
// explain endpoint (/api/v1/explain).
//
// It is built from a small dependency struct, Deps, and knows nothing of
// how the binary wires listeners, reloads or probes: New(deps) returns a
// Server, an http.Handler that tests drive with net/http/httptest alone.
// Every request reads the snapshot in use once, through Deps.Handler, so a
// reload between two requests is seen whole or not at all.
package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Deps is what the HTTP side needs from the running server. Handler is
// required; every other field may be left zero, which turns its part off
// as its comment says.
type Deps struct {
	// Handler answers DNS: it holds the snapshot in use, and the explain
	// endpoint runs its questions through it.
	Handler *dnsserver.Handler
	// Admin keeps the admin overrides the write API sets (nil: the write
	// API answers 403, as without Token).
	Admin *health.Admin
	// Reports keeps the load reports that agents and autoscalers push
	// (nil: every method of .../report answers 501).
	Reports *health.Reports
	// Token is the bearer token of the admin write API ("": the write API
	// is off).
	Token string
	// Registry keeps the backends agents register (nil: the registration
	// API answers 501).
	Registry *health.Registry
	// RegistrationToken tells whether token is a registration token of
	// service (lower case, without the final dot), and its name (nil:
	// none is).
	RegistrationToken func(service, token string) (string, bool)
	// Answers counts answers per backend, for each backend's share of its
	// service's answers over the last minute (nil: every share is null).
	// Until a minute has passed since New, a share is of every answer
	// counted: the counters must start at zero with the process, as the
	// binary's do.
	Answers *zones.AnswerCounts
	// Geo is the GeoIP locator the status shows (nil: no database).
	Geo *geo.Locator
	// Gatherer is served at /metrics (nil: no /metrics).
	Gatherer prometheus.Gatherer
	// Ready says why the server is not ready, "" when it is (nil: ready
	// whenever a snapshot is loaded).
	Ready func() string
	// LastReloadError is the error of the last rejected reload, "" when the
	// last reload succeeded (nil: always "").
	LastReloadError func() string
	// StatusTokens, when set, are the tokens the status page and the read
	// API require ([http] status_auth); empty: open to anyone who reaches
	// the HTTP side. /healthz, /readyz and /metrics stay open.
	StatusTokens []string
	// Reload loads the configuration again, as SIGHUP does, and returns
	// why it was rejected (nil: POST /api/v1/reload answers 501).
	Reload func(trigger string) error
	// Cluster is this instance's fleet (nil without [cluster]): the API
	// shows its members and each backend's votes.
	Cluster Fleet
	// Version is gslb's version, as the status shows it.
	Version string
	// ConfigFile names the configuration in the status ("": the snapshot's
	// own Config.File).
	ConfigFile string
	// Log receives the errors of the status page (nil: discarded).
	Log *slog.Logger
	// Audit is the audit trail that GET /api/v1/audit serves (nil: none).
	Audit *audit.Trail
}

// Server is the HTTP side. It is an http.Handler; Run keeps the answer
// shares of the status current, and must run beside it.
type Server struct {
	deps   Deps
	mux    *http.ServeMux
	recent recentAnswers
	now    func() time.Time // time.Now, except in tests
	// ticker is time.NewTicker's channel and Stop, except in tests.
	ticker func(time.Duration) (<-chan time.Time, func())
}

// newTicker is time.NewTicker as Server.ticker.
func newTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// New builds the HTTP side from its dependencies.
func New(d Deps) *Server {
	if d.Handler == nil {
		panic("web.New: Deps.Handler is nil")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{deps: d, mux: http.NewServeMux(), now: time.Now, ticker: newTicker}
	s.recent.start(s.now())
	s.routes()
	return s
}

// ServeHTTP serves one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Run samples the answer counters every second until ctx is done, so that
// the status shows each backend's share of its service's answers over the
// last minute (see recentAnswers). Without Run, a share is of the answers
// since New.
func (s *Server) Run(ctx context.Context) {
	tick, stop := s.ticker(answerEvery)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case at := <-tick:
			s.sampleAnswers(at)
		}
	}
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if s.deps.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("GET /{$}", s.reader(s.statusPage))
	s.mux.HandleFunc("GET /api/v1/status", s.reader(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.status())
	}))
	s.mux.HandleFunc("GET /api/v1/backends", s.reader(s.listBackends))
	s.mux.HandleFunc("GET /api/v1/backends/{service}/{backend}", s.reader(s.getBackend))
	s.mux.HandleFunc("PUT /api/v1/backends/{service}/{backend}", s.register)
	s.mux.HandleFunc("DELETE /api/v1/backends/{service}/{backend}", s.deregister)
	s.mux.HandleFunc("POST /api/v1/backends/{service}/{backend}/drain", s.drain)
	s.mux.HandleFunc("PUT /api/v1/backends/{service}/{backend}/admin", s.setAdmin)
	s.mux.HandleFunc("DELETE /api/v1/backends/{service}/{backend}/admin", s.setAdmin)
	for _, m := range []string{"POST", "PUT", "GET", "DELETE"} {
		s.mux.HandleFunc(m+" /api/v1/backends/{service}/{backend}/report", s.report)
	}
	s.mux.HandleFunc("GET /api/v1/explain", s.reader(s.explain))
	s.mux.HandleFunc("GET /api/v1/cluster", s.reader(s.clusterStatus))
	s.mux.HandleFunc("GET /api/v1/audit", s.reader(s.auditTrail))
	s.mux.HandleFunc("POST /api/v1/reload", s.reload)
}

// readyz answers 200 when the server is ready, else 503 with the reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	why := ""
	switch {
	case s.deps.Handler.Snapshot() == nil:
		why = "configuration not loaded"
	case s.deps.Ready != nil:
		why = s.deps.Ready()
	}
	if why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, why+"\n")
		return
	}
	io.WriteString(w, "ready\n")
}

// lastReloadError returns the last reload's error, nil when there is none.
func (s *Server) lastReloadError() *string {
	if s.deps.LastReloadError == nil {
		return nil
	}
	if e := s.deps.LastReloadError(); e != "" {
		return &e
	}
	return nil
}
