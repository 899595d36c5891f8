package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gslb/gslb/cluster"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// maxBody bounds request bodies of the API.
const maxBody = 4096

// listBackends serves GET /api/v1/backends: every backend of every service.
func (s *Server) listBackends(w http.ResponseWriter, r *http.Request) {
	snap := s.deps.Handler.Snapshot()
	out := []backendJSON{}
	shares := s.shares(snap)
	for _, svc := range snap.Services() {
		for _, b := range svc.Backends {
			bj := backendView(svc, b)
			bj.AnswerShare = shareOf(shares, b.ID)
			bj.Fleet = s.fleetView(b)
			out = append(out, bj)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"backends": out})
}

// getBackend serves GET /api/v1/backends/{service}/{backend}.
func (s *Server) getBackend(w http.ResponseWriter, r *http.Request) {
	svc, b := s.findBackend(r.PathValue("service"), r.PathValue("backend"))
	if b == nil {
		writeJSON(w, http.StatusNotFound, apiError{"no such backend"})
		return
	}
	bj := backendView(svc, b)
	bj.Fleet = s.fleetView(b)
	if b.Source == zones.SourceRegistered && s.deps.Registry != nil {
		if reg, ok := s.deps.Registry.Get(b.ID); ok {
			v := registrationView(reg, lifecycle(b))
			bj.Registration = &v
		}
	}
	writeJSON(w, http.StatusOK, bj)
}

// Fleet is what the HTTP side reads of the instance's fleet
// (*cluster.Cluster).
type Fleet interface {
	Status() cluster.Status
	VotesOf(health.Spec) []cluster.MemberVote
}

// fleetJSON is a backend's check as the fleet sees it.
type fleetJSON struct {
	// Quorum is the check's rule ("" for the [cluster] default).
	Quorum string `json:"quorum"`
	// Verdict is the aggregate at this instance's last probe (null before
	// it, or with quorum "local").
	Verdict *health.Verdict `json:"verdict"`
	// Votes are every member's latest vote, this instance's first.
	Votes []cluster.MemberVote `json:"votes"`
}

// fleetView is nil without a fleet or a probe.
func (s *Server) fleetView(b *zones.Backend) *fleetJSON {
	st := b.State()
	if s.deps.Cluster == nil || st == nil || st.Spec().Kind == health.KindNone || st.Spec().Kind == "" {
		return nil
	}
	f := &fleetJSON{Quorum: st.Spec().Quorum, Votes: s.deps.Cluster.VotesOf(st.Spec())}
	if v, ok := st.Verdict(); ok {
		f.Verdict = &v
	}
	if f.Votes == nil {
		f.Votes = []cluster.MemberVote{}
	}
	return f
}

// clusterStatus serves GET /api/v1/cluster: the fleet as this instance
// sees it (404 without [cluster]).
func (s *Server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	if s.deps.Cluster == nil {
		writeJSON(w, http.StatusNotFound, apiError{"this instance is not in a cluster (no [cluster] section)"})
		return
	}
	writeJSON(w, http.StatusOK, s.deps.Cluster.Status())
}

// setAdmin serves PUT (set) and DELETE (clear) of a backend's admin
// override, for a request with the bearer token.
func (s *Server) setAdmin(w http.ResponseWriter, r *http.Request) {
	if s.deps.Admin == nil {
		writeJSON(w, http.StatusForbidden, apiError{writeAPIOff})
		return
	}
	if !s.authorized(w, r) {
		return
	}
	svc, b := s.findBackend(r.PathValue("service"), r.PathValue("backend"))
	if b == nil {
		writeJSON(w, http.StatusNotFound, apiError{"no such backend"})
		return
	}
	source := "admin token from " + r.RemoteAddr
	if r.Method == http.MethodDelete {
		if err := s.deps.Admin.Set(b.ID, nil, source); err != nil {
			writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
			return
		}
		bj := backendView(svc, b)
		bj.Fleet = s.fleetView(b)
		writeJSON(w, http.StatusOK, bj)
		return
	}
	o, err := ParseOverride(http.MaxBytesReader(w, r.Body, maxBody), s.now())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	if err := s.deps.Admin.Set(b.ID, o, source); err != nil {
		code := http.StatusBadRequest
		if se := (*health.SaveError)(nil); errors.As(err, &se) {
			code = http.StatusInternalServerError // the state directory, not the request
		}
		writeJSON(w, code, apiError{err.Error()})
		return
	}
	bj := backendView(svc, b)
	bj.Fleet = s.fleetView(b)
	writeJSON(w, http.StatusOK, bj)
}

// constantEqual compares two secrets in constant time.
func constantEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// writeAPIOff is the error of a write without a token configured.
const writeAPIOff = "the admin write API is off: set [admin] token_file in the configuration"

// authorized tells whether r carries the admin bearer token. If not, it
// has answered: 403 when no token is configured, 401 when the request's
// is missing or wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.Token == "" {
		writeJSON(w, http.StatusForbidden, apiError{writeAPIOff})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !constantEqual(got, s.deps.Token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gslb"`)
		writeJSON(w, http.StatusUnauthorized, apiError{"missing or wrong bearer token"})
		return false
	}
	return true
}

