package zones

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones/steer"
)

// SignalSource returns a backend's live signals at now; a signal it does
// not have, or whose last value is stale, it leaves unset (neutral).
type SignalSource func(b *Backend, now time.Time) steer.Signals

// Steering holds the live weight multipliers of every backend whose
// service has a control law (members = "least_load", "fastest", "shed",
// "adaptive") or slow start, by backend ID so that they survive reloads,
// and moves them once per Step. The query path only reads the
// multipliers (atomics, through Backend.EffectiveWeight).
type Steering struct {
	// Signals gives each backend's signals (nil: ProbeSignals).
	Signals SignalSource
	// Fleet gives the steering the coordinator of this instance's fleet
	// computed (nil: this instance steers alone). Set it before the first
	// Step.
	Fleet FleetSteering

	mu    sync.Mutex
	slots map[string]*steerSlot
	bound bool // a snapshot has been bound: later slots are new backends
}

// steerSlot is one backend's steering state. eff is read by the query
// path; the rest belongs to Step (under Steering.mu).
type steerSlot struct {
	id  string
	eff atomic.Uint64 // weight multiplier, float64 bits
	// unsettled tells that the weight is still moving: ramping up, or
	// its law's share more than settleGap from its target (adaptive TTL).
	unsettled atomic.Bool

	law     steer.Member
	since   time.Time // when it last came into service; zero: not serving
	last    Factors
	lastMu  sync.Mutex // guards last, which the API reads
	touched bool       // seen in the last Step
	// atStart: the backend was in the first snapshot the process bound and
	// has not served yet. It was in service before gslb started (a
	// process start is not a backend coming into service): its first
	// time in service is not ramped.
	atStart bool
}

// Factors explain a backend's effective weight: what the law saw and did,
// and the slow-start ramp. The API and gslb explain show them.
type Factors struct {
	Law string
	// Signals as the law saw them at the last step (Has flags false:
	// missing or stale, neutral).
	Signals steer.Signals
	// Smoothed holds the moving averages; Share and Target the law's
	// share (of the pool's members of the family) and its aim.
	Smoothed steer.Member
	// Ramp is the slow-start factor (1: not ramping); RampLeft the time
	// until it ends.
	Ramp     float64
	RampLeft time.Duration
	// Multiplier is what the configured weight is multiplied by.
	Multiplier float64
	// At is when the step ran.
	At time.Time
	// Fleet names the member of the fleet whose steering this instance
	// follows (its coordinator), FleetAt the tick that member computed it
	// at; "" when this instance computed Multiplier itself.
	Fleet   string
	FleetAt time.Time
}

// FleetWeight is a backend's steering as the coordinator of a fleet
// computed it at one of its ticks: every member that follows it answers
// with the same effective weights.
type FleetWeight struct {
	// ID is the backend's ID (Backend.ID).
	ID string
	// Multiplier is what the configured weight is multiplied by; Share the
	// law's share, which a follower adopts so that its own law carries on
	// from there should it become the coordinator.
	Multiplier, Share float64
	// Unsettled: ramping, or its share still moving (adaptive TTL).
	Unsettled bool
	// From is the member that computed it, At its tick.
	From string
	At   time.Time
}

// FleetSteering returns the fleet's steering of backend id, false when
// this instance steers alone: it is the coordinator, or it has nothing
// fresh from the coordinator for that backend.
type FleetSteering func(id string) (FleetWeight, bool)

// settleGap is how far (in share) a law's share may be from its target
// for the backend to count as settled.
const settleGap = 0.02

// NewSteering returns an empty store that reads signals from the probes.
func NewSteering() *Steering {
	return &Steering{slots: map[string]*steerSlot{}}
}

// MarkRunning says that backends bound from now on are new: they come
// into service (and ramp) when they first serve. The first Bind calls it
// when it is done, so that the backends of the configuration the process
// starts with are not ramped (they were in service before it started);
// gslb test calls it first, as its backends come into service when it
// says.
func (st *Steering) MarkRunning() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.bound = true
}

