package scale

import (
	"math"
	"testing"
	"time"
)

// sim is a pool of identical instances (capacity 1 each) whose load is
// the demand shared evenly, and an autoscaler that starts an instance
// start after a scale_out event and stops one at once on scale_in.
type sim struct {
	spec    Spec
	state   State
	started []time.Time // when each running instance came into service
	pending []time.Time // instances starting, in service from then
	events  []Event
	start   time.Duration
}

func (s *sim) step(now time.Time, demand float64) {
	keep := s.pending[:0]
	for _, p := range s.pending {
		if !now.Before(p) {
			s.started = append(s.started, p)
		} else {
			keep = append(keep, p)
		}
	}
	s.pending = keep
	n := len(s.started)
	members := make([]Member, n)
	for i, st := range s.started {
		members[i] = Member{Load: demand / float64(n), HasLoad: true, Capacity: 1, InService: now.Sub(st)}
	}
	if ev, ok := s.state.Step(s.spec, members, now); ok {
		s.events = append(s.events, ev)
		switch ev.Action {
		case ScaleOut:
			for range ev.To - ev.From {
				s.pending = append(s.pending, now.Add(s.start))
			}
		case ScaleIn:
			s.started = s.started[:ev.To]
		}
	}
}

// The compressed timeline of the issue: warm-up 10 s, cooldown 20 s,
// stabilisation window 60 s; band 50-75 %.
var compressed = Spec{Low: 0.5, High: 0.75, Min: 1, Max: 10, Cooldown: 20 * time.Second, Stabilization: 60 * time.Second, Warmup: 10 * time.Second}

// TestRampOutAndIn: demand from 30 % to 250 % of one instance over two
// minutes and back: the pool grows and shrinks to match, and never stays
// outside the band longer than warm-up + cooldown (+ the start of an
// instance) while the size is within min..max.
func TestRampOutAndIn(t *testing.T) {
	s := &sim{spec: compressed, start: 2 * time.Second}
	t0 := time.Unix(1_800_000_000, 0)
	s.started = []time.Time{t0.Add(-time.Hour)}
	demand := func(sec int) float64 {
		switch {
		case sec < 120:
			return 0.3 + 2.2*float64(sec)/120
		case sec < 240:
			return 2.5 - 2.2*float64(sec-120)/120
		}
		return 0.3
	}
	var above, worst, below, worstBelow time.Duration
	for sec := range 420 {
		now := t0.Add(time.Duration(sec) * time.Second)
		d := demand(sec)
		s.step(now, d)
		n := len(s.started)
		u := d / float64(n)
		if u > compressed.High && n < compressed.Max {
			above += time.Second
			worst = max(worst, above)
		} else {
			above = 0
		}
		if u < compressed.Low && n > compressed.Min {
			below += time.Second
			worstBelow = max(worstBelow, below)
		} else {
			below = 0
		}
	}
	for _, e := range s.events {
		t.Logf("+%3.0fs %-9s %d -> %d at utilisation %.2f", e.At.Sub(t0).Seconds(), e.Action, e.From, e.To, e.Utilization)
	}
	if n := len(s.started); n != 1 {
		t.Errorf("after the demand went back to 30 %% the pool has %d instances, want 1", n)
	}
	peak := 0
	for _, e := range s.events {
		peak = max(peak, e.To)
	}
	if peak < 4 || peak > 5 {
		t.Errorf("at 250 %% the pool peaked at %d instances, want 4 or 5 (250 %% over the band's middle 62.5 %%)", peak)
	}
	// Overloaded: never longer than warm-up + cooldown.
	if limit := compressed.Warmup + compressed.Cooldown; worst > limit {
		t.Errorf("above the band for %v at once, want at most %v", worst, limit)
	}
	// Idle capacity is what the stabilisation window costs: each step
	// down waits until the window has seen no demand for the larger
	// size.
	if limit := compressed.Stabilization + compressed.Cooldown + compressed.Stabilization; worstBelow > limit {
		t.Errorf("below the band for %v at once, want at most %v", worstBelow, limit)
	}
	t.Logf("longest time above the band: %v; below it (with more than min): %v", worst, worstBelow)
}

// TestOscillationDoesNotFlap: demand ±10 % around the scale-out threshold
// of two instances with a 20 s period, for two minutes: at most one event
// per cooldown, and none reversed within the stabilisation window.
func TestOscillationDoesNotFlap(t *testing.T) {
	s := &sim{spec: compressed, start: 2 * time.Second}
	t0 := time.Unix(1_800_000_000, 0)
	s.started = []time.Time{t0.Add(-time.Hour), t0.Add(-time.Hour)}
	threshold := 2 * compressed.High
	for sec := range 120 {
		now := t0.Add(time.Duration(sec) * time.Second)
		s.step(now, threshold*(1+0.1*math.Sin(2*math.Pi*float64(sec)/20)))
	}
	for _, e := range s.events {
		t.Logf("+%3.0fs %-9s %d -> %d at utilisation %.2f", e.At.Sub(t0).Seconds(), e.Action, e.From, e.To, e.Utilization)
	}
	for i := 1; i < len(s.events); i++ {
		a, b := s.events[i-1], s.events[i]
		if b.At.Sub(a.At) < compressed.Cooldown {
			t.Errorf("events %v apart, within the cooldown", b.At.Sub(a.At))
		}
		if a.Action != b.Action && b.At.Sub(a.At) < compressed.Stabilization {
			t.Errorf("%s at +%v reversed by %s %v later, within the stabilisation window", a.Action, a.At.Sub(t0), b.Action, b.At.Sub(a.At))
		}
	}
	if len(s.events) > 2 {
		t.Errorf("%d events in two minutes of oscillation", len(s.events))
	}
}

// TestStepTable: single steps.
func TestStepTable(t *testing.T) {
	spec := compressed
	now := time.Unix(1_800_000_000, 0)
	warm := func(loads ...float64) []Member {
		var out []Member
		for _, l := range loads {
			out = append(out, Member{Load: l, HasLoad: true, Capacity: 1, InService: time.Hour})
		}
		return out
	}
	cases := []struct {
		name    string
		members []Member
		rec     string
		desired int
	}{
		{"in the band", warm(0.6, 0.7), Hold, 2},
		{"above", warm(0.9, 0.9), ScaleOut, 3},
		{"far above", warm(2, 2), ScaleOut, 7},
		{"above the max", warm(5, 5, 5), ScaleOut, 10},
		{"below", warm(0.1, 0.1, 0.1, 0.1), ScaleIn, 1},
		{"below, at min", warm(0.1), Hold, 1},
		{"no signal", []Member{{Capacity: 1, InService: time.Hour}}, Hold, 1},
		{"warming members do not count", append(warm(0.6), Member{Load: 0, HasLoad: true, Capacity: 1}), Hold, 2},
	}
	for _, c := range cases {
		var st State
		st.Step(spec, c.members, now)
		if st.Recommendation != c.rec || st.Desired != c.desired {
			t.Errorf("%s: %s %d, want %s %d", c.name, st.Recommendation, st.Desired, c.rec, c.desired)
		}
	}
	if err := (Spec{Low: 0.8, High: 0.5}).WithDefaults().Check(); err == nil {
		t.Error("low above high accepted")
	}
}
