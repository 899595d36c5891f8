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

	"github.com/gslb/gslb/internal/safefile"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"
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
}

// NewAdmin returns an override store persisted in file ("" for none): the
// server passes admin-overrides.toml in its state directory (docs/state.md),
// or the deprecated [admin] state_file. LoadFile reads at most max bytes
// of it (0: DefaultMaxStateFile); NewAdmin does not read it.
func NewAdmin(file string, max int64, log *slog.Logger) *Admin {
	if max <= 0 {
		max = DefaultMaxStateFile
	}
	return &Admin{log: log, file: file, max: max, slots: map[string]*Slot{}}
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
	old := a.slot(id).Swap(o)
	if err := a.save(); err != nil {
		// Not persisted: not in effect either, so that a restart cannot
		// surprise the operator.
		a.slot(id).Store(old)
		a.log.Error("admin override not applied: the state file cannot be written", "backend", id, "err", err)
		return &SaveError{File: a.file, Err: err}
	}
	a.logChange(id, old, o, source)
	return nil
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

// swap installs o and logs the change. a.mu is held.
func (a *Admin) swap(id string, o *Override, source string) {
	a.logChange(id, a.slot(id).Swap(o), o, source)
}

// logChange logs the change of a backend's override from old to o.
func (a *Admin) logChange(id string, old, o *Override, source string) {
	switch {
	case o == nil && old == nil:
	case o == nil:
		a.log.Info("admin override cleared", "backend", id, "was", old.State, "source", source)
	case old != nil && old.State == o.State && old.Reason == o.Reason && old.Expires.Equal(o.Expires):
	default:
		args := []any{"backend", id, "state", o.State, "reason", o.Reason, "source", source}
		if !o.Expires.IsZero() {
			args = append(args, "expires", o.Expires.Format(time.RFC3339))
		}
		a.log.Info("admin override set", args...)
	}
}

// stateFile is the admin state file's layout.
type stateFile struct {
	Backends map[string]Override `toml:"backends"`
}

// ParseStateFile decodes an admin state file.
func ParseStateFile(name string, src []byte) (map[string]Override, error) {
	var f stateFile
	md, err := toml.Decode(string(src), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key %q", name, und[0].String())
	}
	out := make(map[string]Override, len(f.Backends))
	for id, o := range f.Backends {
		if !backendID.MatchString(NormalizeID(id)) {
			return nil, fmt.Errorf("%s: bad backend id %q: want \"service/backend\"", name, id)
		}
		if err := o.check(); err != nil {
			return nil, fmt.Errorf("%s: backends.%q: %w", name, id, err)
		}
		out[NormalizeID(id)] = o
	}
	return out, nil
}

// LoadFile reads the state file and makes its overrides the ones in
// effect. A missing file means no overrides; a bad one changes nothing.
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
	list, err := ParseStateFile(a.file, src)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	for id, s := range a.slots {
		if _, keep := list[id]; !keep && s.Load() != nil {
			a.swap(id, nil, "state file")
		}
	}
	for id, o := range list {
		if !o.Expires.IsZero() && !o.Expires.After(now) {
			continue
		}
		c := o
		if c.Source == "" {
			c.Source = "state file"
		}
		a.swap(id, &c, "state file")
	}
	return nil
}

// save writes the overrides to the state file, atomically. a.mu is held.
func (a *Admin) save() error {
	if a.file == "" {
		return nil
	}
	f := stateFile{Backends: map[string]Override{}}
	ids := make([]string, 0, len(a.slots))
	for id, s := range a.slots {
		if o := s.Load(); o != nil {
			f.Backends[id] = *o
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var buf bytes.Buffer
	buf.WriteString("# gslb admin overrides: written by gslb, may be edited by hand.\n")
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
	n := 0
	for id, s := range a.slots {
		if o := s.Load(); o != nil && !o.Expires.IsZero() && !o.Expires.After(now) {
			a.swap(id, nil, "expiry")
			n++
		}
	}
	if n > 0 {
		if err := a.save(); err != nil {
			a.log.Error("cannot write admin state file", "err", err)
		}
	}
	return n
}
