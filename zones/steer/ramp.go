package steer

import (
	"fmt"
	"math"
	"time"
)

// SlowStart is Envoy's slow start: a member that has just come into
// service (recovered, added by a reload or registered) gets
//
//	weight × max(MinWeightPercent/100, (elapsed/Window)^(1/Aggression))
//
// until Window has passed, so that resolver caches fill with its address
// gradually rather than in one TTL. A zero Window turns it off.
type SlowStart struct {
	Window time.Duration
	// MinWeightPercent is the share of its weight a member starts with
	// (0..100).
	MinWeightPercent float64
	// Aggression shapes the ramp: 1 is linear, above 1 faster at first,
	// below 1 slower at first (0.1..10).
	Aggression float64
}

// Defaults of slow start.
const (
	// DefaultSlowStartTTLs is the default window in service TTLs: a
	// member's address reaches resolvers over that many cache lifetimes.
	DefaultSlowStartTTLs    = 3
	DefaultMinWeightPercent = 10
	DefaultAggression       = 1
)

// WithDefaults returns s with zero fields at their defaults; ttl chooses
// the window.
func (s SlowStart) WithDefaults(ttl time.Duration) SlowStart {
	if s.Window == 0 {
		s.Window = DefaultSlowStartTTLs * ttl
	}
	if s.MinWeightPercent == 0 {
		s.MinWeightPercent = DefaultMinWeightPercent
	}
	if s.Aggression == 0 {
		s.Aggression = DefaultAggression
	}
	return s
}

// Check reports the first parameter out of its bounds.
func (s SlowStart) Check() error {
	switch {
	case s.Window < 0 || s.Window > 24*time.Hour:
		return fmt.Errorf("window %v: want 0..24h", s.Window)
	case s.MinWeightPercent < 0 || s.MinWeightPercent > 100:
		return fmt.Errorf("min_weight_percent %g: want 0..100", s.MinWeightPercent)
	case s.Aggression < 0.1 || s.Aggression > 10:
		return fmt.Errorf("aggression %g: want 0.1..10", s.Aggression)
	}
	return nil
}

// Factor is the share of its weight a member gets elapsed after it came
// into service: 1 once the window has passed (or without one).
func (s SlowStart) Factor(elapsed time.Duration) float64 {
	if s.Window <= 0 || elapsed >= s.Window {
		return 1
	}
	x := max(elapsed, 0).Seconds() / s.Window.Seconds()
	return max(s.MinWeightPercent/100, math.Pow(x, 1/s.Aggression))
}
