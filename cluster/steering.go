package cluster

import (
	"hash/fnv"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// A fleet steers as one: its coordinator, the member with the lowest name
// among those that serve the same configuration and whose votes are
// fresh, runs the control laws and sends its effective weights to the
// others at each of its ticks; every other member answers with them (and
// adopts the laws' shares, so that whichever member becomes the
// coordinator carries on from the same state). Every member still runs
// its own laws from its own signals: it falls back to them as soon as it
// has nothing fresh from the coordinator, and says so.

// steerView is what this member has of another member's steering.
type steerView struct {
	incarnation uint64
	configHash  string
	seen        time.Time // the last frame's arrival (local clock)
	weights     map[uint64]steerWeight
}

// steerWeight is one backend's entry and the tick it came with.
type steerWeight struct {
	steerEntry
	tick int64
}

// backendKey is the key of a backend's steering entry: a hash of its ID,
// which is the same on members serving the same configuration.
func backendKey(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// maxSteerEntries is how many entries go in one steering frame, so that
// it fits a UDP packet (header: at most about 220 bytes).
const maxSteerEntries = (maxPacket - 220) / steerEntrySize

// Coordinator is the member whose steering the fleet follows, as this
// member sees the fleet: among itself and the members whose vote frames
// are fresh and carry this member's configuration hash, the lowest name
// of those that have run for settleFor (of all of them when none has).
// During a partition each side has its own.
func (c *Cluster) Coordinator() string {
	now := time.Now()
	if cc := c.coord.Load(); cc != nil && now.Sub(cc.at) < coordinatorCache && now.After(cc.at) {
		return cc.name
	}
	name := c.coordinator(now)
	c.coord.Store(&coordAt{name, now})
	return name
}

// coordinatorCache is how long Coordinator's answer is kept: a step asks
// once per steered backend.
const coordinatorCache = 100 * time.Millisecond

type coordAt struct {
	name string
	at   time.Time
}

func (c *Cluster) coordinator(now time.Time) string {
	hash := *c.configHash.Load()
	alive := map[string]bool{}
	if c.ml != nil {
		for _, n := range c.ml.Members() {
			alive[n.Name] = true
		}
	}
	settled := func(incarnation uint64) bool {
		return now.Sub(time.Unix(0, int64(incarnation))) >= c.settleFor()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The lowest name among the settled members, else among all.
	best, bestSettled := c.cfg.Name, settled(c.incarnation)
	for name, t := range c.remote {
		if !alive[name] || t.configHash != hash || now.Sub(t.seen) > c.freshFor() {
			continue
		}
		s := settled(t.incarnation)
		if s && !bestSettled || s == bestSettled && name < best {
			best, bestSettled = name, s
		}
	}
	return best
}

// settleFor is how long a member must have run before it can be the
// coordinator while a member that has run longer is there: a restarted
// member first follows, adopting the fleet's shares, so that when it
// takes over its laws carry on from them rather than from its start.
func (c *Cluster) settleFor() time.Duration { return 10 * c.cfg.Heartbeat }

// PublishSteering sends this member's steering of tick at to the others
// when it is the coordinator, and does nothing otherwise.
func (c *Cluster) PublishSteering(at time.Time, weights []zones.FleetWeight) {
	if c.ml == nil || c.Coordinator() != c.cfg.Name {
		return
	}
	base := steerFrame{Origin: c.cfg.Name, Incarnation: c.incarnation, Tick: at.UnixMilli(), ConfigHash: *c.configHash.Load()}
	var msgs [][]byte
	for len(weights) > 0 {
		n := min(len(weights), maxSteerEntries)
		f := base
		f.Entries = make([]steerEntry, n)
		for i, w := range weights[:n] {
			f.Entries[i] = steerEntry{Key: backendKey(w.ID), Multiplier: float32(w.Multiplier), Share: float32(w.Share), Unsettled: w.Unsettled}
		}
		weights = weights[n:]
		msgs = append(msgs, appendSteerFrame(nil, &f))
	}
	if len(msgs) == 0 {
		// Nothing steered: the frame says the coordinator is there.
		msgs = append(msgs, appendSteerFrame(nil, &base))
	}
	for _, n := range c.ml.Members() {
		if n.Name == c.cfg.Name {
			continue
		}
		for _, m := range msgs {
			c.send(n, m, "steering")
		}
	}
}

// receiveSteer keeps a member's steering frame and tells the server.
func (c *Cluster) receiveSteer(f *steerFrame) {
	if f.Origin == c.cfg.Name {
		return
	}
	c.mu.Lock()
	v := c.steering[f.Origin]
	if v == nil || f.Incarnation > v.incarnation {
		v = &steerView{incarnation: f.Incarnation, weights: map[uint64]steerWeight{}}
		c.steering[f.Origin] = v
	}
	if f.Incarnation < v.incarnation {
		c.mu.Unlock()
		c.metrics.dropped("old incarnation")
		return
	}
	v.seen, v.configHash = time.Now(), f.ConfigHash
	for _, e := range f.Entries {
		if w, ok := v.weights[e.Key]; !ok || w.tick <= f.Tick {
			v.weights[e.Key] = steerWeight{e, f.Tick}
		}
	}
	c.mu.Unlock()
	select {
	case c.steerKick <- struct{}{}:
	default:
	}
}

// SteeringArrived is signalled (without blocking the receiver; several
// arrivals may be one signal) when a steering frame arrives.
func (c *Cluster) SteeringArrived() <-chan struct{} { return c.steerKick }

// FleetWeight is the coordinator's steering of backend id, false when
// this member is the coordinator or has no fresh entry for it: fresh is
// from a tick at most three heartbeats old by this member's clock, from a
// coordinator serving the same configuration.
func (c *Cluster) FleetWeight(id string) (zones.FleetWeight, bool) {
	coord := c.Coordinator()
	if coord == c.cfg.Name {
		return zones.FleetWeight{}, false
	}
	hash := *c.configHash.Load()
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.steering[coord]
	if v == nil || v.configHash != hash {
		return zones.FleetWeight{}, false
	}
	w, ok := v.weights[backendKey(id)]
	if !ok {
		return zones.FleetWeight{}, false
	}
	at := time.UnixMilli(w.tick)
	if now.Sub(at) > c.freshFor() {
		return zones.FleetWeight{}, false
	}
	return zones.FleetWeight{ID: id, Multiplier: float64(w.Multiplier), Share: float64(w.Share), Unsettled: w.Unsettled, From: coord, At: at}, true
}

// pruneSteering forgets the steering of members silent for voterMemory
// and the entries that went stale (with the housekeeping, under c.mu).
func (c *Cluster) pruneSteering(now time.Time) {
	for name, v := range c.steering {
		if now.Sub(v.seen) > voterMemory {
			delete(c.steering, name)
			continue
		}
		for k, w := range v.weights {
			if now.Sub(time.UnixMilli(w.tick)) > voterMemory {
				delete(v.weights, k)
			}
		}
	}
}

// ShareReports sends the load reports pushed through this member's API to
// the others, and keeps theirs in r: the coordinator steers from every
// report wherever it was pushed, and a member that takes over has them
// too. Call it before Run.
func (c *Cluster) ShareReports(r *health.Reports) {
	c.reports.Store(r)
	r.Replicate(func(ch health.ReportChange) { c.broadcast(reportMessage(ch), "reports") })
}

// mergeReports applies reports from another member.
func (c *Cluster) mergeReports(changes []health.ReportChange) {
	r := c.reports.Load()
	if r == nil {
		return
	}
	for _, ch := range changes {
		if _, err := r.Merge(ch); err != nil {
			c.log.Warn("load report from the fleet not kept", "err", err)
		}
	}
}

// ShareRegistrations sends the registrations, renewals and
// deregistrations made through this member's API to the others, and
// merges theirs into r; push/pull exchanges carry every registration, so
// that a member that was away catches up. Call it before Run.
func (c *Cluster) ShareRegistrations(r *health.Registry) {
	c.registry.Store(r)
	r.Replicate(func(ch health.RegistrationChange) {
		ch.Node = c.cfg.Name
		c.broadcast(registrationMessage(ch), "registrations")
	})
}

// mergeRegistrations applies registration changes from another member.
func (c *Cluster) mergeRegistrations(changes []health.RegistrationChange) {
	r := c.registry.Load()
	if r == nil {
		return
	}
	now := time.Now()
	for _, ch := range changes {
		if _, err := r.Merge(ch, now); err != nil {
			c.log.Warn("registration from the fleet not written", "id", ch.ID, "err", err)
		}
	}
}
