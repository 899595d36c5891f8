package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// The registration API: an agent registers its backend into a service that
// takes registrations (registration = true), with a token scoped to that
// service, and renews it within its lease:
//
//	PUT    /api/v1/backends/{service}/{backend}        register or renew
//	DELETE /api/v1/backends/{service}/{backend}        deregister (?drain=true: drain first)
//	POST   /api/v1/backends/{service}/{backend}/drain  out of new answers; when caches expire
//
// The admin token may deregister and drain (an operator cleans up), never
// register: an agent's token is not an operator's, and the other way round.

// maxRegistrationBody bounds a registration's body.
const maxRegistrationBody = 16 << 10

// registrationRequest is the body of PUT /api/v1/backends/{service}/{backend}.
type registrationRequest struct {
	Address  string   `json:"address"`
	Pool     string   `json:"pool"`
	Weight   *float64 `json:"weight"`
	Capacity float64  `json:"capacity"`
	Check    *struct {
		Port int    `json:"port"`
		Path string `json:"path"`
	} `json:"check"`
	LeaseTTL string `json:"lease_ttl"`
}

// ParseRegistration decodes a registration body: every field but address
// optional (weight 1, lease_ttl 30s), no unknown field, one JSON object.
// Its errors name the field.
func ParseRegistration(r io.Reader, name string) (zones.RegisteredBackend, time.Duration, error) {
	var req registrationRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return zones.RegisteredBackend{}, 0, errors.New("empty body: want a JSON object with at least address")
		}
		return zones.RegisteredBackend{}, 0, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return zones.RegisteredBackend{}, 0, errors.New("body: one JSON object, not several")
	}
	rb := zones.RegisteredBackend{Name: name, Pool: req.Pool, Weight: 1, Capacity: req.Capacity}
	if req.Address == "" {
		return rb, 0, errors.New("address: missing")
	}
	a, err := netip.ParseAddr(req.Address)
	if err != nil {
		return rb, 0, fmt.Errorf("address %q: not an IP address", req.Address)
	}
	rb.Address = a
	if req.Weight != nil {
		rb.Weight = *req.Weight
	}
	if c := req.Check; c != nil {
		if c.Port < 0 || c.Port > 65535 {
			return rb, 0, fmt.Errorf("check.port %d: want 1..65535", c.Port)
		}
		rb.CheckPort, rb.CheckPath = uint16(c.Port), c.Path
	}
	lease := health.DefaultLease
	if req.LeaseTTL != "" {
		if lease, err = time.ParseDuration(req.LeaseTTL); err != nil {
			return rb, 0, fmt.Errorf("lease_ttl %q: not a duration (\"30s\", \"2m\")", req.LeaseTTL)
		}
	}
	if lease < health.MinLease || lease > health.MaxLease {
		return rb, 0, fmt.Errorf("lease_ttl %v: want %v..%v", lease, health.MinLease, health.MaxLease)
	}
	return rb, lease, nil
}

// registrationJSON is a registration as the API answers it.
type registrationJSON struct {
	ID              string    `json:"id"`
	Service         string    `json:"service"`
	Name            string    `json:"name"`
	Address         string    `json:"address"`
	Pool            string    `json:"pool"`
	Weight          float64   `json:"weight"`
	Capacity        float64   `json:"capacity"`
	CheckPort       uint16    `json:"check_port"`
	CheckPath       string    `json:"check_path"`
	LeaseTTLSeconds float64   `json:"lease_ttl_seconds"`
	Registered      time.Time `json:"registered"`
	Renewed         time.Time `json:"renewed"`
	Renewals        int       `json:"renewals"`
	Expires         time.Time `json:"expires"`
	Source          string    `json:"source"`
	// RemovedAt is when a backend deregistered with drain is removed.
	RemovedAt time.Time `json:"removed_at,omitzero"`
	// State is the backend's lifecycle: starting (not answered yet: its
	// first probe, or with no check its lease's first renewal, is
	// pending), ramping (slow start), serving, draining, down.
	State string `json:"state"`
}

