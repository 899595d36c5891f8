package health

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxInFlight bounds the probes running at once.
const DefaultMaxInFlight = 256

// Checker runs the probes of a set of specs. Sync changes the set: new
// specs start, removed ones stop, and unchanged ones go on with their state,
// so that a reload never makes a backend flap or rise again.
type Checker struct {
	log     *slog.Logger
	metrics *metrics
	sem     chan struct{}

	mu      sync.Mutex
	running map[Spec]*runner
	stopped bool
	wg      sync.WaitGroup

	// OnChange, if set before the first Sync, is called after every
	// transition between up and down, and is then the one to log it.
	OnChange func(s *State, r Result)
	// Voter, if set before the first Sync, shares every result with the
	// fleet, and rise and fall count the fleet's verdict.
	Voter Voter
}

type runner struct {
	state  *State
	target *Target
	cancel context.CancelFunc
	label  string // the target label of its metrics: unique among runners
}

// NewChecker returns a checker that logs to log and registers its metrics
// on reg (nil for none). maxInFlight bounds the probes running at once.
func NewChecker(log *slog.Logger, reg prometheus.Registerer, maxInFlight int) *Checker {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	return &Checker{
		log:     log,
		metrics: newMetrics(reg),
		sem:     make(chan struct{}, maxInFlight),
		running: map[Spec]*runner{},
	}
}

// Sync makes the running probes those of specs and returns the state of
// each. Specs that fail Check get a state that stays in its start state.
func (c *Checker) Sync(specs []Spec) map[Spec]*State { return c.SyncBind(specs, nil) }

// SyncBind is Sync that calls bind with the states before any new probe
// starts, so that whatever a probe's first result touches is in place.
func (c *Checker) SyncBind(specs []Spec, bind func(map[Spec]*State)) map[Spec]*State {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[Spec]*State, len(specs))
	want := make(map[Spec]bool, len(specs))
	for _, s := range specs {
		want[s] = true
	}
	for s, r := range c.running {
		if !want[s] {
			r.cancel()
			delete(c.running, s)
			c.metrics.forget(r.label)
			if c.Voter != nil {
				c.Voter.Forget(s)
			}
			c.log.Info("health check stopped", "target", r.label)
		}
	}
	now := time.Now()
	var starts []func()
	for s := range want {
		if r, ok := c.running[s]; ok {
			out[s] = r.state
			continue
		}
		if s.Kind == KindNone || s.Kind == "" {
			out[s] = StartState(s) // no probe: up, and counts as probed
			continue
		}
		t, err := NewTarget(s)
		if err != nil {
			c.log.Error("health check not started", "target", s.String(), "err", err)
			out[s] = newState(s, now)
			continue
		}
		st := newState(s, now)
		out[s] = st
		if c.stopped {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &runner{state: st, target: t, cancel: cancel, label: c.label(s)}
		c.running[s] = r
		c.metrics.upSet(r.label, st.Up())
		starts = append(starts, func() {
			c.wg.Add(1)
			go c.loop(ctx, r)
			c.log.Debug("health check started", "target", s.String(), "interval", s.Interval)
		})
	}
	if bind != nil {
		bind(out)
	}
	for _, start := range starts {
		start()
	}
	return out
}

// label names a new runner's metrics: the spec's text, numbered when specs
// that differ in details (headers, load settings) print the same. c.mu is
// held.
func (c *Checker) label(s Spec) string {
	base := s.String()
	taken := map[string]bool{}
	for _, r := range c.running {
		taken[r.label] = true
	}
	return uniqueLabel(base, taken)
}

// Running returns how many probes run.
func (c *Checker) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.running)
}

// Stop stops every probe and waits for them. It may be called more than
// once.
func (c *Checker) Stop() {
	c.mu.Lock()
	c.stopped = true
	for s, r := range c.running {
		r.cancel()
		delete(c.running, s)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// loop probes one target on its own timer: first after a random stagger
// within one interval (a tenth of one for a target pending its first
// result, which answers nothing until then), then every interval with
// ±10 % jitter, so that probes of many targets spread out. A probe that
// hangs costs its timeout and delays no other target.
func (c *Checker) loop(ctx context.Context, r *runner) {
	defer c.wg.Done()
	spec := r.target.Spec
	stagger := spec.Interval
	if r.state.Pending() {
		stagger = spec.Interval/10 + 1
	}
	timer := time.NewTimer(rand.N(stagger))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		res := r.target.Run(ctx)
		<-c.sem
		if ctx.Err() != nil {
			return // stopped while probing: the result means nothing
		}
		now := time.Now()
		verdict := res.OK
		if c.Voter != nil && spec.Quorum != QuorumLocal {
			v := c.Voter.Vote(spec, res.OK, now)
			r.state.verdict.Store(&v)
			verdict = v.OK
		}
		changed := r.state.record(res, verdict, now)
		c.metrics.observe(r.label, res, r.state)
		if changed {
			up := r.state.Up()
			c.metrics.transition(r.label, up)
			state := "down"
			if up {
				state = "up"
			}
			if c.OnChange != nil {
				c.OnChange(r.state, res)
			} else {
				c.log.Info("health changed", "target", r.label, "state", state, "reason", res.Reason)
			}
		}
		next := spec.Interval - now.Sub(start)
		jitter := spec.Interval / 10
		if jitter > 0 {
			next += rand.N(2*jitter) - jitter
		}
		timer.Reset(max(next, spec.Interval/10))
	}
}
