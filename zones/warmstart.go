package zones

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/gslb/gslb/zones/steer"
)

// SteeringState is what a warm start keeps of the steering across a
// restart, by backend ID: how long each backend has been in service (so
// slow start does not ramp the whole fleet again) and its control law's
// averages and share (so answers do not fall back to the configured
// weights and converge again from there).
type SteeringState struct {
	SavedAt  time.Time                `json:"saved_at"`
	Backends map[string]SteeringSaved `json:"backends"`
}

// SteeringSaved is one backend's saved steering.
type SteeringSaved struct {
	Since      time.Time    `json:"since"`
	Multiplier float64      `json:"multiplier"`
	Law        steer.Member `json:"law"`
}

// Save returns the steering of every backend in service.
func (st *Steering) Save(now time.Time) SteeringState {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := SteeringState{SavedAt: now.UTC(), Backends: map[string]SteeringSaved{}}
	for id, sl := range st.slots {
		if sl.since.IsZero() {
			continue
		}
		out.Backends[id] = SteeringSaved{Since: sl.since.UTC(), Multiplier: math.Float64frombits(sl.eff.Load()), Law: sl.law}
	}
	return out
}

// Restore installs saved steering, before the first Bind, if it is no
// older than maxAge at now: older state says little of the backends
// today. Each backend resumes with its multiplier, its averages and its
// time in service, and keeps them while its health is still pending. It returns how many backends
// it restored.
func (st *Steering) Restore(s SteeringState, now time.Time, maxAge time.Duration) (int, error) {
	age := now.Sub(s.SavedAt)
	if age < 0 || age > maxAge {
		return 0, fmt.Errorf("saved %v ago, more than %v: starting cold", age.Round(time.Second), maxAge)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for id, b := range s.Backends {
		if b.Since.IsZero() || b.Multiplier < 0 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) || b.Law.Share < 0 || b.Law.Share > 1 {
			continue
		}
		sl := &steerSlot{id: id, since: b.Since, law: b.Law}
		sl.law.Resume()
		sl.eff.Store(math.Float64bits(b.Multiplier))
		st.slots[id] = sl
		n++
	}
	return n, nil
}

// ParseSteeringState decodes a saved steering state, as Save made it.
func ParseSteeringState(name string, b []byte) (SteeringState, error) {
	var s SteeringState
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %v", name, err)
	}
	return s, nil
}
