package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/internal/safefile"
	"github.com/prometheus/client_golang/prometheus"
)

// Lease bounds of registrations.
const (
	MinLease     = 5 * time.Second
	MaxLease     = time.Hour
	DefaultLease = 30 * time.Second
)

// Registration is a backend that an agent registered through the API, with
// its lease: unless renewed before Expires it is removed.
type Registration struct {
	// ID is "service/backend", the service lower case without its dot.
	ID      string  `json:"id"`
	Service string  `json:"service"`
	Name    string  `json:"name"`
	Address string  `json:"address"`
	Pool    string  `json:"pool,omitempty"`
	Weight  float64 `json:"weight"`
	// Capacity, CheckPort and CheckPath as zones.RegisteredBackend.
	Capacity  float64 `json:"capacity,omitempty"`
	CheckPort uint16  `json:"check_port,omitempty"`
	CheckPath string  `json:"check_path,omitempty"`
	// Lease is the time a renewal is good for.
	Lease time.Duration `json:"lease_ns"`
	// Registered is the first registration, Renewed the last one (or the
	// registration), Renewals how many renewals came after it.
	Registered time.Time `json:"registered"`
	Renewed    time.Time `json:"renewed"`
	Renewals   int       `json:"renewals"`
	Expires    time.Time `json:"expires"`
	// Source is who registered it: the token's name and the remote
	// address.
	Source string `json:"source"`
	// Retire, when set, is when a backend deregistered with drain is
	// removed: it is out of new answers (an admin drain) until the last
	// answer that named it expires from caches, and takes no renewal.
	// Expires is Retire then.
	Retire time.Time `json:"retire,omitzero"`
}

// Registry keeps the registrations and their leases, persisted in a file
// of the state directory (a restart keeps them until their leases run
// out). It is safe for concurrent use; nothing on the query path reads it
// (registered backends are compiled into snapshots).
type Registry struct {
	log  *slog.Logger
	file string // "" for none

	mu        sync.Mutex
	regs      map[string]*Registration
	removed   map[string]time.Time // deregistrations, kept for removedKeep
	dirty     bool                 // renewals not yet written
	onChange  func()
	onGone    func(id string)
	replicate func(RegistrationChange)
	metrics   *registryMetrics // nil until Register
	trail     *audit.Trail     // nil: no audit trail
}

// removedKeep is how long a deregistration is remembered, so that a copy
// of the registration from before it, arriving late from the fleet, does
// not bring the backend back.
const removedKeep = 10 * time.Minute

// RegistrationChange is a registration, renewal or deregistration as the
// members of a fleet share it: Registration nil is a deregistration of ID
// made at At.
type RegistrationChange struct {
	ID           string
	Registration *Registration
	At           time.Time
	// By is who deregistered (a registration carries its Source); Node
	// is the member the change was made on: for the audit trail.
	By   string
	Node string
}

// NewRegistry returns an empty registry kept in file ("" for none).
func NewRegistry(file string, log *slog.Logger) *Registry {
	return &Registry{log: log, file: file, regs: map[string]*Registration{}, removed: map[string]time.Time{}}
}

// OnChange has f called (outside the lock) after a registration is added,
// changed in what is compiled, or removed: the server compiles its
// snapshot again. Renewals that change nothing else do not call it,
// except the first one (a backend whose lease is its health check is
// answered from its first renewal).
func (r *Registry) OnChange(f func()) { r.onChange = f }

// OnGone has f called (outside the lock) with the ID of each backend
// deregistered here or whose lease ran out: the server clears its admin
// override (a drain), so that a later registration under the same name
// starts afresh.
func (r *Registry) OnGone(f func(id string)) { r.onGone = f }

func (r *Registry) gone(ids ...string) {
	if r.onGone != nil {
		for _, id := range ids {
			r.onGone(id)
		}
	}
}

// Replicate has f called, outside the lock, with every registration,
// renewal and deregistration made through Put and Remove (not Merge): a
// fleet sends them to its other members. Call it before the registry is
// used.
func (r *Registry) Replicate(f func(RegistrationChange)) { r.replicate = f }

// Audit has the registry's changes recorded in t: registrations,
// changes of what is answered, deregistrations, drains and leases run
// out, made here or merged from the fleet (renewals are not recorded).
// Call it before the registry is used.
func (r *Registry) Audit(t *audit.Trail) { r.trail = t }