func registrationView(reg health.Registration, state string) registrationJSON {
	return registrationJSON{
		ID: reg.ID, Service: reg.Service, Name: reg.Name, Address: reg.Address, Pool: reg.Pool,
		Weight: reg.Weight, Capacity: reg.Capacity, CheckPort: reg.CheckPort, CheckPath: reg.CheckPath,
		LeaseTTLSeconds: reg.Lease.Seconds(), Registered: reg.Registered.UTC(), Renewed: reg.Renewed.UTC(),
		Renewals: reg.Renewals, Expires: reg.Expires.UTC(), Source: reg.Source, RemovedAt: reg.Retire.UTC(), State: state,
	}
}

// lifecycle is a backend's state for registration: see registrationJSON.
func lifecycle(b *zones.Backend) string {
	switch {
	case b == nil || b.Pending():
		return "starting"
	case b.Override() != nil && b.Override().State == health.AdminDrain:
		return "draining"
	case !b.Serving():
		return "down"
	}
	if f, ok := b.Factors(); ok && f.Ramp < 1 {
		return "ramping"
	}
	return "serving"
}

// findService is the service of the snapshot in use named service (any
// case, with or without its final dot).
func (s *Server) findService(service string) *zones.Service {
	service = strings.TrimSuffix(strings.ToLower(service), ".")
	for _, svc := range s.deps.Handler.Snapshot().Services() {
		if strings.ToLower(strings.TrimSuffix(svc.Name, ".")) == service {
			return svc
		}
	}
	return nil
}

