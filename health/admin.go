package health

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/internal/hlc"
	"github.com/gslb/gslb/internal/safefile"
)

// Admin states an operator can put a backend in.
const (
	AdminUp    = "up"    // serve it whatever the probes say
	AdminDown  = "down"  // never serve it
	AdminDrain = "drain" // no new answers; probes go on
)

// Override is an operator's decision about one backend.
type Override struct {
	State   string    `toml:"state" json:"state"`
	Reason  string    `toml:"reason,omitempty" json:"reason,omitempty"`
	Expires time.Time `toml:"expires,omitempty" json:"expires,omitzero"`
	Source  string    `toml:"source,omitempty" json:"source,omitempty"`
	Set     time.Time `toml:"set,omitempty" json:"set,omitzero"`
	// Stamp orders the change across a fleet: the newest stamp wins
	// (hybrid logical clock, internal/hlc).
	Stamp hlc.Stamp `toml:"stamp,omitempty" json:"stamp,omitzero"`
}

// active tells whether the override is in effect at now.
func (o *Override) active(now time.Time) bool {
	return o != nil && (o.Expires.IsZero() || o.Expires.After(now))
}

// same tells whether two overrides say the same thing (whoever set them).
func same(a, b *Override) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.State == b.State && a.Reason == b.Reason && a.Expires.Equal(b.Expires)
}

// Change is one backend's override as last written: Override nil means
// cleared. Stamp orders it against other writes of the same backend.
type Change struct {
	ID       string    `json:"id"`
	Override *Override `json:"override,omitempty"`
	Stamp    hlc.Stamp `json:"stamp"`
	// Source is who made the change, as Override.Source (which a
	// cleared override has not), for the audit trail of the members it
	// reaches.
	Source string `json:"source,omitempty"`
}

// Slot holds a backend's override; the query path loads it atomically.
type Slot = atomic.Pointer[Override]

// Serving tells whether a backend with this health and override gets new
// answers.
func Serving(st *State, slot *Slot) bool {
	if o := slot.Load(); o != nil {
		return o.State == AdminUp
	}
	return st.Up()
}

// backendID is the form of a normalised backend ID, "service/backend":
// the service's name neither starts nor ends with a dot (else normalising
// it again would change it).
var backendID = regexp.MustCompile(`^[A-Za-z0-9_*-](?:[A-Za-z0-9_.*-]*[A-Za-z0-9_*-])?/[A-Za-z0-9_.-]+$`)

// Admin keeps the admin overrides of all backends by ID, persists them in
// a state file, and clears them when they expire.
type Admin struct {
	log  *slog.Logger
	file string // "" keeps overrides in memory only
	max  int64  // the largest state file LoadFile reads

	mu    sync.Mutex // serialises writers; readers use the slots
	slots map[string]*Slot
	// last is every backend's last write, in effect or not (cleared,
	// expired): a write older than it loses, wherever it comes from.
	last     map[string]Change
	clock    *hlc.Clock
	onChange func([]Change)
	next     time.Time    // the earliest expiry of an override in effect
	trail    *audit.Trail // nil: no audit trail
}

// clearedKeep is how long the last write of a backend whose override is
// no longer in effect is kept: a fleet member that was away longer than
// this and comes back with an older override brings it back.
const clearedKeep = 7 * 24 * time.Hour

// Replicate stamps every change with clock and calls onChange with the
// changes made here (the API, the state file), not those merged from
// elsewhere nor expiries. Call it before LoadFile.
func (a *Admin) Replicate(clock *hlc.Clock, onChange func([]Change)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clock, a.onChange = clock, onChange
}

// Audit has every change of an override recorded in t: made here (the
// API, the state file, an expiry) or merged from the fleet. Call it before
// LoadFile.
func (a *Admin) Audit(t *audit.Trail) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.trail = t
}

// NewAdmin returns an override store persisted in file ("" for none): the
// server passes admin-overrides.toml in its state directory (docs/state.md),
// or the deprecated [admin] state_file. LoadFile reads at most max bytes
// of it (0: DefaultMaxStateFile); NewAdmin does not read it.
func NewAdmin(file string, max int64, log *slog.Logger) *Admin {
	if max <= 0 {
		max = DefaultMaxStateFile
	}
	return &Admin{log: log, file: file, max: max, slots: map[string]*Slot{}, last: map[string]Change{}, clock: hlc.New("local", nil)}
}

