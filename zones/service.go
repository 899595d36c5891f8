package zones

import (
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones/scale"
	"github.com/gslb/gslb/zones/steer"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// What a service answers for a family when none of its backends of that
// family is serving.
const (
	// AllDownServeAll answers as if every backend were up, as Route 53
	// and gdnsd do: better a chance than nothing.
	AllDownServeAll = "serve_all"
	// AllDownFallback answers the fallback addresses or CNAME.
	AllDownFallback = "fallback"
	// AllDownNoData answers NODATA.
	AllDownNoData = "nodata"
)

// Service is a name answered from a set of backends rather than from static
// records.
type Service struct {
	// Name is the service's owner name as written, FQDN.
	Name string
	// TTL is the TTL of the service's answers.
	TTL uint32
	// AdaptiveTTL lowers the TTL of an answer, down to MinTTL, to the time
	// until it could next change (adaptive_ttl.go).
	AdaptiveTTL bool
	MinTTL      uint32
	// Backends are the service's members, in the order written.
	Backends []*Backend
	// Pools are the groups of backends a policy chooses among, in the
	// order written; a service without pools has one, "default".
	Pools []*Pool
	// Policy chooses the pool, Members the backends within it: names
	// in the tables of policies (policy.go) and selections
	// (selection.go).
	Policy, Members string
	// Answers is how many addresses an answer holds (0: every serving
	// member, for MembersAll).
	Answers int
	// MinHealthy is how many serving members a pool needs to be chosen.
	MinHealthy int
	// StickyV4 and StickyV6 are the client prefix lengths sticky members
	// (and shared draws) hash on.
	StickyV4, StickyV6 int
	// SharedDraw: weighted members are drawn from the client's subnet and
	// the TTL window (draw = "shared", the default in a cluster) rather
	// than at random, so that every instance of a fleet gives a client
	// the same answer within a TTL.
	SharedDraw bool
	// Geo holds the rules of PolicyGeo.
	Geo *GeoRules
	// WhenAllDown is one of AllDownServeAll, AllDownFallback, AllDownNoData.
	WhenAllDown string
	// Law is the control law of a least_load, fastest, shed or adaptive
	// service (Law.Law "" for none), with its parameters.
	Law steer.Params
	// SlowStart ramps the weight of a backend that comes into service
	// (weighted, sticky and the laws; zero Window: off).
	SlowStart steer.SlowStart
	// Registration: agents may register backends into the service's
	// pools through the API, at most MaxRegistered of them.
	Registration  bool
	MaxRegistered int
	// Scale, if set, is the scaling rule of each of its pools, whose
	// events go to Webhooks (docs/registration.md).
	Scale    *scale.Spec
	Webhooks []string
	// Fallback and FallbackCNAME are answered with AllDownFallback.
	Fallback      []netip.Addr
	FallbackCNAME string

	pol        *policy    // the table entry of Policy
	sel        *Selection // the table entry of Members
	fb4, fb6   []dns.RR
	has4, has6 bool               // whether any backend is of the family
	allDown    prometheus.Counter // answers given while all were down; may be nil
}

// Pool is a group of backends, e.g. one region.
type Pool struct {
	Name string
	// Members are the pool's backends, both families.
	Members []*Backend
	// Lat, Lon (when HasCoords) place the pool for PolicyNearest; Bias
	// (-99..99) grows (positive) or shrinks its catchment.
	Lat, Lon  float64
	HasCoords bool
	Bias      float64

	v4, v6 group
	next   atomic.Uint64 // round robin position
	// drawSeed keys the pool's shared draws: a hash of the service's and
	// the pool's names, the same on every instance.
	drawSeed uint64
}

// group is a pool's members of one address family with their records.
type group struct {
	members []*Backend
	rrs     []dns.RR         // rrs[i] answers members[i]
	counts  []*atomic.Uint64 // answers given for members[i]; nil before Bind
}

// count adds one answer to every member whose record is in rrs.
func (g *group) count(rrs []dns.RR) {
	if g.counts == nil {
		return
	}
	for _, rr := range rrs {
		for i, x := range g.rrs {
			if x == rr {
				g.counts[i].Add(1)
				break
			}
		}
	}
}

// Backend is one member of a service.
type Backend struct {
	// ID names the backend in the admin API and state file:
	// "service/backend", the service without its final dot.
	ID string
	// Name identifies the backend within its service.
	Name string
	// Addr is the address answered for the backend.
	Addr netip.Addr
	// Weight is the configured weight (0: standby).
	Weight float64
	// Check says how the backend is probed.
	Check health.Spec
	// Metrics, if not nil, is where the backend's own Prometheus metrics
	// are scraped for its load and latency.
	Metrics *Metrics
	// Source is where the backend comes from: SourceConfig (a zone
	// file) or SourceRegistered (the registration API).
	Source string

	held    bool   // registered, not answered before its lease's first renewal
	seed    uint64 // hash of ID, for rendezvous hashing
	state   *health.State
	scraped *health.Scraped // of Metrics; nil before BindScrapes
	admin   *health.Slot
	steer   *steerSlot // live weight multiplier; nil: the configured weight
}

// Serving tells whether the backend gets new answers: healthy (or forced
// up) and neither drained nor forced down. A backend not bound to a health
// state is serving.
func (b *Backend) Serving() bool {
	if b.held {
		return false
	}
	if b.admin != nil {
		if o := b.admin.Load(); o != nil {
			return o.State == health.AdminUp
		}
	}
	return b.state == nil || b.state.Up()
}

// Pending tells whether the backend waits for its first probe result: it
// is in no answer until then, not even with when_all_down = serve_all.
func (b *Backend) Pending() bool { return b.held || b.state != nil && b.state.Pending() }

// State returns the backend's health state, nil before Bind.
func (b *Backend) State() *health.State { return b.state }

// Override returns the backend's admin override, nil if none.
func (b *Backend) Override() *health.Override {
	if b.admin == nil {
		return nil
	}
	return b.admin.Load()
}

// EffectiveWeight is the weight selection uses: the configured weight,
// scaled by the service's control law and the slow-start ramp.
func (b *Backend) EffectiveWeight() float64 {
	if b.steer == nil {
		return b.Weight
	}
	return b.Weight * math.Float64frombits(b.steer.eff.Load())
}

// ServingMask has bit i set when Backends[i] is serving; ok is false for a
// service of more than 64 backends. Decisions depend on the backends'
// health only through it.
func (s *Service) ServingMask() (mask uint64, ok bool) {
	if len(s.Backends) > 64 {
		return 0, false
	}
	for i, b := range s.Backends {
		if b.Serving() {
			mask |= 1 << i
		}
	}
	return mask, true
}

// AllDown reports whether every backend of the service is out of service.
func (s *Service) AllDown() bool {
	for _, b := range s.Backends {
		if b.Serving() {
			return false
		}
	}
	return true
}

// AllDownFamily reports whether every backend of one address family is out
// of service; ok is false when the service has no backend of the family.
func (s *Service) AllDownFamily(v6 bool) (down, ok bool) {
	for _, b := range s.Backends {
		if b.Addr.Is6() != v6 {
			continue
		}
		ok = true
		if b.Serving() {
			return false, true
		}
	}
	return ok, ok
}

// pendingFamily reports whether a backend of one address family waits for
// its first probe result.
func (s *Service) pendingFamily(v6 bool) bool {
	for _, b := range s.Backends {
		if b.Addr.Is6() == v6 && b.Pending() {
			return true
		}
	}
	return false
}

// GeoRules map a client's location to an ordered list of pools. The most
// specific matching rule wins: CIDR (longest prefix), ASN, subdivision,
// country, continent, then the default.
type GeoRules struct {
	CIDR        []CIDRRule // longest prefix first
	ASN         map[uint32][]*Pool
	Subdivision map[string][]*Pool
	Country     map[string][]*Pool
	Continent   map[string][]*Pool
	Default     []*Pool
}

// CIDRRule sends a network to a list of pools.
type CIDRRule struct {
	Prefix netip.Prefix
	Pools  []*Pool
}

func (g *GeoRules) needsLocation() bool {
	return len(g.Subdivision)+len(g.Country)+len(g.Continent) > 0
}

// Decision is what a service answered and why. How much of the client's
// address it depended on is recorded in the Query.
type Decision struct {
	RRs []dns.RR
	// Pool is the pool chosen, nil when none was.
	Pool *Pool
	// AllDown tells that no backend was serving and WhenAllDown chose.
	AllDown bool
	// Varies tells that members were chosen at random or in turn.
	Varies bool

	tally Tally // what was counted
}

// decide answers A (v6 false) or AAAA (v6 true) for the service: its
// policy orders the pools, the first with enough serving members of the
// family is chosen, and its selection picks the members. count tells
// whether the answer is counted (answers are; additional section data is
// not).
func (s *Service) decide(q *Query, v6, count bool) Decision {
	var d Decision
	tr := q.Trace
	fam := func(p *Pool) *group {
		if v6 {
			return &p.v6
		}
		return &p.v4
	}
	o := s.pol.order(order{view: q.view(), s: s})
	q.done(&o.reads)
	pools := o.pools()
	var chosen, degraded *Pool
	// The serving members of the chosen and the degraded pool (bit i:
	// member i, for pools of up to 64), read once: the selection works
	// on them.
	var chosenMask, degradedMask uint64
	for _, p := range pools {
		g := fam(p)
		n := 0
		var mask uint64
		for i, b := range g.members {
			if b.Serving() {
				n++
				mask |= 1 << (i & 63)
			}
		}
		if n >= s.MinHealthy && n > 0 {
			chosen, chosenMask = p, mask
			if tr != nil {
				tr.Add("pool %s: %d of %d members serving (min_healthy %d): chosen", p.Name, n, len(g.members), s.MinHealthy)
			}
			break
		}
		if n > 0 && degraded == nil {
			degraded, degradedMask = p, mask
		}
		if tr != nil {
			if len(g.members) == 0 {
				tr.Add("pool %s: no %s member: skipped", p.Name, famName(v6))
			} else {
				tr.Add("pool %s: %d of %d members serving, fewer than min_healthy %d: skipped", p.Name, n, len(g.members), s.MinHealthy)
			}
		}
	}
	if chosen == nil && degraded != nil {
		chosen, chosenMask = degraded, degradedMask
		if tr != nil {
			tr.Add("no pool has min_healthy serving members: using pool %s, the first with any", chosen.Name)
		}
	}
	if chosen != nil {
		d.Pool = chosen
		g := fam(chosen)
		d.RRs, d.Varies = s.pick(q, chosen, g, false, chosenMask)
		if s.AdaptiveTTL {
			d.RRs, d.Varies = s.adaptTTL(g, d.RRs, d.Varies, tr)
		}
		if count {
			g.count(d.RRs)
			d.tally.g, d.tally.rrs = g, d.RRs
		}
		return d
	}
	// Nothing serving in any pool for this family.
	d.AllDown = true
	if s.allDown != nil && count {
		s.allDown.Inc()
		d.tally.allDown = s.allDown
	}
	switch s.WhenAllDown {
	case AllDownNoData:
		if tr != nil {
			tr.Add("no %s backend serving: when_all_down = nodata", famName(v6))
		}
		return d
	case AllDownFallback:
		if tr != nil {
			tr.Add("no %s backend serving: when_all_down = fallback", famName(v6))
		}
		if s.FallbackCNAME != "" && !s.AllDown() {
			// A CNAME may not stand beside the other family's addresses
			// (RFC 1034 3.6.2): it is answered only when every backend is
			// out; until then this family gets NODATA.
			if tr != nil {
				tr.Add("the fallback CNAME waits until every backend is out: NODATA")
			}
			return d
		}
		if v6 {
			d.RRs = s.fb6
		} else {
			d.RRs = s.fb4
		}
		return d
	}
	if s.pendingFamily(v6) {
		// serve_all answers backends known to be down only once no
		// backend's health is still unknown: one pending its first
		// result may be up in a moment. Not kept by the answer cache.
		if tr != nil {
			tr.Add("no %s backend serving, and some wait for their first probe result: when_all_down = serve_all waits (NODATA)", famName(v6))
		}
		d.Varies = true
		return d
	}
	for _, p := range pools {
		if g := fam(p); len(g.members) > 0 {
			d.Pool = p
			if tr != nil {
				tr.Add("no %s backend serving: when_all_down = serve_all, answering pool %s as if all were up", famName(v6), p.Name)
			}
			d.RRs, d.Varies = s.pick(q, p, g, true, 0)
			if count {
				g.count(d.RRs)
				d.tally.g, d.tally.rrs = g, d.RRs
			}
			return d
		}
	}
	return d
}

// pick runs the service's selection on group g of pool p, whose serving
// members decide read (serving). With all, every member counts as
// serving (when_all_down = serve_all) unless an operator took it out.
func (s *Service) pick(q *Query, p *Pool, g *group, all bool, serving uint64) (rrs []dns.RR, varies bool) {
	if tr := q.Trace; tr != nil {
		for _, b := range g.members {
			tr.Add("  member %s %s: %s, weight %g, effective weight %.3g%s", b.Name, b.Addr, memberState(b), b.Weight, b.EffectiveWeight(), factorsText(b))
		}
	}
	c := Choice{view: q.view(), s: s, pool: p, g: g, all: all}
	if !c.freeze(serving) {
		// Every member drained or forced down (or a health change since
		// the pool was chosen), or with serve_all pending its first
		// result: nothing to answer. Under serve_all that ends when a
		// result comes in without changing which members serve, so the
		// answer is not kept.
		return nil, all
	}
	c = s.sel.Pick(c)
	q.done(&c.reads)
	// serve_all answers members whose health says down: an operator's
	// override of one of them changes the answer without changing which
	// members serve, so it is not kept (Varies) for the answer cache.
	return c.rrs, s.sel.Varies || all || c.varies
}

// table maps names, as a service's policy or members key gives them, to
// entries: the one place a pool policy (policies) or a member selection
// (selections) is registered, as blackbox_exporter registers its probers.
type table[T any] map[string]*T

// names lists the table's names in order for error messages: "a, b or c".
func (t table[T]) names() string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// setup is a service as the validate functions of its policy and
// selection see it while its zone file loads.
type setup struct {
	// s is the service as read so far: a selection is validated before
	// the backends are read, a policy after the pools.
	s   *Service
	cfg *Config
	// path is the service's key path, dotted: services.www.
	path string
	// Which keys were written: pools, a geo table, and answers (with a
	// value in range; a value out of range has its error already).
	pools, geo, answers bool
	// at reports a problem at the service's key key (a message that names
	// its key path itself, as every zone file error does).
	at func(key, format string, args ...any)
	// suspected tells whether the service's key key is probably written
	// misspelled (reported as such): nothing follows from its absence.
	suspected func(key string) bool
}