// record adds a change of x to the audit trail: by (default x.Source) and
// via as audit.Entry has them.
func (r *Registry) record(action string, x *Registration, by, via string) {
	if r.trail == nil {
		return
	}
	if by == "" {
		by = x.Source
	}
	who, from := audit.SplitSource(by)
	e := audit.Entry{Action: action, Backend: x.ID, By: who, From: from, Via: via}
	switch action {
	case audit.Registered, audit.Reregistered:
		e.Detail = map[string]string{"address": x.Address, "weight": strconv.FormatFloat(x.Weight, 'g', -1, 64), "lease": x.Lease.String()}
		if x.Pool != "" {
			e.Detail["pool"] = x.Pool
		}
		if x.Capacity != 0 {
			e.Detail["capacity"] = strconv.FormatFloat(x.Capacity, 'g', -1, 64)
		}
		if x.CheckPort != 0 || x.CheckPath != "" {
			e.Detail["check"] = fmt.Sprintf("port %d path %q", x.CheckPort, x.CheckPath)
		}
	case audit.Retiring:
		e.Detail = map[string]string{"address": x.Address, "removed_at": x.Retire.UTC().Format(time.RFC3339)}
	default:
		e.Detail = map[string]string{"address": x.Address}
	}
	r.trail.Record(e)
}

// Merge applies a change from another member: a registration or renewal
// newer (by its renewal time) than what the registry has of the backend
// and than its last deregistration; a deregistration always (a renewal
// made after it, by a clock ahead, would have to arrive after it to
// count). It reports whether the change was applied.
func (r *Registry) Merge(c RegistrationChange, now time.Time) (bool, error) {
	r.mu.Lock()
	cur := r.regs[c.ID]
	if c.Registration == nil {
		if c.At.After(r.removed[c.ID]) {
			r.removed[c.ID] = c.At
		}
		if cur == nil {
			r.mu.Unlock()
			return false, nil
		}
		delete(r.regs, c.ID)
		r.count(EventFromFleet, 1)
		by := c.By
		if by == "" {
			by = "another member"
		}
		r.record(audit.Deregistered, cur, by, c.Node)
		err := r.saveLocked()
		r.mu.Unlock()
		r.changed()
		return true, err
	}
	in := *c.Registration
	if (cur != nil && !in.Renewed.After(cur.Renewed)) || !in.Renewed.After(r.removed[c.ID]) || !now.Before(in.Expires) {
		r.mu.Unlock()
		return false, nil
	}
	changed := cur == nil || compiledDiffers(cur, &in)
	r.regs[c.ID] = &in
	r.count(EventFromFleet, 1)
	switch {
	case cur == nil:
		r.record(audit.Registered, &in, "", c.Node)
	case !in.Retire.IsZero() && cur.Retire.IsZero():
		r.record(audit.Retiring, &in, c.By, c.Node)
	case settingsDiffer(cur, &in):
		r.record(audit.Reregistered, &in, "", c.Node)
	}
	var err error
	if changed {
		err = r.saveLocked()
	} else {
		r.dirty = true
	}
	r.mu.Unlock()
	if changed {
		r.changed()
	}
	return true, err
}

// compiledDiffers tells whether b changes what a compiled snapshot has of
// a: the settings, or the first renewal.
func compiledDiffers(a, b *Registration) bool {
	return settingsDiffer(a, b) || (a.Renewals == 0) != (b.Renewals == 0)
}

// settingsDiffer tells whether b's settings differ from a's.
func settingsDiffer(a, b *Registration) bool {
	return a.Address != b.Address || a.Pool != b.Pool || a.Weight != b.Weight || a.Capacity != b.Capacity ||
		a.CheckPort != b.CheckPort || a.CheckPath != b.CheckPath
}

// ErrRegistryFull is Put's error when a service has as many registered
// backends as it takes.
var ErrRegistryFull = errors.New("too many registered backends")

// ErrRetiring is Put's error for a backend deregistered with drain: it
// takes no renewal until it is gone.
var ErrRetiring = errors.New("deregistered with drain")

