package health

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// historyLen is how many recent results a State keeps for status pages.
const historyLen = 60

// errorWindow is how many recent results the error rate covers.
const errorWindow = 20

// rttWeight is the weight of a new sample in the RTT moving average.
const rttWeight = 0.3

// State is the live health of one probe target. Probes write it from one
// goroutine; the query path reads it through atomics, without locks or
// allocations.
type State struct {
	spec Spec

	up        atomic.Bool
	since     atomic.Int64 // unix nanoseconds of the last transition
	probed    atomic.Bool  // a result has come in
	succ      atomic.Int32 // consecutive successes
	fail      atomic.Int32 // consecutive failures
	rtt       atomic.Int64 // moving average of probe durations, ns
	errRate   atomic.Uint64
	load      atomic.Uint64 // float64 bits; NaN when none reported
	lastProbe atomic.Int64
	lastErr   atomic.Pointer[string]
	verdict   atomic.Pointer[Verdict] // the fleet's aggregate at the last probe; nil alone

	// Written by the probe goroutine only; the window is read by it alone.
	window    [errorWindow]bool
	windowN   int
	windowPos int

	mu   sync.Mutex // guards hist, for status pages: never on the query path
	hist [historyLen]Sample
	n    int
}

// Sample is one probe result as kept in a State's history.
type Sample struct {
	At       time.Time
	OK       bool
	Duration time.Duration
	Reason   string
}

func newState(spec Spec, now time.Time) *State {
	s := &State{spec: spec}
	s.up.Store(spec.Start == StartUp)
	s.since.Store(now.UnixNano())
	s.load.Store(math.Float64bits(math.NaN()))
	return s
}

// Spec returns what the state is about.
func (s *State) Spec() Spec { return s.spec }

// Up reports whether the target is healthy.
func (s *State) Up() bool { return s.up.Load() }

// Since returns when the target last changed between up and down.
func (s *State) Since() time.Time { return time.Unix(0, s.since.Load()) }

// Probed reports whether at least one result has come in.
func (s *State) Probed() bool { return s.probed.Load() }

// Pending reports whether the target waits for its first result to be
// answered at all (start = "pending"): it is in no answer, not even one
// that serves every backend because all are down.
func (s *State) Pending() bool { return s.spec.Start == StartPending && !s.probed.Load() }

// Inherit takes over the health of prev, the state of the same backend
// under its previous check, so that a reload that changes a check (its
// interval, its path) neither empties the answers while the new check
// waits for its first result nor lets a down backend back in. Call it
// before the state's probe starts; it does nothing once a result is in.
func (s *State) Inherit(prev *State) {
	if prev == nil || s.probed.Load() || !prev.probed.Load() {
		return
	}
	s.up.Store(prev.up.Load())
	s.since.Store(prev.since.Load())
	s.probed.Store(true)
}

// RTT returns the moving average of probe durations.
func (s *State) RTT() time.Duration { return time.Duration(s.rtt.Load()) }

// medianWindow is how many recent successful probes MedianRTT looks at:
// 3 ignores one slow probe yet follows a real change after two.
const medianWindow = 3

// MedianRTT returns the median duration of the last successful probes (0
// without any): one slow probe does not move it, which suits decisions
// such as adaptive weights better than the moving average. It takes the
// history lock; the query path does not call it.
func (s *State) MedianRTT() time.Duration {
	s.mu.Lock()
	var d [medianWindow]time.Duration
	n := 0
	for i := s.n - 1; i >= 0 && i >= s.n-historyLen && n < medianWindow; i-- {
		if h := s.hist[i%historyLen]; h.OK {
			d[n] = h.Duration
			n++
		}
	}
	s.mu.Unlock()
	if n == 0 {
		return 0
	}
	sort.Slice(d[:n], func(i, j int) bool { return d[i] < d[j] })
	return d[n/2]
}

// ErrorRate returns the share of failed probes among the recent ones.
func (s *State) ErrorRate() float64 { return math.Float64frombits(s.errRate.Load()) }

// Load returns the load the backend last reported, if it reports one.
func (s *State) Load() (float64, bool) {
	l := math.Float64frombits(s.load.Load())
	return l, !math.IsNaN(l)
}