// registrant checks a registration request's token: one of the service's
// registration tokens, or (when admin is true) the admin token. It
// returns who sent it, for the log and the registration's source; if
// not, it has answered.
func (s *Server) registrant(w http.ResponseWriter, r *http.Request, svc *zones.Service, service string, admin bool) (string, bool) {
	if who, ok := s.registrationTokenOf(r, svc); ok {
		return who, true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && got != "" {
		if s.deps.Token != "" && constantEqual(got, s.deps.Token) {
			if admin {
				return "admin token from " + r.RemoteAddr, true
			}
			s.regError(w, http.StatusForbidden, apiError{"the admin token cannot register backends: send a registration token of the service ([admin] registration_tokens_file)"})
			return "", false
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="gslb registration"`)
	s.regError(w, http.StatusUnauthorized, apiError{"missing or wrong bearer token: want a registration token of service " + service})
	return "", false
}

// registrationTokenOf tells whether r carries a registration token of
// svc's (a service that takes registrations), and who sent it.
func (s *Server) registrationTokenOf(r *http.Request, svc *zones.Service) (string, bool) {
	if svc == nil || !svc.Registration || s.deps.RegistrationToken == nil {
		return "", false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return "", false
	}
	name, ok := s.deps.RegistrationToken(strings.ToLower(strings.TrimSuffix(svc.Name, ".")), got)
	if !ok {
		return "", false
	}
	return "registration token " + name + " from " + r.RemoteAddr, true
}

// registrationRequest checks a registration request: its service, which
// must take registrations, and its token (the admin token too when admin
// is true). It returns the service, its name and who sent the request;
// if not ok, it has answered.
func (s *Server) registrationRequest(w http.ResponseWriter, r *http.Request, admin bool) (*zones.Service, string, string, bool) {
	svc, service, ok := s.registrationService(w, r)
	if !ok {
		return nil, "", "", false
	}
	who, ok := s.registrant(w, r, svc, service, admin)
	return svc, service, who, ok
}

// registrationService finds the service of a registration request and
// checks that it takes registrations; if not, it has answered.
func (s *Server) registrationService(w http.ResponseWriter, r *http.Request) (*zones.Service, string, bool) {
	if s.deps.Registry == nil {
		s.regError(w, http.StatusNotImplemented, apiError{"the registration API is off: this server keeps no registrations"})
		return nil, "", false
	}
	svc := s.findService(r.PathValue("service"))
	if svc == nil {
		s.regError(w, http.StatusNotFound, apiError{"no such service"})
		return nil, "", false
	}
	name := strings.ToLower(strings.TrimSuffix(svc.Name, "."))
	if !svc.Registration {
		s.regError(w, http.StatusForbidden, apiError{"service " + name + " does not take registrations (registration = true in its zone file)"})
		return nil, "", false
	}
	return svc, name, true
}

// register serves PUT /api/v1/backends/{service}/{backend}: a new
// registration (201) or a renewal (200).
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	svc, service, who, ok := s.registrationRequest(w, r, false)
	if !ok {
		return
	}
	name := r.PathValue("backend")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegistrationBody))
	if err != nil {
		s.regError(w, http.StatusRequestEntityTooLarge, apiError{fmt.Sprintf("request body larger than %d KiB", maxRegistrationBody>>10)})
		return
	}
	rb, lease, err := ParseRegistration(bytes.NewReader(body), name)
	if err != nil {
		s.regError(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	if err := zones.CheckRegistration(svc, rb); err != nil {
		code := http.StatusBadRequest
		if strings.Contains(err.Error(), "is a configured backend") {
			code = http.StatusConflict
		}
		s.regError(w, code, apiError{err.Error()})
		return
	}
	reg := health.Registration{
		ID: service + "/" + name, Service: service, Name: name, Address: rb.Address.String(), Pool: rb.Pool,
		Weight: rb.Weight, Capacity: rb.Capacity, CheckPort: rb.CheckPort, CheckPath: rb.CheckPath,
		Lease: lease, Source: who,
	}
	kept, created, err := s.deps.Registry.Put(reg, svc.MaxRegistered, s.now())
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, health.ErrRegistryFull):
			code = http.StatusTooManyRequests
		case errors.Is(err, health.ErrRetiring):
			code = http.StatusConflict
		}
		s.regError(w, code, apiError{err.Error()})
		return
	}
	_, b := s.findBackend(service, name)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		s.deps.Log.Info("backend registered", "backend", kept.ID, "address", kept.Address, "pool", kept.Pool, "weight", kept.Weight, "lease", kept.Lease, "source", who)
	}
	writeJSON(w, code, registrationView(kept, lifecycle(b)))
}

// deregisterRequest is the optional body of DELETE: {"drain": true}
// (or ?drain=true) deregisters with drain.
type deregisterRequest struct {
	Drain bool `json:"drain"`
}

// parseDeregister reads whether a DELETE asks for a drain: ?drain=true
// or a body {"drain": true}; an empty body is none.
func parseDeregister(r *http.Request) (bool, error) {
	drain := false
	if v := r.URL.Query().Get("drain"); v != "" {
		switch v {
		case "true", "1":
			drain = true
		case "false", "0":
		default:
			return false, fmt.Errorf("drain %q: want true or false", v)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRegistrationBody+1))
	if err != nil {
		return false, fmt.Errorf("body: %v", err)
	}
	if len(body) > maxRegistrationBody {
		return false, fmt.Errorf("request body larger than %d KiB", maxRegistrationBody>>10)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return drain, nil
	}
	var req deregisterRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return false, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return false, errors.New("body: one JSON object, not several")
	}
	return drain || req.Drain, nil
}

// deregister serves DELETE /api/v1/backends/{service}/{backend}: at once
// (204), or with drain (202): out of new answers now, removed when the
// last answer that named it expires from caches, which the answer says.
func (s *Server) deregister(w http.ResponseWriter, r *http.Request) {
	svc, service, who, ok := s.registrationRequest(w, r, true)
	if !ok {
		return
	}
	drain, err := parseDeregister(r)
	if err != nil {
		s.regError(w, http.StatusBadRequest, apiError{err.Error()})
		return
	}
	id := service + "/" + r.PathValue("backend")
	if drain {
		s.retire(w, svc, id, who)
		return
	}
	gone, err := s.deps.Registry.Remove(id, who)
	switch {
	case err != nil:
		s.regError(w, http.StatusInternalServerError, apiError{err.Error()})
	case !gone:
		s.regError(w, http.StatusNotFound, apiError{"no such registered backend"})
	default:
		s.deps.Log.Info("backend deregistered", "backend", id, "source", who)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	}
}

// drainJSON is the answer of POST …/drain.
type drainJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
	// CachesExpire is when the last answer that named the backend
	// expires from caches that honour TTLs: now plus the service's TTL,
	// the longest any answer had.
	CachesExpire time.Time `json:"caches_expire"`
	// RemovedAt is when a backend deregistered with drain is removed
	// (CachesExpire, or the time of an earlier such deregistration).
	RemovedAt time.Time `json:"removed_at,omitzero"`
}

// drainRegistered puts a registered backend in an admin drain, for the
// reason given; it returns when it was done and when the caches expire
// (now plus the service's TTL). If not ok, it has answered.
func (s *Server) drainRegistered(w http.ResponseWriter, svc *zones.Service, id, who, reason string) (now, expire time.Time, ok bool) {
	if _, ok := s.deps.Registry.Get(id); !ok {
		s.regError(w, http.StatusNotFound, apiError{"no such registered backend"})
		return now, expire, false
	}
	if s.deps.Admin == nil {
		s.regError(w, http.StatusNotImplemented, apiError{"no admin store: cannot drain"})
		return now, expire, false
	}
	now = s.now()
	expire = now.Add(time.Duration(svc.TTL) * time.Second).UTC()
	if err := s.deps.Admin.Set(id, &health.Override{State: health.AdminDrain, Reason: reason}, who); err != nil {
		s.regError(w, http.StatusInternalServerError, apiError{err.Error()})
		return now, expire, false
	}
	return now, expire, true
}

// retire deregisters a registered backend with drain: an admin drain at
// once, and the registration removed when the caches expire.
func (s *Server) retire(w http.ResponseWriter, svc *zones.Service, id, who string) {
	now, expire, ok := s.drainRegistered(w, svc, id, who, "scale-in (deregistration with drain)")
	if !ok {
		return
	}
	kept, ok, err := s.deps.Registry.Retire(id, expire, who, now)
	switch {
	case err != nil:
		s.regError(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	case !ok: // gone between the two: nothing left to drain
		s.regError(w, http.StatusNotFound, apiError{"no such registered backend"})
		return
	}
	s.deps.Log.Info("registered backend deregistered with drain", "backend", id, "removed_at", kept.Retire.Format(time.RFC3339Nano), "source", who)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusAccepted, drainJSON{ID: id, State: "draining", CachesExpire: expire, RemovedAt: kept.Retire.UTC()})
}

// drain serves POST /api/v1/backends/{service}/{backend}/drain: the
// registered backend leaves new answers at once; the answer says when the
// last cached answer naming it expires, which its agent waits for before
// it exits.
func (s *Server) drain(w http.ResponseWriter, r *http.Request) {
	svc, service, who, ok := s.registrationRequest(w, r, true)
	if !ok {
		return
	}
	id := service + "/" + r.PathValue("backend")
	_, expire, ok := s.drainRegistered(w, svc, id, who, "scale-in (registration)")
	if !ok {
		return
	}
	s.deps.Log.Info("registered backend draining", "backend", id, "source", who)
	writeJSON(w, http.StatusOK, drainJSON{ID: id, State: "draining", CachesExpire: expire})
}

// regError answers a registration request that failed, and counts it as
// refused when the fault is the request's (4xx).
func (s *Server) regError(w http.ResponseWriter, code int, e apiError) {
	if s.deps.Registry != nil && code < 500 {
		s.deps.Registry.Rejected(code)
	}
	writeJSON(w, code, e)
}
