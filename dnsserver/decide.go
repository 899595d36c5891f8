package dnsserver

import (
	"net/netip"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
	"github.com/miekg/dns"
)

// response is what decide made of a request: every field of the reply,
// for either encoder to write. Nothing in it is decided by an encoder.
type response struct {
	// Header.
	rcode      int
	opcode     int
	aa         bool
	rd, cd     bool // copied from the request
	noQuestion bool // the question is not echoed

	// Sections; the OPT record, if any, follows Extra.
	answer, ns, extra []dns.RR

	// The OPT record.
	opt     bool
	udpSize uint16 // ours
	do      bool
	co      bool // CO echoed: a compact denial kept its NXDOMAIN (RFC 9824)
	// until is, for a signed reply, when its signatures' window moves on
	// (unix seconds): the answer cache keeps it until then. 0: unsigned.
	until int64
	// sigWire is the RDATA of each RRSIG of the answer section, in order,
	// for the fast encoder.
	sigWire [][]byte
	nsid    string // our NSID, in hex, if asked for and set
	ecs     bool   // echo the client subnet, with scope
	scope   uint8
	// cookie is the COOKIE option to send, client and server cookie (nil:
	// none); cookieOK tells that the request's server cookie was valid.
	cookie   []byte
	cookieOK bool

	// limit is the largest the reply may be on the wire.
	limit int

	// What the answer came from, for the cache and the metrics.
	zone    *zones.Zone
	a       zones.Answer
	addr    netip.Addr // the client's address, as the policies saw it
	located bool       // the client address came from a trusted ECS option

	// With recordServing, decide notes which of the answering service's
	// backends served before the lookup (mask of svc), so that the cache
	// can tell the answer was made from one serving state.
	recordServing bool
	svc           *zones.Service
	mask          uint64
}

// keepable tells whether the answer is a function of what the answer
// cache checks: nothing drawn at random or in turn, and the serving state
// of its service unchanged while it was made.
func (r *response) keepable() bool {
	if !r.recordServing || r.a.Varies || r.a.Service != r.svc {
		return false
	}
	if r.svc == nil {
		return true
	}
	m, _ := r.svc.ServingMask()
	return m == r.mask
}

// decide answers a request: the one place that decides the client
// address, the UDP size limit, the header flags, the OPT record, the ECS
// scope and the zone answer. A non-nil trace collects the decision in
// words.
func (h *Handler) decide(snap *zones.Snapshot, q *request, src netip.Addr, t Transport, trace *zones.Trace, r *response) {
	r.opcode, r.rd, r.cd = q.opcode, q.rd, q.cd
	r.noQuestion = !q.hasQuestion
	r.limit = udpLimit(snap, q, t)
	if q.edns {
		r.opt, r.udpSize = true, snap.Config.UDPSize
	}
	if q.bodyErr {
		// Nothing else of the request is known (its flags read as clear).
		r.rcode = q.problem
		return
	}
	if q.edns {
		r.do = q.do
		if q.nsid && snap.Config.NSID {
			r.nsid = hexString(h.identity(snap))
		}
		if q.hasCookie {
			now := time.Now()
			r.cookieOK = h.cookies.valid(&q.cookie, src, now)
			sc := h.cookies.serverCookie(q.cookie.client, src, now)
			r.cookie = append(append(make([]byte, 0, 24), q.cookie.client[:]...), sc[:]...)
		}
		if q.cookieOnly {
			// RFC 7873 5.4: NOERROR with the cookies, no question.
			return
		}
	}
	switch q.problem {
	case 0:
	case dns.RcodeNotImplemented:
		// Opcodes other than QUERY: NOTIMP, with every flag clear.
		r.rcode, r.rd, r.cd = q.problem, false, false
		return
	default:
		r.rcode = q.problem
		return
	}
	switch q.qclass {
	case dns.ClassINET:
	case dns.ClassCHAOS:
		h.chaos(snap, q, r)
		return
	default:
		r.rcode = dns.RcodeRefused
		return
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Answers are computed per query; there is nothing to transfer.
		r.rcode = dns.RcodeNotImplemented
		if t == TCP {
			r.rcode = dns.RcodeRefused
		}
		return
	}
	z := snap.Zone(q.lower)
	if z != nil && q.qtype == dns.TypeDS && q.lower == z.Name() {
		// RFC 4035 3.1.4.1: the DS of a zone is its parent's, answered
		// from the parent zone when we serve it too.
		if off, end := dns.NextLabel(q.lower, 0); !end {
			if p := snap.Zone(q.lower[off:]); p != nil {
				z = p
			}
		}
	}
	if z == nil {
		// Not ours: REFUSED, no referral upwards.
		r.rcode = dns.RcodeRefused
		return
	}
	r.zone = z
	var c zones.Client
	c, r.addr, r.located = client(snap, q, src, trace)
	if r.recordServing {
		if r.svc = z.ServiceAt(q.lower); r.svc != nil {
			r.mask, r.recordServing = r.svc.ServingMask()
		}
	}
	sg := z.Signing()
	if sg != nil && q.qtype == dns.TypeNXNAME {
		// RFC 9824 3.5: a meta-type, never asked for.
		r.rcode = dns.RcodeFormatError
		return
	}
	zq := zones.Query{Name: q.name, Lower: q.lower, Type: q.qtype, Geo: h.geo, Client: c, Trace: trace, Rand: h.rand}
	r.a = z.Lookup(&zq)
	fill(r, z)
	if sg != nil && r.do {
		h.sign(q, r, z, sg, func(t uint16) zones.Answer {
			tq := zq
			tq.Type, tq.Trace = t, nil
			return z.Lookup(&tq)
		})
		if trace != nil {
			trace.Add("signed (DO): %s, signatures valid to %s", sg.SigningSummary(), dnssec.WindowAt(h.signingTime(), sg.Validity).Expires().Format(time.RFC3339))
		}
	}
	if q.hasECS {
		// RFC 7871 7.2.1: echo family, source prefix and address; SCOPE is
		// the prefix length the answer depended on.
		r.ecs = true
		if r.located && r.a.Scope > 0 {
			r.scope = uint8(r.a.Scope)
			if q.subnet.addr.Is4In6() {
				// The scope of an IPv4 client, in the option's IPv6 bits.
				r.scope = uint8(min(128, r.a.Scope+96))
			}
		}
		if trace != nil {
			trace.Add("ECS scope in the reply: /%d", r.scope)
		}
	}
}

