package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gslb/gslb/health"
)

// Limits of a load report (POST .../report).
const (
	maxReportBody    = 64 << 10 // bytes of the request body; 413 beyond
	defaultReportTTL = 30 * time.Second
	minReportTTL     = time.Second
	maxReportTTL     = time.Hour
	// maxUtilization bounds a report's utilisation, given or derived: a
	// share, 1 at full load, up to a hundred times overloaded.
	maxUtilization = 100
)

// report serves a backend's load report: POST or PUT (store, with the
// bearer token), GET (the current one, no token needed, as for every read
// of the API) and DELETE (remove, with the token).
//
// Without Deps.Reports every method answers 501: the server has no report
// store, which is a fact of the build, not of the request.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	if s.deps.Reports == nil {
		writeJSON(w, http.StatusNotImplemented, apiError{"the load report API is off: this server keeps no load reports"})
		return
	}
	svc, b := s.findBackend(r.PathValue("service"), r.PathValue("backend"))
	source := "api " + r.RemoteAddr
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// The agent of a registered backend reports with its service's
		// registration token; anyone else needs the admin token.
		if who, ok := s.registrationTokenOf(r, svc); ok {
			source = who
		} else if !s.authorized(w, r) {
			return
		}
	}
	if b == nil {
		writeJSON(w, http.StatusNotFound, apiError{"no such backend"})
		return
	}
	now := s.now()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		rep, ok := s.deps.Reports.Get(b.ID, now)
		if !ok {
			writeJSON(w, http.StatusNotFound, apiError{"no current load report: none was sent, or it has expired"})
			return
		}
		writeJSON(w, http.StatusOK, reportView(b.ID, rep))
	case http.MethodDelete:
		if s.deps.Reports.Delete(b.ID) {
			s.deps.Log.Info("load report deleted", "backend", b.ID, "source", source)
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	default:
		rep, err := ParseReport(http.MaxBytesReader(w, r.Body, maxReportBody), now)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeJSON(w, http.StatusRequestEntityTooLarge, apiError{fmt.Sprintf("request body larger than %d KiB", maxReportBody>>10)})
				return
			}
			writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
			return
		}
		rep.Source = source
		_, replaced := s.deps.Reports.Get(b.ID, now)
		if err := s.deps.Reports.Set(b.ID, rep); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, health.ErrReportsFull) {
				code = http.StatusServiceUnavailable
			}
			writeJSON(w, code, apiError{err.Error()})
			return
		}
		s.deps.Log.Info("load report", reportLog(b.ID, rep)...)
		code := http.StatusCreated
		if replaced {
			code = http.StatusOK
		}
		writeJSON(w, code, reportView(b.ID, rep))
	}
}

// reportLog is the log attributes of a stored report: the values it has.
func reportLog(id string, rep health.Report) []any {
	args := []any{"backend", id, "source", rep.Source}
	for _, v := range []struct {
		key string
		v   float64
	}{
		{"utilization", rep.Utilization},
		{"connections", rep.Connections},
		{"request_rate", rep.RequestRate},
	} {
		if !math.IsNaN(v.v) {
			args = append(args, v.key, v.v)
		}
	}
	if rep.Capacity > 0 {
		args = append(args, "capacity", rep.Capacity)
	}
	if l, ok := rep.Load(); ok {
		args = append(args, "load", l)
	}
	return append(args, "expires", rep.Expires.UTC().Format(time.RFC3339Nano))
}

// reportRequest is the body of POST .../report; a field left out (or
// null) is nil.
type reportRequest struct {
	Utilization *float64 `json:"utilization"`
	Connections *float64 `json:"connections"`
	RequestRate *float64 `json:"request_rate"`
	Capacity    *float64 `json:"capacity"`
	TTL         *string  `json:"ttl"`
}

