package zones

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/gslb/gslb/geo"
)

// Pool policies: which group of backends serves a client. Each is an
// entry of the table policies.
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

// policy is a way of putting a service's pools in the order they are
// tried: an entry of the table policies, which policy = "name" names.
type policy struct {
	// validate reports what is wrong with a service that uses the
	// policy; nil accepts every service.
	validate func(v *setup)
	// order puts the pools in order for the query. It gets the order by
	// value and returns it; the reads of the client it made travel with
	// it and become part of the answer's Scope.
	order func(o order) order
}

// policies is the table of pool policies: a new one is a function or two
// and an entry here.
var policies = table[policy]{
	PolicySingle:   {validate: vetSingle, order: orderWritten},
	PolicyFailover: {order: orderFailover},
	PolicyGeo:      {validate: vetGeo, order: orderGeo},
	PolicyNearest:  {validate: vetNearest, order: orderNearest},
}

// maxOrder is how many pools an order holds without allocating.
const maxOrder = 16

// order is the pools to try for a query, best first, as a policy builds
// it: a slice the snapshot keeps (set), or pools added one by one.
type order struct {
	view
	s *Service

	list  []*Pool // set: the whole order
	buf   [maxOrder]*Pool
	n     int
	grown []*Pool // the order, once it outgrew buf
}

// set makes list, which the snapshot keeps, the order.
func (o *order) set(list []*Pool) { o.list = list }

// add appends p to the order; a policy sets the order or adds to it,
// never both.
func (o *order) add(p *Pool) {
	switch {
	case o.grown != nil:
		o.grown = append(o.grown, p)
	case o.n < len(o.buf):
		o.buf[o.n] = p
		o.n++
	default:
		o.grown = append(append(make([]*Pool, 0, 2*len(o.buf)), o.buf[:]...), p)
	}
}

// pools returns the order; the slice may point into o.
func (o *order) pools() []*Pool {
	switch {
	case o.list != nil:
		return o.list
	case o.grown != nil:
		return o.grown
	}
	return o.buf[:o.n]
}

// has reports whether p is in the order.
func (o *order) has(p *Pool) bool {
	for _, x := range o.pools() {
		if x == p {
			return true
		}
	}
	return false
}

// orderWritten is the order of single: the one pool.
func orderWritten(o order) order {
	o.set(o.s.Pools)
	return o
}

func orderFailover(o order) order {
	if o.trace != nil {
		o.trace.Add("policy failover: pools in priority order: %s", poolNames(o.s.Pools))
	}
	o.set(o.s.Pools)
	return o
}

func vetSingle(v *setup) {
	if v.pools {
		v.at("policy", "%s.policy: \"single\" takes no pools; choose geo, nearest or failover", v.path)
	}
}

func vetGeo(v *setup) {
	if !v.geo {
		v.at("policy", "%s.policy: \"geo\" needs a [%s.geo] table of rules", v.path, v.path)
	}
}

func vetNearest(v *setup) {
	for _, p := range v.s.Pools {
		if !p.HasCoords {
			v.at("pools", "%s: policy \"nearest\" needs coordinates = [lat, lon] on pool %s", v.path, p.Name)
		}
	}
	if !v.cfg.HasGeo() {
		v.at("policy", "%s.policy: \"nearest\" needs a GeoIP database ([geo] database in the main configuration)", v.path)
	}
}

// orderGeo puts first the pools of the most specific rule that matches
// the client, then every other pool as written.
func orderGeo(o order) order {
	g := o.s.Geo
	var loc geo.Location
	var reads [2]ClientRead // of the database and of the address
	n := 0
	if o.geo != nil && (g.needsLocation() || len(g.ASN) > 0) {
		// The ASN database is read only when a rule needs it.
		loc, reads[n] = o.locate(o.geo, len(g.ASN) > 0)
		if o.trace != nil {
			traceLocation(o.trace, reads[n].Addr(), loc)
		}
		n++
	}
	var addr netip.Addr
	if len(g.CIDR) > 0 {
		reads[n] = o.read()
		addr = reads[n].Addr()
		n++
	}
	list, scope, rule := g.match(addr, loc)
	// match found how long a prefix of the client the rule depended on.
	for _, r := range reads[:n] {
		r.DependsOn(scope)
	}
	if o.trace != nil {
		o.trace.Add("policy geo: rule %s gives pools %s", rule, poolNames(list))
	}
	for _, p := range list {
		o.add(p)
	}
	// Then every other pool, as a last resort.
	for _, p := range o.s.Pools {
		if !o.has(p) {
			o.add(p)
		}
	}
	return o
}

// match finds the most specific rule for the client at addr (invalid when
// there are no cidr rules), located at loc. scope is the prefix length the
// choice depended on: long enough that every address sharing it gets the
// same rule.
func (g *GeoRules) match(addr netip.Addr, loc geo.Location) (pools []*Pool, scope int, rule string) {
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

// orderNearest orders the pools by distance from the client, each
// distance scaled by the pool's bias; the database network of the client
// is the scope.
func orderNearest(o order) order {
	var loc geo.Location
	if o.geo != nil {
		var r ClientRead
		loc, r = o.locate(o.geo, false)
		if o.trace != nil {
			traceLocation(o.trace, r.Addr(), loc)
		}
	}
	for _, p := range o.s.Pools {
		o.add(p)
	}
	out := o.pools()
	if !loc.HasCoords {
		if o.trace != nil {
			o.trace.Add("policy nearest: client location unknown; pools in the order written: %s", poolNames(out))
		}
		return o
	}
	dist := func(p *Pool) float64 {
		if !p.HasCoords {
			return math.Inf(1)
		}
		return distanceKm(loc.Lat, loc.Lon, p.Lat, p.Lon) * (1 - p.Bias/100)
	}
	slices.SortStableFunc(out, func(a, b *Pool) int { return cmp.Compare(dist(a), dist(b)) })
	if o.trace != nil {
		var parts []string
		for _, p := range out {
			parts = append(parts, fmt.Sprintf("%s %.0f km", p.Name, dist(p)))
		}
		o.trace.Add("policy nearest: pools by biased distance: %s", strings.Join(parts, ", "))
	}
	return o
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