// udpLimit is the largest reply the client takes: any size over TCP; over
// UDP 512 octets without EDNS, and with EDNS the smaller of its size and
// ours, never below 512 (RFC 6891 6.2.3, 6.2.5).
func udpLimit(snap *zones.Snapshot, q *request, t Transport) int {
	if t == TCP {
		return dns.MaxMsgSize
	}
	if !q.edns {
		return minUDPSize
	}
	return max(minUDPSize, min(q.udpSize, int(snap.Config.UDPSize)))
}

// client is where the query comes from for the policies: the client
// subnet when the request has one (of source > 0) and the source is
// trusted to send it (located), else the source address.
func client(snap *zones.Snapshot, q *request, src netip.Addr, trace *zones.Trace) (c zones.Client, addr netip.Addr, located bool) {
	src = src.Unmap()
	addr, bits := src, src.BitLen()
	if q.ecsSource() && snap.Config.TrustECS(src) {
		addr, bits = q.subnet.addr, int(q.subnet.source)
		if addr.Is4In6() {
			// An IPv4-mapped subnet is an IPv4 client.
			addr, bits = addr.Unmap(), max(0, bits-96)
		}
		located = true
	}
	c = zones.NewClient(addr, bits)
	if trace != nil {
		switch {
		case located:
			trace.Add("client: EDNS Client Subnet %s/%d (from resolver %s)", q.subnet.addr, q.subnet.source, src)
		case q.ecsSource():
			trace.Add("client: resolver %s (its client subnet option is not trusted: geo.ecs)", src)
		default:
			trace.Add("client: %s (no client subnet)", src)
		}
	}
	return c, addr, located
}

// fill maps the lookup result to the reply: the one place that decides
// rcode, AA and the authority section (RFC 1034 4.3.2, RFC 2308).
func fill(r *response, z *zones.Zone) {
	a := &r.a
	r.answer, r.extra = a.Answer, a.Extra
	switch a.Result {
	case zones.Success:
		r.aa = true
	case zones.NoData:
		r.aa = true
		r.ns = z.NegativeSOAs()
	case zones.NXDomain:
		r.aa = true
		r.rcode = dns.RcodeNameError
		r.ns = z.NegativeSOAs()
	case zones.Delegation:
		r.ns = a.Ns
	}
}

// identity returns the configured server identity, "" if hidden.
func (h *Handler) identity(snap *zones.Snapshot) string {
	if h.ident.ID != "" {
		return h.ident.ID
	}
	if snap.Config.Identity == "auto" {
		return h.ident.Hostname
	}
	return snap.Config.Identity
}

// chaos answers the CHAOS-class names that tell a server's identity and
// version; everything else in class CHAOS is refused.
func (h *Handler) chaos(snap *zones.Snapshot, q *request, r *response) {
	var text string
	switch q.lower {
	case "version.bind.", "version.server.":
		text = snap.Config.Version
		if text == "auto" {
			text = h.ident.Version
		}
	case "id.server.", "hostname.bind.":
		text = h.identity(snap)
	}
	if text == "" {
		r.rcode = dns.RcodeRefused
		return
	}
	r.aa = true
	if q.qtype != dns.TypeTXT && q.qtype != dns.TypeANY {
		return
	}
	r.answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{text},
	}}
}
