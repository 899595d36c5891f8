package web

import (
	"sync"
	"time"
)

// answerHistory is the last hour of each backend's answers, in one-minute
// buckets, for the status page's chart of where a service's answers went.
//
// It is fed from the samples Run takes every answerEvery (the counters of
// zones.AnswerCounts, which the query path adds to with atomics): nothing
// on the query path takes its lock. A bucket closes at the first sample of
// the next minute and holds the answers between the counters at the start
// of its minute and those at its end, summed over the backend's pools.
//
// Memory is bounded: one ring of historyMinutes counts per backend of the
// snapshot in use at the last close; a backend that a reload removed is
// dropped at the next close. A backend that a reload added counts from its
// first close on (as in recentAnswers, the counts a re-added backend kept
// from before do not return), except in the first minute after start,
// whose baseline stands for counters that are all zero.
type answerHistory struct {
	mu     sync.Mutex
	minute time.Time  // the start of the open minute
	mark   *answerVec // the counters at its start; nil: start, every counter zero
	closed int        // minutes closed since start
	rings  map[historyKey]*answerRing
}

// historyKey names a backend of a service, across its pools: the service's
// name as zones.Service.Name has it, and the backend's.
type historyKey struct{ service, backend string }

// historyMinutes is how many one-minute buckets a backend keeps: an hour.
const historyMinutes = 60

// answerRing is one backend's closed minutes: minute c (counted from
// start) is at n[c%historyMinutes] when c >= from and c was closed in the
// last historyMinutes.
type answerRing struct {
	n    [historyMinutes]uint32
	from int // the first minute this ring holds
	gen  int // the close that last wrote it, plus one
}

// start forgets every bucket and opens the minute of at, where every
// counter is zero.
func (h *answerHistory) start(at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.minute = at.Truncate(time.Minute)
	h.mark = nil
	h.closed = 0
	h.rings = map[historyKey]*answerRing{}
}

// observe takes a sample of the counters at at. A sample in a later minute
// than the open one closes it. After a pause of Run, it closes the minutes
// between too: the answers of the pause land in the last of them, the
// others stay empty. counts must not change afterwards.
func (h *answerHistory) observe(at time.Time, counts *answerVec) {
	m := at.Truncate(time.Minute)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !m.After(h.minute) {
		return
	}
	skip := int(m.Sub(h.minute) / time.Minute) // minutes to close, >= 1
	c := h.closed
	gen := c + 1
	for i, k := range counts.lay.keys {
		n := counts.n[i]
		hk := historyKey{k.service, k.backend}
		r := h.rings[hk]
		if r == nil {
			r = &answerRing{from: c}
			h.rings[hk] = r
		}
		if r.gen != gen {
			r.gen = gen
			for i := range min(skip, historyMinutes) {
				r.n[(c+i)%historyMinutes] = 0
			}
		}
		var base uint64
		if h.mark != nil {
			b, ok := h.mark.get(k)
			if !ok {
				continue // new since the last close: counts from now on
			}
			base = b
		}
		if n > base {
			i := (c + skip - 1) % historyMinutes
			r.n[i] = uint32(min(uint64(r.n[i])+n-base, 1<<32-1))
		}
	}
	for hk, r := range h.rings {
		if r.gen != gen {
			delete(h.rings, hk) // not in the snapshot in use
		}
	}
	h.closed += skip
	h.minute = m
	h.mark = counts
}

// series returns one backend's answers of the last hour, oldest first, one
// count per minute: historyMinutes-1 closed minutes, then the open minute
// so far, from live (the counters of its pools read now; nil without
// counters).
func (h *answerHistory) series(service, backend string, live map[answerKey]uint64) [historyMinutes]uint32 {
	var out [historyMinutes]uint32
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rings[historyKey{service, backend}]; r != nil {
		for j := range historyMinutes - 1 {
			c := h.closed - (historyMinutes - 1) + j
			if c >= r.from && c >= 0 && c < h.closed {
				out[j] = r.n[c%historyMinutes]
			}
		}
	}
	var open uint64
	for k, n := range live {
		if k.service != service || k.backend != backend {
			continue
		}
		base, ok := uint64(0), true
		if h.mark != nil {
			base, ok = h.mark.get(k)
		}
		if ok && n > base {
			open += n - base
		}
	}
	out[historyMinutes-1] = uint32(min(open, 1<<32-1))
	return out
}

// minutes is how many of the last historyMinutes minutes, the open one
// included, the history covers: fewer in the first hour after start.
func (h *answerHistory) minutes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return min(h.closed+1, historyMinutes)
}
