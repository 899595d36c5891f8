package zones

import (
	"strings"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Result tells what a lookup found; the DNS server maps it to the rcode, the
// AA flag and the authority section in one place.
type Result uint8

// Results of a lookup.
const (
	// Success: the answer section holds the answer (possibly a CNAME
	// chain that ends outside the zone).
	Success Result = iota
	// NoData: the name exists but has no records of the type.
	NoData
	// NXDomain: the name does not exist.
	NXDomain
	// Delegation: the name is at or below a zone cut; Ns holds the
	// child's NS records and Extra their glue.
	Delegation
)

// String names the result.
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case NoData:
		return "nodata"
	case NXDomain:
		return "nxdomain"
	case Delegation:
		return "delegation"
	}
	return "unknown"
}

// Answer is the outcome of a lookup in one zone.
type Answer struct {
	Result Result
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
	// Scope is the prefix length of the client address the answer
	// depended on (the ECS SCOPE PREFIX-LENGTH): the longest of the reads
	// policies and selections made of the client (ClientRead), 0 when
	// none read it. A read counts every known bit of the client unless it
	// says it depends on fewer, so no answer depends on the client with
	// Scope 0 unless its policy said so.
	Scope int
	// Service and Pool tell which service and pool answered, if any.
	Service *Service
	Pool    *Pool
	// Varies tells that the same query may get another answer next time
	// even if nothing changes: members chosen at random or in turn.
	// Otherwise the answer is a function of the snapshot, the client
	// address within Scope bits, the GeoIP database and which of the
	// Service's backends serve (ServingMask).
	Varies bool
	// Tally counts the answer in the per-backend answer metrics again,
	// for an answer given from a cache.
	Tally Tally
}

// Tally is what a lookup counted in the answer metrics.
type Tally struct {
	g       *group
	rrs     []dns.RR
	allDown prometheus.Counter
}

// Count counts the answer once more.
func (t Tally) Count() {
	if t.g != nil {
		t.g.count(t.rrs)
	}
	if t.allDown != nil {
		t.allDown.Inc()
	}
}

// Lookup answers q. Its name is an FQDN within the zone, as received (its
// case is kept in owner names) and in lower case.
func (z *Zone) Lookup(q *Query) Answer {
	var a Answer
	q.scope = 0
	z.lookup(&a, q, q.Name, q.Lower, 0)
	// What every policy and selection read of the client, the CNAME
	// chain and the additional section included.
	a.Scope = q.scope
	return a
}

func (z *Zone) lookup(a *Answer, q *Query, name, lower string, depth int) {
	qtype := q.Type
	n, encloser, cut := z.find(lower)
	if cut != nil && (cut != n || qtype != dns.TypeDS) {
		if depth > 0 {
			// A CNAME chain that enters a delegation ends there; the
			// resolver follows the target itself.
			a.Result = Success
			return
		}
		a.Result = Delegation
		a.Ns = cut.get(dns.TypeNS)
		a.Extra = z.addresses(a, q, a.Extra, a.Ns)
		return
	}
	if n == nil {
		// RFC 4592: synthesise from "*.<closest encloser>" if it exists.
		n = z.nodes["*."+encloser]
		if n == nil {
			a.Result = NXDomain
			return
		}
	}
	z.answerAt(a, q, n, name, depth)
}

// ServiceAt returns the service owning the name (lower case), nil if none.
func (z *Zone) ServiceAt(lower string) *Service {
	if n := z.nodes[lower]; n != nil {
		return n.service
	}
	return nil
}

// find walks from the apex down to lower. It returns the node of lower (nil
// if the name does not exist), the closest encloser's lower-case name, and
// the first delegation point met on the way, if any.
func (z *Zone) find(lower string) (n *node, encloser string, cut *node) {
	encloser = z.origin
	if lower == z.origin {
		return z.nodes[z.origin], encloser, nil
	}
	// Label start offsets of the part of lower below the origin.
	stop := len(lower) - len(z.origin)
	var starts [128]int
	k := 0
	for off, end := 0, false; !end && off < stop && k < len(starts); off, end = dns.NextLabel(lower, off) {
		starts[k] = off
		k++
	}
	for i := k - 1; i >= 0; i-- {
		suffix := lower[starts[i]:]
		n = z.nodes[suffix]
		if n == nil {
			return nil, encloser, nil
		}
		if n.cut {
			if i == 0 {
				return n, suffix, n
			}
			return nil, suffix, n
		}
		encloser = suffix
	}
	return n, encloser, nil
}

