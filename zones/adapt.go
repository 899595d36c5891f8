package zones

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Signals are the live measurements of a backend the adaptive selection
// uses; *health.State provides them.
type Signals interface {
	// MedianRTT is the median of the recent probe durations: robust to
	// one slow probe.
	MedianRTT() time.Duration
	ErrorRate() float64
	Load() (float64, bool)
}

// AdaptParams tune the adaptive selection. README.md gives the formula and
// why it does not oscillate.
type AdaptParams struct {
	// RTTFloor is added to every RTT so that sub-millisecond differences
	// do not move traffic.
	RTTFloor time.Duration
	// Gain is the share of the gap to the target closed per interval.
	Gain float64
	// MaxStep caps the change of a multiplier per interval.
	MaxStep float64
	// Deadband ignores gaps smaller than this (hysteresis).
	Deadband float64
}

// DefaultAdaptParams are the parameters gslb runs with.
var DefaultAdaptParams = AdaptParams{RTTFloor: 2 * time.Millisecond, Gain: 0.5, MaxStep: 0.4, Deadband: 0.02}

// Adaptive holds the weight multipliers of adaptive services' backends,
// by backend ID so that they survive reloads, and moves them once per
// interval toward targets computed from live signals. The query path only
// reads the multipliers (atomics).
type Adaptive struct {
	Params AdaptParams

	mu    sync.Mutex
	slots map[string]*atomic.Uint64
}

// NewAdaptive returns a store with the default parameters.
func NewAdaptive() *Adaptive {
	return &Adaptive{Params: DefaultAdaptParams, slots: map[string]*atomic.Uint64{}}
}

func (a *Adaptive) slot(id string) *atomic.Uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.slots[id]
	if !ok {
		s = new(atomic.Uint64)
		s.Store(math.Float64bits(1))
		a.slots[id] = s
	}
	return s
}

// Step moves the multipliers of every adaptive service of the snapshot
// one interval.
func (a *Adaptive) Step(s *Snapshot) {
	for _, svc := range s.Services() {
		if svc.Members != MembersAdaptive {
			continue
		}
		for _, p := range svc.Pools {
			for _, g := range []*group{&p.v4, &p.v6} {
				a.stepGroup(g)
			}
		}
	}
}

func (a *Adaptive) stepGroup(g *group) {
	var bs []*Backend
	var sig []Signals
	for _, b := range g.members {
		if b.eff == nil || b.state == nil || !b.Serving() {
			continue
		}
		bs = append(bs, b)
		sig = append(sig, b.state)
	}
	if len(bs) == 0 {
		return
	}
	t := Targets(sig, a.Params)
	m := make([]float64, len(bs))
	for i, b := range bs {
		m[i] = math.Float64frombits(b.eff.Load())
	}
	StepMultipliers(m, t, a.Params)
	for i, b := range bs {
		b.eff.Store(math.Float64bits(m[i]))
	}
}

// Targets computes each backend's target multiplier from its signals:
//
//	f_rtt  = ((rtt_min + floor) / (rtt + floor))², rtt the median of the
//	         last 3 successful probes
//	f_err  = (1 − error_rate)²
//	f_load = 1 − load; 0 at or above capacity while another has room
//	target = f_rtt × f_err × f_load, divided by the largest target
//
// so the best backend's target is 1. Unknown RTT or load count as the best.
func Targets(sig []Signals, p AdaptParams) []float64 {
	t := make([]float64, len(sig))
	rmin := time.Duration(math.MaxInt64)
	room := false
	for _, s := range sig {
		if r := s.MedianRTT(); r > 0 && r < rmin {
			rmin = r
		}
		if l, ok := s.Load(); !ok || l < 1 {
			room = true
		}
	}
	floor := float64(p.RTTFloor)
	best := 0.0
	for i, s := range sig {
		f := 1.0
		if r := s.MedianRTT(); r > 0 && rmin != time.Duration(math.MaxInt64) {
			x := (float64(rmin) + floor) / (float64(r) + floor)
			f *= x * x
		}
		e := 1 - s.ErrorRate()
		f *= e * e
		if l, ok := s.Load(); ok {
			switch {
			case l >= 1 && room:
				f = 0
			case l < 1:
				f *= 1 - l
			}
		}
		t[i] = f
		best = max(best, f)
	}
	for i := range t {
		if best > 0 {
			t[i] /= best
		} else {
			t[i] = 1
		}
	}
	return t
}

// StepMultipliers moves each multiplier toward its target: by Gain of the
// gap, at most MaxStep, not at all within the Deadband; kept in 0..1.
func StepMultipliers(m, target []float64, p AdaptParams) {
	for i := range m {
		gap := target[i] - m[i]
		if math.Abs(gap) < p.Deadband {
			// Within the deadband, but the ends are exact: a backend with
			// no room gets nothing, the best gets all its weight.
			if target[i] == 0 || target[i] == 1 {
				m[i] = target[i]
			}
			continue
		}
		d := math.Max(-p.MaxStep, math.Min(p.MaxStep, p.Gain*gap))
		m[i] = math.Max(0, math.Min(1, m[i]+d))
	}
}