// slot is the steering slot of backend id, made on first use. A backend
// new to a running server (a reload, a registration) starts at its slow
// start's first factor, not at its full weight: it would otherwise get
// its whole share until the next step.
func (st *Steering) slot(id string, ss steer.SlowStart) *steerSlot {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.slots[id]
	if !ok {
		s = &steerSlot{id: id, atStart: !st.bound}
		m := 1.0
		if st.bound {
			m = ss.Factor(0)
		}
		s.eff.Store(math.Float64bits(m))
		st.slots[id] = s
	}
	return s
}

// steered tells whether the service's backends get a slot: a law or
// slow start.
func (s *Service) steered() bool { return s.Law.Law != "" || s.SlowStart.Window > 0 }

// Step moves every steered backend of the snapshot one step of dt at now:
// the law of its service over the serving members of its pool and
// family, then the slow-start ramp. Backends no longer in the
// configuration lose their state.
func (st *Steering) Step(s *Snapshot, now time.Time, dt time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	src := st.Signals
	if src == nil {
		src = ProbeSignals
	}
	for _, sl := range st.slots {
		sl.touched = false
	}
	for _, svc := range s.Services() {
		if !svc.steered() {
			continue
		}
		for _, p := range svc.Pools {
			for _, g := range []*group{&p.v4, &p.v6} {
				st.stepGroup(svc, g, src, now, dt)
			}
		}
	}
	for id, sl := range st.slots {
		if !sl.touched {
			delete(st.slots, id)
		}
	}
}

func (st *Steering) stepGroup(svc *Service, g *group, src SignalSource, now time.Time, dt time.Duration) {
	var membersBuf [maxStack]*steer.Member
	var inBuf [maxStack]steer.In
	var slotBuf [maxStack]*steerSlot
	members, in, slots := membersBuf[:0], inBuf[:0], slotBuf[:0]
	for _, b := range g.members {
		sl := b.steer
		if sl == nil {
			continue
		}
		// The snapshot in use owns the slot, even if a reload bound the
		// next one meanwhile.
		st.slots[b.ID] = sl
		sl.touched = true
		if b.Pending() && !sl.since.IsZero() {
			// Its health not known yet (at start, after a reload that
			// changed its check): it keeps its state (a warm start's
			// included) until it is known.
			continue
		}
		if !b.Serving() || b.Weight <= 0 {
			// Out of service: it starts afresh when it returns.
			sl.since = time.Time{}
			sl.law = steer.Member{}
			sl.eff.Store(math.Float64bits(1))
			sl.unsettled.Store(false)
			continue
		}
		if sl.since.IsZero() {
			sl.since = now
			if sl.atStart {
				sl.since = now.Add(-svc.SlowStart.Window)
			}
		}
		sl.atStart = false
		members = append(members, &sl.law)
		in = append(in, steer.In{Weight: b.Weight, Signals: src(b, now)})
		slots = append(slots, sl)
	}
	if len(members) == 0 {
		return
	}
	if svc.Law.Law != "" {
		steer.Step(svc.Law, members, in, dt)
	}
	total := 0.0
	for _, x := range in {
		total += x.Weight
	}
	for i, sl := range slots {
		m := 1.0
		if svc.Law.Law != "" {
			m = sl.law.Share * total / in[i].Weight
		}
		ramp := svc.SlowStart.Factor(now.Sub(sl.since))
		m *= ramp
		unsettled := ramp < 1 || svc.Law.Law != "" && math.Abs(sl.law.Target-sl.law.Share) > settleGap
		f := Factors{Law: svc.Law.Law, Signals: in[i].Signals, Smoothed: sl.law, Ramp: ramp, Multiplier: m, At: now}
		if ramp < 1 {
			f.RampLeft = svc.SlowStart.Window - now.Sub(sl.since)
		}
		if st.Fleet != nil {
			if w, ok := st.Fleet(sl.id); ok {
				sl.follow(&f, w)
				sl.lastMu.Lock()
				sl.last = f
				sl.lastMu.Unlock()
				continue
			}
		}
		sl.eff.Store(math.Float64bits(m))
		sl.unsettled.Store(unsettled)
		sl.lastMu.Lock()
		sl.last = f
		sl.lastMu.Unlock()
	}
}