// Consecutive returns the current run of successes and failures (one of
// them is zero).
func (s *State) Consecutive() (successes, failures int) {
	return int(s.succ.Load()), int(s.fail.Load())
}

// LastError returns the reason of the last failed probe, "" if none.
func (s *State) LastError() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// LastProbe returns when the last result came in.
func (s *State) LastProbe() time.Time {
	if n := s.lastProbe.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// History returns the recent results, oldest first.
func (s *State) History() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(s.n, historyLen)
	out := make([]Sample, 0, n)
	for i := s.n - n; i < s.n; i++ {
		out = append(out, s.hist[i%historyLen])
	}
	return out
}

// Verdict is the fleet's aggregate of this check at its last probe, and
// false when the instance decides alone.
func (s *State) Verdict() (Verdict, bool) {
	if v := s.verdict.Load(); v != nil {
		return *v, true
	}
	return Verdict{}, false
}

// record applies one result with rise/fall hysteresis. It returns whether
// the state changed between up and down, or from pending to either. Only the probe goroutine calls it.
//
// verdict is what rise and fall count: r.OK alone, or the fleet's
// aggregate; the signals (RTT, load, errors) are this instance's own.
func (s *State) record(r Result, verdict bool, now time.Time) (changed bool) {
	s.lastProbe.Store(now.UnixNano())
	if verdict {
		s.succ.Add(1)
		s.fail.Store(0)
	} else {
		s.fail.Add(1)
		s.succ.Store(0)
	}
	if !r.OK {
		reason := r.Reason
		s.lastErr.Store(&reason)
	}
	// RTT: only successful probes say how fast the backend answers.
	if r.OK {
		old := s.rtt.Load()
		if old == 0 {
			s.rtt.Store(int64(r.Duration))
		} else {
			s.rtt.Store(int64(float64(old)*(1-rttWeight) + float64(r.Duration)*rttWeight))
		}
	}
	if r.HasLoad {
		s.load.Store(math.Float64bits(r.Load))
	} else if r.OK {
		s.load.Store(math.Float64bits(math.NaN()))
	}
	s.window[s.windowPos] = !r.OK
	s.windowPos = (s.windowPos + 1) % errorWindow
	s.windowN = min(s.windowN+1, errorWindow)
	bad := 0
	for i := 0; i < s.windowN; i++ {
		if s.window[i] {
			bad++
		}
	}
	s.errRate.Store(math.Float64bits(float64(bad) / float64(s.windowN)))

	s.mu.Lock()
	s.hist[s.n%historyLen] = Sample{At: now, OK: r.OK, Duration: r.Duration, Reason: r.Reason}
	s.n++
	s.mu.Unlock()

	first := !s.probed.Load()
	s.probed.Store(true)
	up := s.up.Load()
	switch {
	case first && s.spec.Start == StartPending:
		// The first result decides at once: up if it passed; if it
		// failed the target was never answered and now is down. Either
		// is a change, from not known to known.
		s.since.Store(now.UnixNano())
		s.up.Store(verdict)
		return true
	case !up && verdict && int(s.succ.Load()) >= s.spec.Rise:
		s.up.Store(true)
	case up && !verdict && int(s.fail.Load()) >= s.spec.Fall:
		s.up.Store(false)
	default:
		return false
	}
	s.since.Store(now.UnixNano())
	return true
}

// FixedState returns a state that stays up or down, as if probed, for
// whatever kind of check: the injected health of gslb test.
func FixedState(spec Spec, up bool) *State {
	s := newState(spec, time.Now())
	s.up.Store(up)
	s.probed.Store(true)
	return s
}

// StartState returns a state that stays in the spec's start state:
// pending, up or down. It is the state of backends with no probe (kind
// none: up, and counts as probed), and stands in for live health where no
// probes run (gslb explain without a server).
func StartState(spec Spec) *State {
	s := newState(spec, time.Now())
	if spec.Kind == KindNone || spec.Kind == "" {
		s.up.Store(true)
		s.probed.Store(true)
	}
	return s
}
