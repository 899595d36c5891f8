// Package scale recommends the size of a pool from its utilisation, the
// way Kubernetes' horizontal pod autoscaler does: a target band, a
// stabilisation window for scale-in, a cooldown after each event, and a
// minimum and maximum size. It decides only; the server exports the
// recommendation as metrics and sends its events to webhooks.
//
// Why it cannot flap: inside the band it holds; scaling in acts on the
// highest size the last Stabilization asked for, so a dip shorter than
// the window moves nothing; and no event follows another within
// Cooldown. A demand that oscillates around a threshold with a period
// shorter than the window gives at most one scale-out per cooldown and no
// scale-in until the window has seen no demand above the band.
package scale

import (
	"fmt"
	"math"
	"time"
)

// Spec is a pool's scaling rule; the zero value of a field takes its
// default (Defaults).
type Spec struct {
	// Low and High bound the target band of utilisation (1 = every
	// member at capacity): above High the pool should grow, below Low
	// shrink, to the middle of the band.
	Low, High float64
	// Min and Max bound the size.
	Min, Max int
	// Cooldown is the least time between two events.
	Cooldown time.Duration
	// Stabilization is how far back scale-in looks: it acts on the
	// highest size recommended in that window.
	Stabilization time.Duration
	// Warmup: members in service for less than it do not count in the
	// utilisation (their load is not yet what it will be).
	Warmup time.Duration
}

// Defaults of Spec.
const (
	DefaultLow           = 0.5
	DefaultHigh          = 0.75
	DefaultMin           = 1
	DefaultMax           = 100
	DefaultCooldown      = 3 * time.Minute
	DefaultStabilization = 5 * time.Minute
	DefaultWarmup        = time.Minute
)

// WithDefaults returns s with its zero fields set to the defaults.
func (s Spec) WithDefaults() Spec {
	if s.Low == 0 {
		s.Low = DefaultLow
	}
	if s.High == 0 {
		s.High = DefaultHigh
	}
	if s.Min == 0 {
		s.Min = DefaultMin
	}
	if s.Max == 0 {
		s.Max = DefaultMax
	}
	if s.Cooldown == 0 {
		s.Cooldown = DefaultCooldown
	}
	if s.Stabilization == 0 {
		s.Stabilization = DefaultStabilization
	}
	if s.Warmup == 0 {
		s.Warmup = DefaultWarmup
	}
	return s
}

// Check reports the first field out of its bounds.
func (s Spec) Check() error {
	switch {
	case !(s.Low > 0 && s.Low < s.High && s.High <= 10):
		return fmt.Errorf("low %g and high %g: want 0 < low < high <= 10", s.Low, s.High)
	case s.Min < 1 || s.Max < s.Min || s.Max > 10000:
		return fmt.Errorf("min %d and max %d: want 1 <= min <= max <= 10000", s.Min, s.Max)
	case s.Cooldown < time.Second || s.Cooldown > 24*time.Hour:
		return fmt.Errorf("cooldown %v: want 1s..24h", s.Cooldown)
	case s.Stabilization < 0 || s.Stabilization > 24*time.Hour:
		return fmt.Errorf("stabilization %v: want 0..24h", s.Stabilization)
	case s.Warmup < 0 || s.Warmup > time.Hour:
		return fmt.Errorf("warmup %v: want 0..1h", s.Warmup)
	}
	return nil
}

// Recommendations.
const (
	Hold     = "hold"
	ScaleOut = "scale_out"
	ScaleIn  = "scale_in"
)

// Member is one member of a pool as the scaler sees it.
type Member struct {
	// Load is its smoothed utilisation; HasLoad false: none known.
	Load    float64
	HasLoad bool
	// Capacity is its weight: what it can take relative to the others.
	Capacity float64
	// InService is how long it has served.
	InService time.Duration
}

// State is a pool's scaler between steps. Keep one per pool; the zero
// value is new.
type State struct {
	// Recommendation and Desired are the last step's; Utilization what
	// it read (NaN: no signal); Current the members it counted.
	Recommendation string
	Desired        int
	Current        int
	Utilization    float64
	// LastEvent is when the last event was given (zero: never).
	LastEvent time.Time
	history   []sample // the desired sizes of the last Stabilization
}

type sample struct {
	at      time.Time
	desired int
}

// Event is a decision to change a pool's size.
type Event struct {
	Action   string // ScaleOut or ScaleIn
	From, To int
	// Utilization is the pool's at the decision.
	Utilization float64
	At          time.Time
}

// Step reads the pool's members at now and returns an event when the pool
// should change size and the cooldown allows it. s must have its
// defaults.
func (st *State) Step(s Spec, members []Member, now time.Time) (Event, bool) {
	n := len(members)
	st.Current = n
	var loadCap, cap float64
	for _, m := range members {
		if !m.HasLoad || m.InService < s.Warmup || m.Capacity <= 0 {
			continue
		}
		loadCap += m.Load * m.Capacity
		cap += m.Capacity
	}
	raw := n
	st.Utilization = math.NaN()
	if cap > 0 {
		u := loadCap / cap
		st.Utilization = u
		target := (s.Low + s.High) / 2
		want := int(math.Ceil(float64(n) * u / target))
		switch {
		case u > s.High:
			raw = max(want, n+1)
		case u < s.Low && n > 0:
			raw = min(want, n)
		}
	}
	raw = min(max(raw, s.Min), s.Max)
	// Scale-in acts on the highest size of the window.
	st.history = append(st.history, sample{now, raw})
	keep := st.history[:0]
	for _, h := range st.history {
		if now.Sub(h.at) <= s.Stabilization {
			keep = append(keep, h)
		}
	}
	st.history = keep
	desired := raw
	if raw < n {
		for _, h := range st.history {
			desired = max(desired, h.desired)
		}
		desired = min(desired, n)
	}
	st.Desired = desired
	switch {
	case desired > n:
		st.Recommendation = ScaleOut
	case desired < n:
		st.Recommendation = ScaleIn
	default:
		st.Recommendation = Hold
	}
	if st.Recommendation == Hold || (!st.LastEvent.IsZero() && now.Sub(st.LastEvent) < s.Cooldown) {
		return Event{}, false
	}
	st.LastEvent = now
	return Event{Action: st.Recommendation, From: n, To: desired, Utilization: st.Utilization, At: now}, true
}
