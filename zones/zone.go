package zones

import (
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Zone is one compiled, read-only zone. All names in its index are
// lower-case FQDNs; owner names in records keep the case they were written
// in.
type Zone struct {
	// Origin is the zone's apex as written, and origin its lower-case form.
	Origin string
	origin string
	// File is the zone file the zone came from.
	File string
	// SOA is the zone's SOA record.
	SOA *dns.SOA
	// negSOA is the SOA as it goes into negative answers: its TTL is
	// min(SOA TTL, SOA MINIMUM) as RFC 2308 section 3 asks.
	negSOA []dns.RR // one record
	// negWire is negSOA as miekg/dns compresses it (soawire.go).
	negWire *SOAWire
	// Services are the zone's dynamically answered names, sorted by name.
	Services []*Service

	nodes map[string]*node
	// signing is how the zone is signed, nil when it is not ([dnssec]).
	signing *Signing
	// maxChain bounds the CNAME chain an answer follows inside the zone.
	maxChain int
}

// node is one name in the zone tree: it holds records, a service, or nothing
// (an empty non-terminal).
type node struct {
	name    string   // owner as written, FQDN
	rrsets  []rrset  // sorted by type
	service *Service // dynamic A/AAAA, or nil
	cut     bool     // a delegation point: NS records below the apex
	wild    bool     // the name's first label is "*"
}

type rrset struct {
	typ uint16
	rrs []dns.RR
}

func (n *node) get(t uint16) []dns.RR {
	for _, s := range n.rrsets {
		if s.typ == t {
			return s.rrs
		}
	}
	return nil
}

func (n *node) empty() bool { return len(n.rrsets) == 0 && n.service == nil }

func (n *node) add(rr dns.RR) {
	t := rr.Header().Rrtype
	for i := range n.rrsets {
		if n.rrsets[i].typ == t {
			n.rrsets[i].rrs = append(n.rrsets[i].rrs, rr)
			return
		}
	}
	n.rrsets = append(n.rrsets, rrset{typ: t, rrs: []dns.RR{rr}})
	sort.Slice(n.rrsets, func(i, j int) bool { return n.rrsets[i].typ < n.rrsets[j].typ })
}

// newZone makes an empty zone with its apex node.
func newZone(origin, file string) *Zone {
	z := &Zone{Origin: origin, origin: strings.ToLower(origin), File: file, nodes: map[string]*node{}, maxChain: DefaultMaxCNAMEChain}
	z.nodes[z.origin] = &node{name: origin}
	return z
}

// ensure returns the node of an in-zone name, creating it and every empty
// non-terminal between it and the apex.
func (z *Zone) ensure(name string) *node {
	lower := strings.ToLower(name)
	if n, ok := z.nodes[lower]; ok {
		return n
	}
	n := &node{name: name, wild: strings.HasPrefix(lower, "*.")}
	z.nodes[lower] = n
	// Walk up to the apex, adding empty non-terminals.
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		parent := name[off:]
		pl := strings.ToLower(parent)
		if _, ok := z.nodes[pl]; ok {
			break
		}
		z.nodes[pl] = &node{name: parent, wild: strings.HasPrefix(pl, "*.")}
	}
	return n
}

// Name returns the zone's origin in lower case, the key it is found by.
func (z *Zone) Name() string { return z.origin }

// NegativeSOA returns the SOA record for the authority section of negative
// answers (NXDOMAIN and NODATA), with TTL min(SOA TTL, SOA MINIMUM).
func (z *Zone) NegativeSOA() dns.RR { return z.negSOA[0] }

// NegativeSOAs is the authority section of negative answers: NegativeSOA
// alone. The slice is shared: do not modify it.
func (z *Zone) NegativeSOAs() []dns.RR { return z.negSOA }
