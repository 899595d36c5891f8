package health

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Report is a backend's load as an agent or autoscaler pushed it, valid
// until Expires: after that it is ignored, as if never sent.
type Report struct {
	// Utilization is the backend's own measure of its load as a share:
	// 0 idle, 1 full, above 1 overloaded (NaN: not reported).
	Utilization float64
	// Connections is the number of open connections (NaN: not reported).
	Connections float64
	// RequestRate is requests per second (NaN: not reported).
	RequestRate float64
	// Capacity is what Connections or RequestRate are at full load
	// (0: none). Dividing either by it gives a utilisation.
	Capacity float64
	// At is when the report was received; Expires when it stops counting.
	At, Expires time.Time
	// Source says who sent it: a remote address or a token's name.
	Source string
}

// Load is the report's utilisation, false when it gives none. In order of
// precedence: Utilization if reported; else Connections/Capacity; else
// RequestRate/Capacity. A ratio needs a Capacity above 0.
func (r *Report) Load() (float64, bool) {
	if !math.IsNaN(r.Utilization) {
		return r.Utilization, true
	}
	if r.Capacity > 0 {
		if !math.IsNaN(r.Connections) {
			return r.Connections / r.Capacity, true
		}
		if !math.IsNaN(r.RequestRate) {
			return r.RequestRate / r.Capacity, true
		}
	}
	return 0, false
}

// expired tells whether the report no longer counts at now.
func (r *Report) expired(now time.Time) bool { return !now.Before(r.Expires) }

// MaxReports is the server's bound on the reports it keeps: far more
// backends than a configuration has, far fewer than would hurt memory.
const MaxReports = 100000

// ErrReportsFull is Set's error for a new backend when the store holds as
// many unexpired reports as its bound.
var ErrReportsFull = errors.New("too many load reports")

// Reports keeps the latest load report of each backend, by backend ID
// (zones.Backend.ID, e.g. "www.example.test/one"). It is safe for
// concurrent use; Get neither blocks on other readers nor allocates.
type Reports struct {
	limit     int
	replicate func(ReportChange)

	mu    sync.RWMutex // writers of the map; readers of a slot hold it shared
	slots map[string]*atomic.Pointer[Report]
}

// NewReports returns an empty store that holds at most limit reports
// (MaxReports if limit is 0 or less).
func NewReports(limit int) *Reports {
	if limit <= 0 {
		limit = MaxReports
	}
	return &Reports{limit: limit, slots: map[string]*atomic.Pointer[Report]{}}
}

// Set stores r as the report of backend id, replacing the one before. For
// a backend without a report in a full store it first drops the reports
// expired at r.At; if none was, it returns ErrReportsFull.
func (s *Reports) Set(id string, r Report) error {
	if err := s.set(id, r); err != nil {
		return err
	}
	if s.replicate != nil {
		s.replicate(ReportChange{ID: id, Report: &r, At: r.At})
	}
	return nil
}

func (s *Reports) set(id string, r Report) error {
	s.mu.RLock()
	slot := s.slots[id]
	if slot != nil {
		slot.Store(&r)
	}
	s.mu.RUnlock()
	if slot != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slot = s.slots[id]; slot == nil {
		if len(s.slots) >= s.limit {
			s.prune(r.At)
		}
		if len(s.slots) >= s.limit {
			return fmt.Errorf("load report for %s: %w (at most %d)", id, ErrReportsFull, s.limit)
		}
		slot = new(atomic.Pointer[Report])
		s.slots[id] = slot
	}
	slot.Store(&r)
	return nil
}

// Get returns the report of backend id, false when there is none or it
// has expired at now.
func (s *Reports) Get(id string, now time.Time) (Report, bool) {
	s.mu.RLock()
	slot := s.slots[id]
	s.mu.RUnlock()
	if slot == nil {
		return Report{}, false
	}
	r := slot.Load()
	if r == nil || r.expired(now) {
		return Report{}, false
	}
	return *r, true
}

// Delete removes the report of backend id, and tells whether there was
// one (expired or not).
func (s *Reports) Delete(id string) bool {
	s.mu.Lock()
	_, ok := s.slots[id]
	delete(s.slots, id)
	s.mu.Unlock()
	if ok && s.replicate != nil {
		s.replicate(ReportChange{ID: id, At: time.Now()})
	}
	return ok
}

// Prune removes the reports expired at now and returns how many.
func (s *Reports) Prune(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prune(now)
}

// prune is Prune with s.mu held.
func (s *Reports) prune(now time.Time) int {
	n := 0
	for id, slot := range s.slots {
		if slot.Load().expired(now) {
			delete(s.slots, id)
			n++
		}
	}
	return n
}

// Len is the number of reports kept, expired ones not yet pruned included.
func (s *Reports) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.slots)
}

// ReportChange is a report set or removed, as the members of a fleet
// share it: Report nil is a removal, made at At.
type ReportChange struct {
	ID     string
	Report *Report
	At     time.Time
}

// Replicate has f called, outside the store's lock, with every report
// set or removed through Set or Delete (not Merge): a fleet sends them to
// its other members. Call it before the store is used.
func (s *Reports) Replicate(f func(ReportChange)) { s.replicate = f }

// Merge applies a change from another member when it is newer than what
// the store has of the backend (by the time each was received: a report
// is a measurement, and the newest one counts). It reports whether the
// change was applied.
func (s *Reports) Merge(c ReportChange) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.slots[c.ID]
	if slot != nil {
		if cur := slot.Load(); cur != nil && cur.At.After(c.At) {
			return false, nil
		}
	}
	if c.Report == nil {
		delete(s.slots, c.ID)
		return slot != nil, nil
	}
	if slot == nil {
		if len(s.slots) >= s.limit {
			s.prune(c.At)
		}
		if len(s.slots) >= s.limit {
			return false, fmt.Errorf("load report for %s: %w (at most %d)", c.ID, ErrReportsFull, s.limit)
		}
		slot = new(atomic.Pointer[Report])
		s.slots[c.ID] = slot
	}
	r := *c.Report
	slot.Store(&r)
	return true, nil
}
