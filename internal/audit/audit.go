// Package audit keeps the audit trail of what operators and agents change
// at run time: admin overrides set, cleared or expired (API, gslb ctl, the
// state file, the fleet), backends registered, deregistered, drained or
// out of lease, and reloads. Each record says who, what, when and from
// where, as one JSON object per line in a file of the state directory
// (rotated at a size, one old file kept) and in a ring of the latest
// records that the API serves.
//
// Nothing on the query path records: the trail is written by API
// handlers and background loops, under its own lock.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Actions a record can have.
const (
	OverrideSet     = "override_set"     // an admin override put in effect (or changed)
	OverrideCleared = "override_cleared" // an admin override taken away
	OverrideExpired = "override_expired" // an admin override past its expiry
	Registered      = "registered"       // a new registration
	Reregistered    = "reregistered"     // a renewal that changed what is answered
	Deregistered    = "deregistered"     // a registration removed by DELETE
	Retiring        = "retiring"         // DELETE with drain: out of answers, removed when caches expire
	LeaseExpired    = "lease_expired"    // a registration not renewed in time
	Reload          = "reload"           // the configuration loaded again
)

// Entry is one change.
type Entry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	// Backend is the backend's ID, "service/backend" ("" for a reload).
	Backend string `json:"backend,omitempty"`
	// By is who made the change: "admin token", "registration token
	// tokens.txt:3", "state file", "expiry", "lease", "SIGHUP", ….
	By string `json:"by"`
	// From is where the request came from (the remote address of an API
	// request), when there is one.
	From string `json:"from,omitempty"`
	// Via names the fleet member the change came from, for a change made
	// on another member and received by gossip ("" when made here).
	Via string `json:"via,omitempty"`
	// Detail is what changed: state, reason, expires, address, pool,
	// weight, lease, result, ….
	Detail map[string]string `json:"detail,omitempty"`
}

// SplitSource splits a change's source as the API writes it, "WHO from
// ADDRESS", into who and where.
func SplitSource(source string) (by, from string) {
	if i := strings.LastIndex(source, " from "); i >= 0 {
		return source[:i], source[i+len(" from "):]
	}
	return source, ""
}

// DefaultMaxSize is the size at which the file is rotated.
const DefaultMaxSize = 16 << 20

// ringSize is how many records Recent can give.
const ringSize = 1000

// Trail is the audit trail. A nil *Trail records nothing. It is safe for
// concurrent use.
type Trail struct {
	log  *slog.Logger
	file string // "" keeps the ring only
	max  int64
	now  func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
	ring []Entry // the latest records, oldest first once full
	next int     // where the next record goes in ring once full

	records *prometheus.CounterVec
	errs    prometheus.Counter
}

// Open opens the trail, appending to file ("" for none: the records are
// kept in memory only) and rotating it to file.1 when it passes max bytes
// (0 for DefaultMaxSize).
func Open(file string, max int64, log *slog.Logger) (*Trail, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	t := &Trail{log: log, file: file, max: max, now: time.Now,
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gslb_audit_records_total",
			Help: "Changes recorded in the audit trail, by action.",
		}, []string{"action"}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gslb_audit_write_errors_total",
			Help: "Audit records that could not be written to the audit file (they stay in the API's ring and the log).",
		}),
	}
	if file != "" {
		if err := t.openFile(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Trail) openFile() error {
	f, err := os.OpenFile(t.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit file: %w", err)
	}
	t.f, t.size = f, fi.Size()
	return nil
}

// File is the audit file ("" for none).
func (t *Trail) File() string {
	if t == nil {
		return ""
	}
	return t.file
}

// Register adds the trail's metrics to reg.
func (t *Trail) Register(reg prometheus.Registerer) {
	reg.MustRegister(t.records, t.errs)
	for _, a := range []string{OverrideSet, OverrideCleared, OverrideExpired, Registered, Reregistered, Deregistered, Retiring, LeaseExpired, Reload} {
		t.records.WithLabelValues(a)
	}
}

// Record adds e to the trail, stamped now unless it has a time. A record
// that cannot be written to the file is counted and logged, and kept in
// the ring.
func (t *Trail) Record(e Entry) {
	if t == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = t.now()
	}
	e.Time = e.Time.UTC()
	line, err := json.Marshal(e)
	if err != nil { // only strings and a time: cannot happen
		return
	}
	line = append(line, '\n')
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.ring) < ringSize {
		t.ring = append(t.ring, e)
	} else {
		t.ring[t.next] = e
		t.next = (t.next + 1) % ringSize
	}
	t.records.WithLabelValues(e.Action).Inc()
	if t.file == "" {
		return
	}
	if err := t.write(line); err != nil {
		t.errs.Inc()
		t.log.Error("cannot write the audit file", "file", t.file, "err", err)
	}
}

// write appends line to the file, rotating it first when it would pass
// max. t.mu is held.
func (t *Trail) write(line []byte) error {
	if t.f != nil && t.size > 0 && t.size+int64(len(line)) > t.max {
		t.f.Close()
		t.f = nil
		if err := os.Rename(t.file, t.file+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotating: %w", err)
		}
	}
	if t.f == nil {
		if err := t.openFile(); err != nil {
			return err
		}
	}
	n, err := t.f.Write(line)
	t.size += int64(n)
	return err
}

// Recent returns the latest records, oldest first: at most n (n <= 0 for
// all the ring holds), those for backend only when it is not "".
func (t *Trail) Recent(n int, backend string) []Entry {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	all := make([]Entry, 0, len(t.ring))
	all = append(all, t.ring[t.next:]...)
	all = append(all, t.ring[:t.next]...)
	t.mu.Unlock()
	if backend != "" {
		kept := all[:0]
		for _, e := range all {
			if e.Backend == backend {
				kept = append(kept, e)
			}
		}
		all = kept
	}
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Close closes the file.
func (t *Trail) Close() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	t.file = ""
	return err
}