// overrideRequest is the body of PUT .../admin.
type overrideRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
	// Expires is an RFC 3339 time; For a duration from now ("30m").
	Expires time.Time `json:"expires"`
	For     string    `json:"for"`
}

// ParseOverride reads the body of PUT .../admin: an override with a state
// (up, down or drain), an optional reason, and an expiry given as an RFC
// 3339 time ("expires") or a duration from now ("for").
func ParseOverride(r io.Reader, now time.Time) (*health.Override, error) {
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

// findBackend finds a backend by service name (any case, with or without
// the final dot) and backend name.
func (s *Server) findBackend(service, backend string) (*zones.Service, *zones.Backend) {
	service = strings.TrimSuffix(strings.ToLower(service), ".")
	for _, svc := range s.deps.Handler.Snapshot().Services() {
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

// apiError is the body of an API error.
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
	Pending              bool          `json:"pending"`
	Steering             *steeringJSON `json:"steering"`
	Admin                *adminJSON    `json:"admin"`
	Fleet                *fleetJSON    `json:"fleet,omitempty"`
	// Source is "config" (a zone file) or "registered" (the registration
	// API); Registration, for a registered backend, its registration and
	// lease.
	Source       string            `json:"source"`
	Registration *registrationJSON `json:"registration,omitempty"`
	History      []historyJSON     `json:"history"`
}

// steeringJSON shows what shaped a backend's effective weight at the last
// step of its service's control law and slow start (docs/steering.md).
// A signal is null when missing or stale: the law treats it as neutral.
type steeringJSON struct {
	Law             string    `json:"law"`
	Load            *float64  `json:"load"`
	LatencySeconds  *float64  `json:"latency_seconds"`
	ErrorRate       float64   `json:"error_rate"`
	SmoothedLoad    *float64  `json:"smoothed_load"`
	SmoothedLatency *float64  `json:"smoothed_latency_seconds"`
	RequestRate     *float64  `json:"request_rate"`
	ServedShare     *float64  `json:"served_share"`
	Share           float64   `json:"share"`
	Target          float64   `json:"target"`
	Ramp            float64   `json:"ramp"`
	RampLeftSeconds float64   `json:"ramp_left_seconds"`
	Multiplier      float64   `json:"multiplier"`
	At              time.Time `json:"at"`
	// Coordinator is the fleet member whose weights this instance
	// answers with, CoordinatorTick its tick; "" and null when this
	// instance computed them.
	Coordinator     string     `json:"coordinator"`
	CoordinatorTick *time.Time `json:"coordinator_tick"`
}

// steeringView is the backend's steering factors, nil without any.
func steeringView(b *zones.Backend) *steeringJSON {
	f, ok := b.Factors()
	if !ok {
		return nil
	}
	opt := func(v float64, has bool) *float64 {
		if !has {
			return nil
		}
		return &v
	}
	out := &steeringJSON{
		Law:             f.Law,
		Load:            opt(f.Signals.Load, f.Signals.HasLoad),
		LatencySeconds:  opt(f.Signals.Latency.Seconds(), f.Signals.HasLatency),
		ErrorRate:       f.Signals.ErrorRate,
		SmoothedLoad:    opt(f.Smoothed.Load, f.Smoothed.HasLoad),
		SmoothedLatency: opt(f.Smoothed.Latency, f.Smoothed.HasLatency),
		RequestRate:     opt(f.Signals.Rate, f.Signals.HasRate),
		ServedShare:     opt(f.Smoothed.Served, f.Smoothed.Served > 0),
		Ramp:            f.Ramp,
		RampLeftSeconds: f.RampLeft.Seconds(),
		Multiplier:      f.Multiplier,
		At:              f.At.UTC(),
		Coordinator:     f.Fleet,
		CoordinatorTick: timePtr(f.FleetAt),
	}
	if f.Law != "" {
		out.Share, out.Target = f.Smoothed.Share, f.Smoothed.Target
	}
	return out
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

// historyJSON is one probe result of a backend's recent history.
type historyJSON struct {
	At              time.Time `json:"at"`
	OK              bool      `json:"ok"`
	DurationSeconds float64   `json:"duration_seconds"`
	Reason          string    `json:"reason"`
}

// timePtr is t in UTC, nil for the zero time.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// backendView is a backend as the API shows it, without its answer share.
func backendView(svc *zones.Service, b *zones.Backend) backendJSON {
	out := backendJSON{
		ID:      b.ID,
		Service: strings.TrimSuffix(svc.Name, "."),
		Name:    b.Name,
		Address: b.Addr.String(),
		Check:   b.Check.String(),
		Serving: b.Serving(),
		Healthy: true,
		Weight:  b.Weight,
		Source:  b.Source,
		History: []historyJSON{},

		EffectiveWeight: b.EffectiveWeight(),
		Pending:         b.Pending(),
		Steering:        steeringView(b),
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

// writeJSON writes v as indented JSON with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