// File returns the state file's path.
func (a *Admin) File() string { return a.file }

// Slot returns the slot of a backend ID, the same one every time, so that
// overrides survive reloads of the configuration.
func (a *Admin) Slot(id string) *Slot {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.slot(id)
}

func (a *Admin) slot(id string) *Slot {
	s, ok := a.slots[id]
	if !ok {
		s = new(Slot)
		a.slots[id] = s
	}
	return s
}

// Get returns the override of a backend, nil if none.
func (a *Admin) Get(id string) *Override { return a.Slot(NormalizeID(id)).Load() }

// List returns every override in effect, by backend ID.
func (a *Admin) List() map[string]Override {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]Override{}
	for id, s := range a.slots {
		if o := s.Load(); o != nil {
			out[id] = *o
		}
	}
	return out
}

// DefaultMaxStateFile caps the size of the admin state file unless
// [limits] state_file_max_mib says otherwise: far more than any set of
// overrides needs, small enough that a wrong file cannot fill memory.
const DefaultMaxStateFile = 64 << 20

// NormalizeID lower-cases the service part of a backend ID: DNS names
// compare without case, backend names with it.
func NormalizeID(id string) string {
	svc, b, ok := strings.Cut(id, "/")
	if !ok {
		return id
	}
	return strings.ToLower(strings.TrimSuffix(svc, ".")) + "/" + b
}

