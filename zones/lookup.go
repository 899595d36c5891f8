package zones

import (
	"strings"

	"github.com/miekg/dns"
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
}

// maxChain bounds the CNAME chain followed inside a zone.
const maxChain = 8

// Lookup answers qtype at name. name is the query name as received (its
// case is kept in owner names); lower is the same name in lower case. Both
// are FQDNs within the zone.
func (z *Zone) Lookup(name, lower string, qtype uint16) Answer {
	var a Answer
	z.lookup(&a, name, lower, qtype, 0)
	return a
}

func (z *Zone) lookup(a *Answer, name, lower string, qtype uint16, depth int) {
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
		a.Extra = z.addresses(a.Extra, a.Ns)
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
	z.answerAt(a, n, name, qtype, depth)
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

// answerAt answers qtype from node n for the owner name.
func (z *Zone) answerAt(a *Answer, n *node, owner string, qtype uint16, depth int) {
	if s := n.service; s != nil {
		var rrs []dns.RR
		switch qtype {
		case dns.TypeA:
			rrs, _ = s.pick(&s.v4)
		case dns.TypeAAAA:
			rrs, _ = s.pick(&s.v6)
		case dns.TypeANY:
			if len(s.v4.backends) > 0 {
				rrs, _ = s.pick(&s.v4)
			} else {
				rrs, _ = s.pick(&s.v6)
			}
		}
		if len(rrs) > 0 {
			a.Result = Success
			a.Answer = appendOwned(a.Answer, rrs, owner)
			if c, ok := rrs[0].(*dns.CNAME); ok && qtype != dns.TypeANY {
				// The fallback CNAME of a service whose backends are all
				// down: follow it like any CNAME.
				z.chase(a, c.Target, qtype, depth)
			}
			return
		}
		if qtype == dns.TypeA || qtype == dns.TypeAAAA {
			a.Result = NoData
			return
		}
	}
	if c := n.get(dns.TypeCNAME); c != nil && qtype != dns.TypeCNAME {
		a.Answer = appendOwned(a.Answer, c, owner)
		a.Result = Success
		if qtype == dns.TypeANY {
			return
		}
		z.chase(a, c[0].(*dns.CNAME).Target, qtype, depth)
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
		a.Extra = z.addresses(a.Extra, rrs)
	}
}

// chase follows a CNAME to target when it is in the zone, the chain is not
// too long and does not loop.
func (z *Zone) chase(a *Answer, target string, qtype uint16, depth int) {
	tl := strings.ToLower(target)
	if depth+1 >= maxChain || !dns.IsSubDomain(z.origin, tl) || chainHas(a.Answer, tl) {
		return
	}
	z.lookup(a, target, tl, qtype, depth+1)
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
func (z *Zone) addresses(dst []dns.RR, rrs []dns.RR) []dns.RR {
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
			v4, all4 := s.pick(&s.v4)
			v6, all6 := s.pick(&s.v6)
			if !all4 {
				dst = append(dst, v4...)
			}
			if !all6 {
				dst = append(dst, v6...)
			}
			continue
		}
		dst = append(dst, n.get(dns.TypeA)...)
		dst = append(dst, n.get(dns.TypeAAAA)...)
	}
	return dst
}
