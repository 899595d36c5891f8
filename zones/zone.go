package zones

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
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
	negSOA *dns.SOA
	// Services are the zone's dynamically answered names, sorted by name.
	Services []*Service

	nodes map[string]*node
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
	// WhenAllDown is one of AllDownServeAll, AllDownFallback, AllDownNoData.
	WhenAllDown string
	// Fallback and FallbackCNAME are answered with AllDownFallback.
	Fallback      []netip.Addr
	FallbackCNAME string

	v4, v6  family
	allDown prometheus.Counter // answers given while all were down; may be nil
}

// family holds a service's backends of one address family with the records
// answered for them, built at load time.
type family struct {
	backends []*Backend
	rrs      []dns.RR // rrs[i] answers backends[i]
	fallback []dns.RR
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
	// Check says how the backend is probed.
	Check health.Spec

	state *health.State
	admin *health.Slot
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

// AllDown reports whether every backend of the service is out of service.
func (s *Service) AllDown() bool {
	for _, b := range s.Backends {
		if b.Serving() {
			return false
		}
	}
	return true
}

// pick returns the records of the serving backends of f. all reports that
// none was serving and the when_all_down policy chose the answer.
func (s *Service) pick(f *family) (rrs []dns.RR, all bool) {
	n := 0
	for _, b := range f.backends {
		if b.Serving() {
			n++
		}
	}
	if n == len(f.backends) {
		return f.rrs, false
	}
	if n > 0 {
		rrs = make([]dns.RR, 0, n)
		for i, b := range f.backends {
			if b.Serving() {
				rrs = append(rrs, f.rrs[i])
			}
		}
		return rrs, false
	}
	if s.allDown != nil {
		s.allDown.Inc()
	}
	switch s.WhenAllDown {
	case AllDownNoData:
		return nil, true
	case AllDownFallback:
		return f.fallback, true
	}
	return f.rrs, true
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
	z := &Zone{Origin: origin, origin: strings.ToLower(origin), File: file, nodes: map[string]*node{}}
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
func (z *Zone) NegativeSOA() dns.RR { return z.negSOA }