// Set puts an override on a backend (nil clears it), logs the change and
// writes the state file.
func (a *Admin) Set(id string, o *Override, source string) error {
	id = NormalizeID(id)
	if !backendID.MatchString(id) {
		return fmt.Errorf("bad backend id %q: want service/backend", id)
	}
	if o != nil {
		if err := o.check(); err != nil {
			return err
		}
		c := *o
		c.Source = source
		if c.Set.IsZero() {
			c.Set = time.Now().UTC().Truncate(time.Second)
		}
		o = &c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	stamp := a.clock.Now()
	if o != nil {
		o.Stamp = stamp
	}
	ch := Change{ID: id, Override: o, Stamp: stamp, Source: source}
	prev, had := a.last[id]
	old := a.slot(id).Swap(o)
	a.last[id] = ch
	if err := a.save(); err != nil {
		// Not persisted: not in effect either, so that a restart cannot
		// surprise the operator.
		a.slot(id).Store(old)
		if had {
			a.last[id] = prev
		} else {
			delete(a.last, id)
		}
		a.log.Error("admin override not applied: the state file cannot be written", "backend", id, "err", err)
		return &SaveError{File: a.file, Err: err}
	}
	a.logChange(id, old, o, source, "")
	a.rearm()
	if a.onChange != nil {
		a.onChange([]Change{ch})
	}
	return nil
}

// Merge applies changes made elsewhere (another member of the fleet):
// each one newer than the backend's last write replaces it. It writes the
// state file once and returns how many it applied.
func (a *Admin) Merge(changes []Change, source string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	n := 0
	for _, ch := range changes {
		ch.ID = NormalizeID(ch.ID)
		if !backendID.MatchString(ch.ID) || ch.Stamp.IsZero() {
			continue
		}
		if ch.Override != nil {
			if ch.Override.check() != nil {
				continue
			}
			c := *ch.Override
			c.Stamp = ch.Stamp
			ch.Override = &c
		}
		if prev, ok := a.last[ch.ID]; ok && !prev.Stamp.Before(ch.Stamp) {
			continue
		}
		a.clock.Observe(ch.Stamp, time.Hour)
		by := ch.Source
		if ch.Override != nil && ch.Override.Source != "" {
			by = ch.Override.Source
		}
		if by == "" {
			by = source
		}
		a.apply(ch, now, by, ch.Stamp.Node)
		n++
	}
	if n > 0 {
		if err := a.save(); err != nil {
			a.log.Error("cannot write admin state file", "err", err)
		}
		a.rearm()
	}
	return n
}

// Changes returns every backend's last write, in effect or not: the full
// state a member sends to one that joins.
func (a *Admin) Changes() []Change {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Change, 0, len(a.last))
	for _, ch := range a.last {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NextExpiry is the earliest expiry of an override in effect (zero if
// none): the server clears it then, to the millisecond, so that every
// member of a fleet does so at the same instant.
func (a *Admin) NextExpiry() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next
}

// rearm recomputes next. a.mu is held.
func (a *Admin) rearm() {
	a.next = time.Time{}
	for _, s := range a.slots {
		if o := s.Load(); o != nil && !o.Expires.IsZero() && (a.next.IsZero() || o.Expires.Before(a.next)) {
			a.next = o.Expires
		}
	}
}

// SaveError is the error of an override that could not be persisted, and
// is therefore not in effect: a fault of the server's state directory
// (missing, read-only, full), not of the request.
type SaveError struct {
	File string
	Err  error
}

func (e *SaveError) Error() string {
	return fmt.Sprintf("override not applied: cannot write the state file %s: %v", e.File, e.Err)
}

func (e *SaveError) Unwrap() error { return e.Err }

func (o *Override) check() error {
	switch o.State {
	case AdminUp, AdminDown, AdminDrain:
	default:
		return fmt.Errorf("bad admin state %q: want up, down or drain", o.State)
	}
	if len(o.Reason) > 256 {
		return fmt.Errorf("reason longer than 256 characters")
	}
	return nil
}

// apply makes ch the backend's last write and puts its override in
// effect if it is active at now (an expired one is kept as the last write
// only). a.mu is held.
func (a *Admin) apply(ch Change, now time.Time, source, via string) {
	a.last[ch.ID] = ch
	o := ch.Override
	if !o.active(now) {
		o = nil
	}
	a.swap(ch.ID, o, source, via)
}

// swap installs o and logs the change. a.mu is held.
func (a *Admin) swap(id string, o *Override, source, via string) {
	a.logChange(id, a.slot(id).Swap(o), o, source, via)
}

// logChange logs the change of a backend's override from old to o, and
// records it in the audit trail; via is the fleet member it was made on,
// "" for here.
func (a *Admin) logChange(id string, old, o *Override, source, via string) {
	switch {
	case o == nil && old == nil:
	case o == nil:
		a.log.Info("admin override cleared", "backend", id, "was", old.State, "source", source)
		action := audit.OverrideCleared
		if source == "expiry" {
			action = audit.OverrideExpired
		}
		a.record(action, id, old, source, via)
	case old != nil && old.State == o.State && old.Reason == o.Reason && old.Expires.Equal(o.Expires):
	default:
		args := []any{"backend", id, "state", o.State, "reason", o.Reason, "source", source}
		if !o.Expires.IsZero() {
			args = append(args, "expires", o.Expires.Format(time.RFC3339))
		}
		a.log.Info("admin override set", args...)
		a.record(audit.OverrideSet, id, o, source, via)
	}
}

// record adds an override's change to the audit trail: o is the override
// set, or for a clearing the one that was in effect. a.mu is held.
func (a *Admin) record(action, id string, o *Override, source, via string) {
	if a.trail == nil {
		return
	}
	by, from := audit.SplitSource(source)
	d := map[string]string{"state": o.State}
	if action != audit.OverrideSet {
		d = map[string]string{"was": o.State}
	}
	if o.Reason != "" {
		d["reason"] = o.Reason
	}
	if !o.Expires.IsZero() {
		d["expires"] = o.Expires.UTC().Format(time.RFC3339)
	}
	a.trail.Record(audit.Entry{Action: action, Backend: id, By: by, From: from, Via: via, Detail: d})
}

// stateFile is the admin state file's layout: the overrides in effect,
// and the stamps of the last writes of backends that have none (cleared
// or expired), so that an older write arriving from the fleet loses.
type stateFile struct {
	Backends map[string]Override  `toml:"backends"`
	Cleared  map[string]hlc.Stamp `toml:"cleared,omitempty"`
}

// ParseStateFile decodes an admin state file.
func ParseStateFile(name string, src []byte) (map[string]Override, error) {
	f, err := parseStateFile(name, src)
	if err != nil {
		return nil, err
	}
	return f.Backends, nil
}

func parseStateFile(name string, src []byte) (stateFile, error) {
	var f stateFile
	md, err := toml.Decode(string(src), &f)
	if err != nil {
		return f, fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return f, fmt.Errorf("%s: unknown key %q", name, und[0].String())
	}
	out := make(map[string]Override, len(f.Backends))
	for id, o := range f.Backends {
		if !backendID.MatchString(NormalizeID(id)) {
			return f, fmt.Errorf("%s: bad backend id %q: want \"service/backend\"", name, id)
		}
		if err := o.check(); err != nil {
			return f, fmt.Errorf("%s: backends.%q: %w", name, id, err)
		}
		out[NormalizeID(id)] = o
	}
	cleared := make(map[string]hlc.Stamp, len(f.Cleared))
	for id, st := range f.Cleared {
		if !backendID.MatchString(NormalizeID(id)) {
			return f, fmt.Errorf("%s: bad backend id %q in cleared: want \"service/backend\"", name, id)
		}
		cleared[NormalizeID(id)] = st
	}
	f.Backends, f.Cleared = out, cleared
	return f, nil
}

// LoadFile reads the state file and makes its overrides the ones in
// effect. A missing file means no overrides; a bad one changes nothing.
// An entry that differs from the backend's last write is a hand edit
// (stamped now, here) unless it carries a newer stamp (a file copied from
// another member); an override in effect that the file no longer has was
// deleted by hand.
func (a *Admin) LoadFile() error {
	if a.file == "" {
		return nil
	}
	src, err := safefile.Read(a.file, a.max)
	if os.IsNotExist(err) {
		src, err = nil, nil
	}
	if pe := (*fs.PathError)(nil); err != nil && !errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", a.file, err)
	}
	if err != nil {
		return err
	}
	f, err := parseStateFile(a.file, src)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	var made []Change
	write := func(ch Change) {
		ch.Source = "state file"
		a.apply(ch, now, "state file", "")
		made = append(made, ch)
	}
	for id, o := range f.Backends {
		prev, had := a.last[id]
		if had && same(prev.Override, &o) {
			continue
		}
		c := o
		if c.Source == "" {
			c.Source = "state file"
		}
		if c.Stamp.IsZero() || (had && !prev.Stamp.Before(c.Stamp)) {
			c.Stamp = a.clock.Now()
		} else {
			a.clock.Observe(c.Stamp, time.Hour)
		}
		write(Change{ID: id, Override: &c, Stamp: c.Stamp})
	}
	for id, st := range f.Cleared {
		if _, set := f.Backends[id]; set {
			continue
		}
		if prev, had := a.last[id]; !had || prev.Stamp.Before(st) {
			a.clock.Observe(st, time.Hour)
			write(Change{ID: id, Stamp: st})
		}
	}
	for id, prev := range a.last {
		_, set := f.Backends[id]
		_, cleared := f.Cleared[id]
		if !set && !cleared && prev.Override.active(now) {
			write(Change{ID: id, Stamp: a.clock.Now()})
		}
	}
	a.rearm()
	if len(made) > 0 && a.onChange != nil {
		a.onChange(made)
	}
	return nil
}

// save writes the overrides to the state file, atomically, and forgets
// the writes of backends without an override that are older than
// clearedKeep. a.mu is held.
func (a *Admin) save() error {
	if a.file == "" {
		return nil
	}
	now := time.Now()
	f := stateFile{Backends: map[string]Override{}, Cleared: map[string]hlc.Stamp{}}
	for id, ch := range a.last {
		switch {
		case ch.Override.active(now):
			f.Backends[id] = *ch.Override
		case now.Sub(ch.Stamp.Time()) > clearedKeep:
			delete(a.last, id)
		default:
			f.Cleared[id] = ch.Stamp
		}
	}
	var buf bytes.Buffer
	buf.WriteString("# gslb admin overrides: written by gslb, may be edited by hand.\n")
	buf.WriteString("# [cleared] holds the times of the last changes of backends without one.\n")
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return err
	}
	if err := safefile.Write(a.file, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing admin state: %w", err)
	}
	return nil
}

// Expire clears the overrides whose time has come and returns how many.
func (a *Admin) Expire(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next.IsZero() || a.next.After(now) {
		return 0
	}
	n := 0
	for id, s := range a.slots {
		if o := s.Load(); o != nil && !o.Expires.IsZero() && !o.Expires.After(now) {
			a.swap(id, nil, "expiry", "")
			n++
		}
	}
	if n > 0 {
		if err := a.save(); err != nil {
			a.log.Error("cannot write admin state file", "err", err)
		}
		a.rearm()
	}
	return n
}