// answerAt answers the query from node n for the owner name.
func (z *Zone) answerAt(a *Answer, q *Query, n *node, owner string, depth int) {
	qtype := q.Type
	if s := n.service; s != nil && (qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY) {
		v6 := qtype == dns.TypeAAAA || qtype == dns.TypeANY && !s.hasFamily(false)
		if !s.hasFamily(v6) {
			if qtype != dns.TypeANY {
				if q.Trace != nil {
					q.Trace.Add("service %s has no %s backend: NODATA", s.Name, famName(v6))
				}
				a.Result = NoData
				return
			}
		} else {
			if q.Trace != nil {
				if s.Answers <= 0 {
					q.Trace.Add("service %s: policy %s, members all (every serving member of the chosen pool)", s.Name, s.Policy)
				} else {
					q.Trace.Add("service %s: policy %s, members %s, %d per answer", s.Name, s.Policy, s.Members, s.Answers)
				}
			}
			d := s.decide(q, v6, q.Trace == nil) // explain does not count
			a.Service, a.Pool, a.Tally = s, d.Pool, d.tally
			a.Varies = a.Varies || d.Varies
			if len(d.RRs) > 0 {
				a.Result = Success
				a.Answer = appendOwned(a.Answer, d.RRs, owner)
				if c, ok := d.RRs[0].(*dns.CNAME); ok && qtype != dns.TypeANY {
					// The fallback CNAME of a service whose backends are
					// all down: follow it like any CNAME.
					z.chase(a, q, c.Target, depth)
				}
				return
			}
			if qtype != dns.TypeANY {
				a.Result = NoData
				return
			}
		}
	}
	if c := n.get(dns.TypeCNAME); c != nil && qtype != dns.TypeCNAME {
		a.Answer = appendOwned(a.Answer, c, owner)
		a.Result = Success
		if qtype == dns.TypeANY {
			return
		}
		z.chase(a, q, c[0].(*dns.CNAME).Target, depth)
		return
	}
	var rrs []dns.RR
	if qtype == dns.TypeANY {
		// RFC 8482: answer ANY with one RRset rather than all of them.
		if len(n.rrsets) > 0 {
			rrs = n.rrsets[0].rrs
		}
	} else {
		rrs = n.get(qtype)
	}
	if rrs == nil {
		a.Result = NoData
		return
	}
	a.Result = Success
	a.Answer = appendOwned(a.Answer, rrs, owner)
	switch rrs[0].Header().Rrtype {
	case dns.TypeNS, dns.TypeMX, dns.TypeSRV:
		a.Extra = z.addresses(a, q, a.Extra, rrs)
	}
}

// chase follows a CNAME to target when it is in the zone, the chain is not
// too long and does not loop.
func (z *Zone) chase(a *Answer, q *Query, target string, depth int) {
	tl := strings.ToLower(target)
	if depth+1 > z.maxChain || !dns.IsSubDomain(z.origin, tl) || chainHas(a.Answer, tl) {
		return
	}
	if q.Trace != nil {
		q.Trace.Add("CNAME to %s: following it in the zone", target)
	}
	z.lookup(a, q, target, tl, depth+1)
}

// chainHas reports whether a CNAME in the answer is owned by lower: a loop.
func chainHas(answer []dns.RR, lower string) bool {
	for _, rr := range answer {
		if strings.EqualFold(rr.Header().Name, lower) {
			return true
		}
	}
	return false
}

// appendOwned appends rrs to dst with owner as their owner name, copying a
// record only when its owner is spelt differently.
func appendOwned(dst, rrs []dns.RR, owner string) []dns.RR {
	for _, rr := range rrs {
		if rr.Header().Name != owner {
			rr = dns.Copy(rr)
			rr.Header().Name = owner
		}
		dst = append(dst, rr)
	}
	return dst
}

// addresses appends the in-zone A and AAAA records of the targets of NS, MX
// and SRV records: glue and additional-section processing.
func (z *Zone) addresses(a *Answer, q *Query, dst []dns.RR, rrs []dns.RR) []dns.RR {
	for _, rr := range rrs {
		var target string
		switch r := rr.(type) {
		case *dns.NS:
			target = r.Ns
		case *dns.MX:
			target = r.Mx
		case *dns.SRV:
			target = r.Target
		default:
			continue
		}
		n := z.nodes[strings.ToLower(target)]
		if n == nil {
			continue
		}
		if s := n.service; s != nil {
			// The targets' addresses as this client would get them.
			for _, v6 := range []bool{false, true} {
				if s.hasFamily(v6) {
					d := s.decide(q, v6, false)
					a.Varies = a.Varies || d.Varies
					if !d.AllDown {
						dst = append(dst, d.RRs...)
					}
				}
			}
			continue
		}
		dst = append(dst, n.get(dns.TypeA)...)
		dst = append(dst, n.get(dns.TypeAAAA)...)
	}
	return dst
}
