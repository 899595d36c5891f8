package zones

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Pool selection policies: which group of backends serves a client.
const (
	// PolicySingle: every backend in one pool (no pools written).
	PolicySingle = "single"
	// PolicyGeo: rules map the client's location to an ordered list of
	// pools; most specific rule wins.
	PolicyGeo = "geo"
	// PolicyNearest: pools ordered by distance from the client, each
	// distance scaled by the pool's bias.
	PolicyNearest = "nearest"
	// PolicyFailover: pools in the order written.
	PolicyFailover = "failover"
)

// Member selection within the chosen pool.
const (
	MembersAll        = "all"
	MembersWeighted   = "weighted"
	MembersRoundRobin = "roundrobin"
	MembersSticky     = "sticky"
	MembersAdaptive   = "adaptive"
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
	// Backends are the service's members, in the order written.
	Backends []*Backend
	// Pools are the groups of backends a policy chooses among, in the
	// order written; a service without pools has one, "default".
	Pools []*Pool
	// Policy chooses the pool, Members the backends within it.
	Policy, Members string
	// Answers is how many addresses an answer holds (0: every serving
	// member, for MembersAll).
	Answers int
	// MinHealthy is how many serving members a pool needs to be chosen.
	MinHealthy int
	// StickyV4 and StickyV6 are the client prefix lengths sticky members
	// hash on.
	StickyV4, StickyV6 int
	// Geo holds the rules of PolicyGeo.
	Geo *GeoRules
	// WhenAllDown is one of AllDownServeAll, AllDownFallback, AllDownNoData.
	WhenAllDown string
	// Fallback and FallbackCNAME are answered with AllDownFallback.
	Fallback      []netip.Addr
	FallbackCNAME string

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

	seed  uint64 // hash of ID, for rendezvous hashing
	state *health.State
	admin *health.Slot
	eff   *atomic.Uint64 // adaptive weight multiplier (float64 bits); nil = 1
}