// Put registers reg (ID, Service, Name and what is compiled set), or, for
// a backend registered already, renews its lease with reg's settings. A
// new registration beyond max of its service fails with ErrRegistryFull.
// It returns the registration as kept and whether it is new.
func (r *Registry) Put(reg Registration, max int, now time.Time) (Registration, bool, error) {
	if reg.Lease < MinLease || reg.Lease > MaxLease {
		return Registration{}, false, fmt.Errorf("lease_ttl %v: want %v..%v", reg.Lease, MinLease, MaxLease)
	}
	r.mu.Lock()
	cur, ok := r.regs[reg.ID]
	changed := true
	if ok && !cur.Retire.IsZero() {
		r.mu.Unlock()
		return Registration{}, false, fmt.Errorf("%s: %w: out of the answers, removed at %s; register again after that", reg.ID, ErrRetiring, cur.Retire.UTC().Format(time.RFC3339))
	}
	if ok {
		reg.Registered, reg.Renewals = cur.Registered, cur.Renewals+1
		changed = compiledDiffers(cur, &reg)
	} else {
		n := 0
		for _, x := range r.regs {
			if x.Service == reg.Service && now.Before(x.Expires) {
				n++
			}
		}
		if n >= max {
			r.mu.Unlock()
			return Registration{}, false, fmt.Errorf("service %s: %w (max_registered %d)", reg.Service, ErrRegistryFull, max)
		}
		reg.Registered, reg.Renewals = now, 0
	}
	reg.Renewed, reg.Expires = now, now.Add(reg.Lease)
	if ok {
		r.count(EventRenewed, 1)
	} else {
		r.count(EventRegistered, 1)
	}
	kept := reg
	r.regs[reg.ID] = &kept
	switch {
	case !ok:
		r.record(audit.Registered, &kept, "", "")
	case settingsDiffer(cur, &kept):
		r.record(audit.Reregistered, &kept, "", "")
	}
	var err error
	if changed {
		err = r.saveLocked()
	} else {
		r.dirty = true
	}
	r.mu.Unlock()
	if changed {
		r.changed()
	}
	if r.replicate != nil {
		c := reg
		r.replicate(RegistrationChange{ID: reg.ID, Registration: &c, At: now})
	}
	return reg, !ok, err
}

// Remove deregisters a backend at the request of by, and tells whether
// it was registered.
func (r *Registry) Remove(id, by string) (bool, error) {
	now := time.Now()
	r.mu.Lock()
	cur, ok := r.regs[id]
	delete(r.regs, id)
	var err error
	if ok {
		r.removed[id] = now
		r.count(EventDeregistered, 1)
		r.record(audit.Deregistered, cur, by, "")
		err = r.saveLocked()
	}
	r.mu.Unlock()
	if ok {
		r.changed()
		r.gone(id)
		if r.replicate != nil {
			r.replicate(RegistrationChange{ID: id, At: now, By: by})
		}
	}
	return ok, err
}

// Retire deregisters a backend with drain at the request of by: it stays
// registered (and takes no renewal) until at, the moment the last answer
// that named it expires from caches, and is removed then, as a lease
// that ran out. It returns the registration as kept, and false if there
// is none. A backend retiring already keeps its earlier time.
func (r *Registry) Retire(id string, at time.Time, by string, now time.Time) (Registration, bool, error) {
	r.mu.Lock()
	cur, ok := r.regs[id]
	if !ok {
		r.mu.Unlock()
		return Registration{}, false, nil
	}
	if !cur.Retire.IsZero() {
		kept := *cur
		r.mu.Unlock()
		return kept, true, nil
	}
	if !at.After(now) {
		at = now.Add(time.Millisecond)
	}
	next := *cur
	next.Retire, next.Renewed, next.Expires = at, now, at
	r.regs[id] = &next
	r.count(EventDeregistered, 1)
	r.record(audit.Retiring, &next, by, "")
	err := r.saveLocked()
	r.mu.Unlock()
	if r.replicate != nil {
		c := next
		r.replicate(RegistrationChange{ID: id, Registration: &c, At: now, By: by})
	}
	return next, true, err
}

// Expire removes the registrations whose leases ran out at now and
// returns them; it writes renewals not yet written.
func (r *Registry) Expire(now time.Time) []Registration {
	r.mu.Lock()
	var gone []Registration
	for id, x := range r.regs {
		if !now.Before(x.Expires) {
			gone = append(gone, *x)
			delete(r.regs, id)
			if x.Retire.IsZero() {
				r.record(audit.LeaseExpired, x, "lease", "")
			} else {
				r.record(audit.Deregistered, x, "drain end", "")
			}
		}
	}
	r.count(EventExpired, len(gone))
	for id, at := range r.removed {
		if now.Sub(at) > removedKeep {
			delete(r.removed, id)
		}
	}
	if len(gone) > 0 || r.dirty {
		if err := r.saveLocked(); err != nil {
			r.log.Error("cannot write the registrations", "err", err)
		}
	}
	r.mu.Unlock()
	if len(gone) > 0 {
		r.changed()
		for _, g := range gone {
			r.gone(g.ID)
		}
	}
	return gone
}

// Get returns a registration.
func (r *Registry) Get(id string) (Registration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x, ok := r.regs[id]; ok {
		return *x, true
	}
	return Registration{}, false
}