// follow makes the slot answer with the fleet's weight w and adopt its
// share; f, the slot's factors, says so.
func (sl *steerSlot) follow(f *Factors, w FleetWeight) {
	sl.eff.Store(math.Float64bits(w.Multiplier))
	sl.unsettled.Store(w.Unsettled)
	sl.law.Share = w.Share
	f.Smoothed.Share = w.Share
	f.Multiplier, f.Fleet, f.FleetAt = w.Multiplier, w.From, w.At
}

// Follow applies the fleet's latest steering at once, between steps: a
// member that follows its fleet's coordinator answers with the weights of
// the coordinator's tick as soon as they arrive, rather than at its own
// next step.
func (st *Steering) Follow() {
	if st.Fleet == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, sl := range st.slots {
		if sl.since.IsZero() {
			continue // not serving here
		}
		w, ok := st.Fleet(sl.id)
		if !ok {
			continue
		}
		sl.lastMu.Lock()
		f := sl.last
		sl.follow(&f, w)
		sl.last = f
		sl.lastMu.Unlock()
	}
}

// Weights is what this instance's last step gave every serving steered
// backend, for the members of its fleet that follow it.
func (st *Steering) Weights() []FleetWeight {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]FleetWeight, 0, len(st.slots))
	for _, sl := range st.slots {
		if sl.since.IsZero() {
			continue
		}
		sl.lastMu.Lock()
		f := sl.last
		sl.lastMu.Unlock()
		if f.At.IsZero() || f.Fleet != "" {
			continue // not stepped yet, or not its own
		}
		out = append(out, FleetWeight{ID: sl.id, Multiplier: f.Multiplier, Share: f.Smoothed.Share, Unsettled: sl.unsettled.Load(), At: f.At})
	}
	return out
}

// Factors returns what shaped the backend's effective weight at the last
// step; ok is false for a backend without a law or slow start, or before
// its first step.
func (b *Backend) Factors() (f Factors, ok bool) {
	if b.steer == nil {
		return Factors{}, false
	}
	b.steer.lastMu.Lock()
	defer b.steer.lastMu.Unlock()
	return b.steer.last, !b.steer.last.At.IsZero()
}

// LiveSignals is the signal source of a running server: ProbeSignals,
// with the load a report pushed through the API gives (while it has not
// expired) in place of the scraped or probed one: an agent that reports
// knows best.
func LiveSignals(reports *health.Reports) SignalSource {
	return func(b *Backend, now time.Time) steer.Signals {
		s := ProbeSignals(b, now)
		if reports != nil {
			if r, ok := reports.Get(b.ID, now); ok {
				if l, ok := r.Load(); ok {
					// The rate comes with the load, from the same source.
					s.Load, s.HasLoad = l, true
					s.Rate, s.HasRate = r.RequestRate, !math.IsNaN(r.RequestRate)
				}
			}
		}
		return s
	}
}

// ProbeSignals reads a backend's signals from its health probes and its
// scraped metrics: the load from the metrics (utilisation, or connections
// or requests over capacity) if fresh, else the load a probe reported
// (load_header, load_json); the latency quantile from the metrics if
// fresh, else the median RTT of the last successful probes; the error
// rate of the last 20 probes; the request rate from the metrics if they
// give it and the load. A probe result older than three intervals, or a
// scrape older than three scrape intervals, is stale and left out.
func ProbeSignals(b *Backend, now time.Time) steer.Signals {
	var s steer.Signals
	if st := b.state; st != nil && st.Probed() {
		if last := st.LastProbe(); !last.IsZero() && now.Sub(last) <= 3*st.Spec().Interval {
			s.ErrorRate = st.ErrorRate()
			if r := st.MedianRTT(); r > 0 {
				s.Latency, s.HasLatency = r, true
			}
			s.Load, s.HasLoad = st.Load()
		}
	}
	if m, sc := b.Metrics, b.scraped; m != nil && sc != nil {
		if l, ok := m.load(sc, now); ok {
			s.Load, s.HasLoad = l, true
			s.Rate, s.HasRate = m.rate(sc, now)
		}
		if d, ok := m.latency(sc, now); ok {
			s.Latency, s.HasLatency = d, true
		}
	}
	return s
}