// Serving tells whether the backend gets new answers: healthy (or forced
// up) and neither drained nor forced down. A backend not bound to a health
// state is serving.
func (b *Backend) Serving() bool {
	if b.admin != nil {
		if o := b.admin.Load(); o != nil {
			return o.State == health.AdminUp
		}
	}
	return b.state == nil || b.state.Up()
}

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
// scaled by live signals for adaptive services.
func (b *Backend) EffectiveWeight() float64 {
	if b.eff == nil {
		return b.Weight
	}
	return b.Weight * math.Float64frombits(b.eff.Load())
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

// Client is where a query comes from, for the policies.
type Client struct {
	// Addr is the client's address: the EDNS Client Subnet address when
	// one is used, else the source address of the query.
	Addr netip.Addr
	// Bits is how many leading bits of Addr are known: the ECS source
	// prefix, else the full length.
	Bits int
}

// NewClient returns the client at addr of which bits leading bits are
// known.
func NewClient(addr netip.Addr, bits int) Client { return Client{Addr: addr, Bits: bits} }

// Locator finds where an address is; *geo.Locator is one.
type Locator interface {
	// Lookup finds the location and the AS number.
	Lookup(netip.Addr) geo.Location
	// LookupLocation finds the location only.
	LookupLocation(netip.Addr) geo.Location
}

// Query is a question and its context, as a lookup needs it.
type Query struct {
	// Name is the query name as received, Lower the same in lower case.
	Name, Lower string
	Type        uint16
	Client      Client
	// Geo locates the client; nil when no database is configured.
	Geo Locator
	// Rand returns random numbers for weighted choices; nil uses
	// math/rand/v2.
	Rand func() uint64
	// Trace, when not nil, collects the decision in words (explain).
	Trace *Trace
}

// Trace is the decision path of one query in plain words.
type Trace struct {
	Lines []string
}

// Add appends a line; callers check for nil first so that the query path
// builds no arguments.
func (t *Trace) Add(format string, args ...any) {
	t.Lines = append(t.Lines, fmt.Sprintf(format, args...))
}

func (q *Query) rand() uint64 {
	if q.Rand != nil {
		return q.Rand()
	}
	return rand.Uint64()
}

// Decision is what a service answered and why.
type Decision struct {
	RRs []dns.RR
	// Scope is the prefix length of the client address the answer
	// depended on (ECS SCOPE PREFIX-LENGTH).
	Scope int
	// Pool is the pool chosen, nil when none was.
	Pool *Pool
	// AllDown tells that no backend was serving and WhenAllDown chose.
	AllDown bool
	// Varies tells that members were chosen at random or in turn.
	Varies bool

	tally Tally // what was counted
}

// decide answers A (v6 false) or AAAA (v6 true) for the service. count
// tells whether an all-down answer is counted (answers are; additional
// section data is not).
func (s *Service) decide(q *Query, v6, count bool) Decision {
	var d Decision
	tr := q.Trace
	fam := func(p *Pool) *group {
		if v6 {
			return &p.v6
		}
		return &p.v4
	}
	var order [16]*Pool
	pools := s.order(q, &d, order[:0])
	var chosen, degraded *Pool
	for _, p := range pools {
		g := fam(p)
		n := 0
		for _, b := range g.members {
			if b.Serving() {
				n++
			}
		}
		if n >= s.MinHealthy && n > 0 {
			chosen = p
			if tr != nil {
				tr.Add("pool %s: %d of %d members serving (min_healthy %d): chosen", p.Name, n, len(g.members), s.MinHealthy)
			}
			break
		}
		if n > 0 && degraded == nil {
			degraded = p
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
		chosen = degraded
		if tr != nil {
			tr.Add("no pool has min_healthy serving members: using pool %s, the first with any", chosen.Name)
		}
	}
	if chosen != nil {
		d.Pool = chosen
		g := fam(chosen)
		d.RRs = s.members(q, &d, g, chosen, false)
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
	for _, p := range pools {
		if g := fam(p); len(g.members) > 0 {
			d.Pool = p
			if tr != nil {
				tr.Add("no %s backend serving: when_all_down = serve_all, answering pool %s as if all were up", famName(v6), p.Name)
			}
			d.RRs = s.members(q, &d, g, p, true)
			if count {
				g.count(d.RRs)
				d.tally.g, d.tally.rrs = g, d.RRs
			}
			return d
		}
	}
	return d
}

func famName(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// order appends the pools to try, best first, and sets the scope the order
// depended on.
func (s *Service) order(q *Query, d *Decision, out []*Pool) []*Pool {
	tr := q.Trace
	switch s.Policy {
	case PolicyGeo:
		var loc geo.Location
		if q.Geo != nil && (s.Geo.needsLocation() || len(s.Geo.ASN) > 0) {
			// The ASN database is read only when a rule needs it.
			if len(s.Geo.ASN) > 0 {
				loc = q.Geo.Lookup(q.Client.Addr)
			} else {
				loc = q.Geo.LookupLocation(q.Client.Addr)
			}
			if tr != nil {
				traceLocation(tr, q, loc)
			}
		}
		list, scope, rule := s.Geo.match(q.Client, loc)
		d.Scope = max(d.Scope, scope)
		if tr != nil {
			tr.Add("policy geo: rule %s gives pools %s", rule, poolNames(list))
		}
		out = append(out, list...)
		// Then every other pool, as a last resort.
		for _, p := range s.Pools {
			if !containsPool(out, p) {
				out = append(out, p)
			}
		}
		return out
	case PolicyNearest:
		var loc geo.Location
		if q.Geo != nil {
			loc = q.Geo.LookupLocation(q.Client.Addr)
			if tr != nil {
				traceLocation(tr, q, loc)
			}
			if loc.Network.IsValid() {
				d.Scope = max(d.Scope, loc.Network.Bits())
			}
		}
		out = append(out, s.Pools...)
		if !loc.HasCoords {
			if tr != nil {
				tr.Add("policy nearest: client location unknown; pools in the order written: %s", poolNames(out))
			}
			return out
		}
		dist := func(p *Pool) float64 {
			if !p.HasCoords {
				return math.Inf(1)
			}
			return distanceKm(loc.Lat, loc.Lon, p.Lat, p.Lon) * (1 - p.Bias/100)
		}
		sort.SliceStable(out, func(i, j int) bool { return dist(out[i]) < dist(out[j]) })
		if tr != nil {
			var parts []string
			for _, p := range out {
				parts = append(parts, fmt.Sprintf("%s %.0f km", p.Name, dist(p)))
			}
			tr.Add("policy nearest: pools by biased distance: %s", strings.Join(parts, ", "))
		}
		return out
	}
	if tr != nil && s.Policy == PolicyFailover {
		tr.Add("policy failover: pools in priority order: %s", poolNames(s.Pools))
	}
	return append(out, s.Pools...)
}

func containsPool(list []*Pool, p *Pool) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

func poolNames(ps []*Pool) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func traceLocation(tr *Trace, q *Query, l geo.Location) {
	if !l.Found {
		tr.Add("location of %s: not in the database (network %v)", q.Client.Addr, l.Network)
	} else {
		coords := "no coordinates"
		if l.HasCoords {
			coords = fmt.Sprintf("%.4f, %.4f", l.Lat, l.Lon)
		}
		tr.Add("location of %s: country %s, continent %s, subdivision %s, city %s, %s (network %v)",
			q.Client.Addr, orNone(l.Country), orNone(l.Continent), orNone(l.Subdivision), orNone(l.City), coords, l.Network)
	}
	if l.ASNetwork.IsValid() {
		tr.Add("AS of %s: %s (network %v)", q.Client.Addr, asText(l.ASN, l.ASOrg), l.ASNetwork)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func asText(asn uint32, org string) string {
	if asn == 0 {
		return "unknown"
	}
	if org != "" {
		return fmt.Sprintf("AS%d (%s)", asn, org)
	}
	return fmt.Sprintf("AS%d", asn)
}

// match finds the most specific rule for the client. scope is the prefix
// length the choice depended on: long enough that every address sharing it
// gets the same rule.
func (g *GeoRules) match(c Client, loc geo.Location) (pools []*Pool, scope int, rule string) {
	addr := c.Addr
	for _, r := range g.CIDR {
		if r.Prefix.Contains(addr) {
			pools, scope, rule = r.Pools, r.Prefix.Bits(), "cidr "+r.Prefix.String()
			break
		}
	}
	if pools == nil {
		switch {
		case loc.ASN != 0 && g.ASN[loc.ASN] != nil:
			pools, rule = g.ASN[loc.ASN], fmt.Sprintf("asn %d", loc.ASN)
		case loc.Subdivision != "" && g.Subdivision[loc.Subdivision] != nil:
			pools, rule = g.Subdivision[loc.Subdivision], "subdivision "+loc.Subdivision
		case loc.Country != "" && g.Country[loc.Country] != nil:
			pools, rule = g.Country[loc.Country], "country "+loc.Country
		case loc.Continent != "" && g.Continent[loc.Continent] != nil:
			pools, rule = g.Continent[loc.Continent], "continent "+loc.Continent
		default:
			pools, rule = g.Default, "default"
		}
		// The database record decided (even a miss: it chose the default).
		if g.needsLocation() && loc.Network.IsValid() {
			scope = max(scope, loc.Network.Bits())
		}
		if len(g.ASN) > 0 && loc.ASNetwork.IsValid() {
			scope = max(scope, loc.ASNetwork.Bits())
		}
	}
	// A CIDR rule that does not hold the client but lies inside the block
	// the scope names would make that block answer differently: lengthen
	// the scope until the block leaves it out.
	for _, r := range g.CIDR {
		if r.Prefix.Contains(addr) || r.Prefix.Addr().Is4() != addr.Is4() {
			continue
		}
		if r.Prefix.Bits() > scope && netip.PrefixFrom(addr, scope).Masked().Contains(r.Prefix.Addr()) {
			scope = commonBits(addr, r.Prefix.Addr()) + 1
		}
	}
	return pools, scope, rule
}

// commonBits counts the leading bits two addresses of one family share.
func commonBits(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	n := 0
	start := 0
	if a.Is4() {
		start = 12
	}
	for i := start; i < 16; i++ {
		d := x[i] ^ y[i]
		if d == 0 {
			n += 8
			continue
		}
		for d&0x80 == 0 {
			n++
			d <<= 1
		}
		return n
	}
	return n
}

// distanceKm is the great-circle distance between two points.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Min(1, math.Sqrt(a)))
}

// maxStack is how many members selection handles without allocating.
const maxStack = 64

// members chooses the records to answer from group g of pool p. With all,
// every member counts as serving (when_all_down = serve_all).
func (s *Service) members(q *Query, d *Decision, g *group, p *Pool, all bool) []dns.RR {
	tr := q.Trace
	var idxBuf [maxStack]int
	idx := idxBuf[:0]
	for i, b := range g.members {
		// serve_all answers as if every backend were healthy, but an
		// operator's down or drain still holds.
		if b.Serving() || all && b.Override() == nil {
			idx = append(idx, i)
		}
	}
	if tr != nil {
		for _, b := range g.members {
			tr.Add("  member %s %s: %s, weight %g, effective weight %.3g", b.Name, b.Addr, memberState(b), b.Weight, b.EffectiveWeight())
		}
	}
	if len(idx) == 0 {
		// Every member drained or forced down (or a health change since
		// the pool was chosen): nothing to answer.
		return nil
	}
	if s.Members == MembersAll || s.Members == MembersRoundRobin {
		// Weight 0 is a standby here too: answered only when no weighted
		// member serves.
		k := 0
		for _, i := range idx {
			if g.members[i].Weight > 0 {
				idx[k] = i
				k++
			}
		}
		if k > 0 {
			idx = idx[:k]
		}
	}
	n := s.Answers
	if s.Members == MembersAll || n <= 0 || n > len(idx) {
		n = len(idx)
	}
	if s.Members == MembersAll {
		if len(idx) == len(g.members) {
			return g.rrs
		}
		return pickIdx(g, idx)
	}
	if s.Members != MembersSticky {
		d.Varies = true
	}
	switch s.Members {
	case MembersRoundRobin:
		// explain (a trace) shows the next turn without taking it.
		next := p.next.Load() + 1
		if tr == nil {
			next = p.next.Add(1)
		}
		start := int(next % uint64(len(idx)))
		out := make([]dns.RR, 0, n)
		for k := 0; k < n; k++ {
			out = append(out, g.rrs[idx[(start+k)%len(idx)]])
		}
		return out
	case MembersSticky:
		bits := s.StickyV4
		if q.Client.Addr.Is6() {
			bits = s.StickyV6
		}
		bits = min(bits, q.Client.Bits)
		d.Scope = max(d.Scope, bits)
		return stickyPick(g, idx, n, netip.PrefixFrom(q.Client.Addr, bits).Masked().Addr(), tr)
	}
	// Weighted (configured or adaptive weights), without replacement; a
	// weight of 0 is a standby, used only when no weighted member serves.
	adaptive := s.Members == MembersAdaptive
	var wBuf [maxStack]float64
	w := wBuf[:0]
	total := 0.0
	for _, i := range idx {
		b := g.members[i]
		x := b.Weight
		if adaptive {
			x = b.EffectiveWeight()
		}
		w = append(w, x)
		total += x
	}
	if total == 0 && adaptive {
		// Every member at capacity or slow: fall back to the weights as
		// configured rather than answer nothing.
		for k, i := range idx {
			w[k] = g.members[i].Weight
			total += w[k]
		}
	}
	if total == 0 {
		for k := range w {
			w[k] = 1
		}
		total = float64(len(w))
		if tr != nil {
			tr.Add("  only standby (weight 0) members serve: choosing among them")
		}
	}
	left := 0 // members with a weight still to pick
	for _, x := range w {
		if x > 0 {
			left++
		}
	}
	out := make([]dns.RR, 0, n)
	for len(out) < n && left > 0 {
		r := float64(q.rand()>>11) / (1 << 53) * total
		k := -1
		for i, x := range w {
			if x <= 0 {
				continue
			}
			k = i // the last positive one, should rounding leave r over
			if r < x {
				break
			}
			r -= x
		}
		out = append(out, g.rrs[idx[k]])
		total -= w[k]
		w[k] = 0
		left--
	}
	return out
}

func memberState(b *Backend) string {
	var parts []string
	if st := b.State(); st != nil {
		if st.Up() {
			parts = append(parts, "healthy")
		} else {
			parts = append(parts, "unhealthy ("+st.LastError()+")")
		}
	}
	if o := b.Override(); o != nil {
		parts = append(parts, "admin "+o.State)
	}
	if b.Serving() {
		parts = append(parts, "serving")
	} else {
		parts = append(parts, "not serving")
	}
	return strings.Join(parts, ", ")
}

func pickIdx(g *group, idx []int) []dns.RR {
	out := make([]dns.RR, len(idx))
	for k, i := range idx {
		out[k] = g.rrs[i]
	}
	return out
}

// stickyPick chooses n members by weighted rendezvous hashing of the
// client's subnet: each member scores w / -ln(u), u a hash of subnet and
// member, and the highest scores win. A client keeps its member while it
// serves; when one goes, only its clients move.
func stickyPick(g *group, idx []int, n int, subnet netip.Addr, tr *Trace) []dns.RR {
	a := subnet.As16()
	h := fnv64a(a[:])
	var scoreBuf [maxStack]float64
	scores := scoreBuf[:0]
	anyWeight := false
	for _, i := range idx {
		if g.members[i].Weight > 0 {
			anyWeight = true
		}
	}
	for _, i := range idx {
		b := g.members[i]
		w := b.Weight
		if !anyWeight {
			w = 1
		}
		if w <= 0 {
			scores = append(scores, -1)
			continue
		}
		u := (float64(Mix64(h^b.seed)>>11) + 0.5) / (1 << 53)
		scores = append(scores, w/-math.Log(u))
	}
	out := make([]dns.RR, 0, n)
	for len(out) < n {
		best := -1
		for k := range scores {
			if scores[k] >= 0 && (best < 0 || scores[k] > scores[best]) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		out = append(out, g.rrs[idx[best]])
		scores[best] = -1
	}
	if tr != nil {
		tr.Add("  sticky: client subnet %s hashed to the members above", subnet)
	}
	return out
}