// All returns every registration, by ID.
func (r *Registry) All() []Registration {
	r.mu.Lock()
	out := make([]Registration, 0, len(r.regs))
	for _, x := range r.regs {
		out = append(out, *x)
	}
	r.mu.Unlock()
	sortByID(out)
	return out
}

func sortByID(regs []Registration) {
	slices.SortFunc(regs, func(a, b Registration) int { return strings.Compare(a.ID, b.ID) })
}

// Of returns the registrations of a service, by ID.
func (r *Registry) Of(service string) []Registration {
	var out []Registration
	for _, x := range r.All() {
		if x.Service == service {
			out = append(out, x)
		}
	}
	return out
}

func (r *Registry) changed() {
	if r.onChange != nil {
		r.onChange()
	}
}

// registryFile is the state file's layout.
type registryFile struct {
	Registrations []Registration `json:"registrations"`
}

// saveLocked writes the registry (r.mu held).
func (r *Registry) saveLocked() error {
	r.dirty = false
	if r.file == "" {
		return nil
	}
	f := registryFile{Registrations: make([]Registration, 0, len(r.regs))}
	for _, x := range r.regs {
		f.Registrations = append(f.Registrations, *x)
	}
	sortByID(f.Registrations)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return safefile.Write(r.file, append(b, '\n'), 0o600)
}

// Load reads the registry's file, keeping the registrations whose leases
// have not run out at now; a missing file is an empty registry.
func (r *Registry) Load(now time.Time, max int64) error {
	if r.file == "" {
		return nil
	}
	src, err := safefile.Read(r.file, max)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.file, err)
	}
	var f registryFile
	if err := json.Unmarshal(src, &f); err != nil {
		return fmt.Errorf("%s: %w", r.file, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range f.Registrations {
		if x.ID == "" || x.ID != x.Service+"/"+x.Name || !now.Before(x.Expires) {
			continue
		}
		kept := x
		r.regs[x.ID] = &kept
	}
	return nil
}

// registryMetrics are the registry's series.
type registryMetrics struct {
	events   *prometheus.CounterVec
	rejected *prometheus.CounterVec
	backends *prometheus.Desc
	services func() []string
}

// Registration events counted in gslb_registration_events_total.
const (
	EventRegistered   = "registered"
	EventRenewed      = "renewed"
	EventDeregistered = "deregistered"
	EventExpired      = "expired"
	EventFromFleet    = "from_fleet"
)

// Register adds the registry's series to reg: registered backends per
// service (every service services names, 0 for one without any), events,
// and rejected requests (counted by Rejected).
func (r *Registry) Register(reg prometheus.Registerer, services func() []string) {
	m := &registryMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_registration_events_total",
			Help: "Registration events: registered, renewed, deregistered, expired (the lease ran out: the agent stopped renewing), from_fleet (a change made on another member).",
		}, []string{"event"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_registration_rejected_total",
			Help: "Registration requests refused, by HTTP status (400 bad body or field, 401 token, 403 not allowed, 404 no such service or backend, 409 a configured backend's name, 413 too large, 429 the service's max_registered).",
		}, []string{"code"}),
		backends: prometheus.NewDesc("gslb_registered_backends",
			"Backends registered through the API with a lease that has not run out, by service.",
			[]string{"service"}, nil),
	}
	for _, e := range []string{EventRegistered, EventRenewed, EventDeregistered, EventExpired, EventFromFleet} {
		m.events.WithLabelValues(e)
	}
	for _, code := range []string{"400", "401", "403", "404", "409", "413", "429"} {
		m.rejected.WithLabelValues(code)
	}
	m.services = services
	r.mu.Lock()
	r.metrics = m
	r.mu.Unlock()
	reg.MustRegister(m.events, m.rejected, registryCollector{r})
}

// count counts an event (without metrics: nothing).
func (r *Registry) count(event string, n int) {
	if r.metrics != nil && n > 0 {
		r.metrics.events.WithLabelValues(event).Add(float64(n))
	}
}

// Rejected counts a refused registration request by its HTTP status.
func (r *Registry) Rejected(code int) {
	if r.metrics != nil {
		r.metrics.rejected.WithLabelValues(strconv.Itoa(code)).Inc()
	}
}

type registryCollector struct{ r *Registry }

func (c registryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.r.metrics.backends }

func (c registryCollector) Collect(ch chan<- prometheus.Metric) {
	n := map[string]int{}
	if c.r.metrics.services != nil {
		for _, s := range c.r.metrics.services() {
			n[s] = 0
		}
	}
	for _, x := range c.r.All() {
		n[x.Service]++
	}
	for svc, k := range n {
		ch <- prometheus.MustNewConstMetric(c.r.metrics.backends, prometheus.GaugeValue, float64(k), svc)
	}
}