// ParseReport reads the body of POST .../report, a JSON object such as
//
//	{"utilization": 0.62, "connections": 120, "request_rate": 35.5, "capacity": 200, "ttl": "30s"}
//
// with at least one of utilization (a share, 0 to 100, above 1 is
// overload), connections and request_rate (0 or more); capacity (above 0)
// is what connections or request_rate are at full load; ttl is a duration
// from 1s to 1h, 30s if left out. The report is received at now and
// expires at now+ttl. Its Load, given or derived, is from 0 to 100. An
// error names the field and what is wrong with it; one reading r wraps
// the reader's error (such as *http.MaxBytesError).
func ParseReport(r io.Reader, now time.Time) (health.Report, error) {
	var req reportRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return health.Report{}, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return health.Report{}, decodeError(err)
		}
		return health.Report{}, errors.New("bad request body: more after the JSON object")
	}
	rep := health.Report{Utilization: math.NaN(), Connections: math.NaN(), RequestRate: math.NaN(), At: now}
	if req.Utilization == nil && req.Connections == nil && req.RequestRate == nil {
		return health.Report{}, errors.New(`no load in the report: give "utilization", "connections" or "request_rate"`)
	}
	if v := req.Utilization; v != nil {
		if !(*v >= 0 && *v <= maxUtilization) {
			return health.Report{}, fmt.Errorf(`bad "utilization" %v: want a share from 0 to %d (1 is full load)`, *v, maxUtilization)
		}
		rep.Utilization = *v
	}
	if v := req.Connections; v != nil {
		if !(*v >= 0) || math.IsInf(*v, 1) {
			return health.Report{}, fmt.Errorf(`bad "connections" %v: want a finite number, 0 or more`, *v)
		}
		rep.Connections = *v
	}
	if v := req.RequestRate; v != nil {
		if !(*v >= 0) || math.IsInf(*v, 1) {
			return health.Report{}, fmt.Errorf(`bad "request_rate" %v: want a finite number of requests per second, 0 or more`, *v)
		}
		rep.RequestRate = *v
	}
	if v := req.Capacity; v != nil {
		if !(*v > 0) || math.IsInf(*v, 1) {
			return health.Report{}, fmt.Errorf(`bad "capacity" %v: want a finite number above 0, or leave it out`, *v)
		}
		rep.Capacity = *v
	}
	ttl := defaultReportTTL
	if req.TTL != nil {
		d, err := time.ParseDuration(*req.TTL)
		if err != nil || d < minReportTTL || d > maxReportTTL {
			return health.Report{}, fmt.Errorf(`bad "ttl" %q: want a duration from %v to %v, such as "30s"`, *req.TTL, minReportTTL, maxReportTTL)
		}
		ttl = d
	}
	rep.Expires = now.Add(ttl)
	if l, ok := rep.Load(); ok && !(l >= 0 && l <= maxUtilization) {
		// Only a derived one: a given utilisation is in range.
		of, v := "connections", rep.Connections
		if math.IsNaN(v) {
			of, v = "request_rate", rep.RequestRate
		}
		return health.Report{}, fmt.Errorf(`%q %v over "capacity" %v is a utilisation of %v: want 0 to %d`, of, v, rep.Capacity, l, maxUtilization)
	}
	return rep, nil
}

// decodeError turns an error of json.Decoder into one that names the
// field and what it wants, and wraps an error of the reader.
func decodeError(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New(`empty request body: want a JSON object such as {"utilization": 0.62, "ttl": "30s"}`)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
		want := "a number"
		if te.Field == "ttl" {
			want = `a string such as "30s"`
		}
		return fmt.Errorf("bad %q: want %s, not %s", te.Field, want, te.Value)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("bad request body: want a JSON object, not %s", te.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf(`unknown field %s: want "utilization", "connections", "request_rate", "capacity" or "ttl"`, f)
	}
	return fmt.Errorf("bad request body: %w", err)
}

// reportJSON is a load report as the API shows it: a value not reported is
// null, as is load when the report gives no utilisation.
type reportJSON struct {
	Backend     string    `json:"backend"`
	Utilization *float64  `json:"utilization"`
	Connections *float64  `json:"connections"`
	RequestRate *float64  `json:"request_rate"`
	Capacity    *float64  `json:"capacity"`
	Load        *float64  `json:"load"`
	At          time.Time `json:"at"`
	Expires     time.Time `json:"expires"`
	Source      string    `json:"source"`
}

// reportView is a report of backend id as the API shows it.
func reportView(id string, rep health.Report) reportJSON {
	opt := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	out := reportJSON{
		Backend:     id,
		Utilization: opt(rep.Utilization),
		Connections: opt(rep.Connections),
		RequestRate: opt(rep.RequestRate),
		At:          rep.At.UTC(),
		Expires:     rep.Expires.UTC(),
		Source:      rep.Source,
	}
	if rep.Capacity > 0 {
		out.Capacity = &rep.Capacity
	}
	if l, ok := rep.Load(); ok {
		out.Load = &l
	}
	return out
}
