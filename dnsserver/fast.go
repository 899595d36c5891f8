package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// The fast path answers the common query without miekg/dns: one question
// of class IN, no records but an optional OPT (with or without a client
// subnet), a name of plain labels; and an answer made only of A/AAAA
// records owned by the query name, or a negative answer. It reads the
// request in place and writes the reply straight into the output buffer,
// the question copied byte for byte and the answers' owner compressed to
// it. Anything else, or anything odd, goes to the general path, which a
// differential test holds it to.

// fastQuery is a request as the fast path reads it.
type fastQuery struct {
	qend    int // end of the question section
	qtype   uint16
	name    string // presentation form, case as received
	lower   string
	labels  [128]int // offsets of the labels of the name, from 12
	nlabels int
	edns    bool
	udpSize int
	do      bool
	subnet  ecs
	hasECS  bool
}

// parseFast reads a request the fast path can take; ok is false for any
// other, which the general path then answers (and judges).
func parseFast(req []byte, q *fastQuery) bool {
	if len(req) < 17 || req[2]&0x78 != 0 || // opcode QUERY
		binary.BigEndian.Uint16(req[4:]) != 1 || binary.BigEndian.Uint16(req[6:]) != 0 ||
		binary.BigEndian.Uint16(req[8:]) != 0 {
		return false
	}
	ar := binary.BigEndian.Uint16(req[10:])
	if ar > 1 {
		return false
	}
	// The name: plain labels of letters, digits, '-', '_' and '*', no
	// compression.
	off := 12
	for {
		if off >= len(req) {
			return false
		}
		n := int(req[off])
		if n == 0 {
			off++
			break
		}
		if n > 63 || off+1+n > len(req) || q.nlabels == len(q.labels) {
			return false
		}
		q.labels[q.nlabels] = off
		q.nlabels++
		for _, c := range req[off+1 : off+1+n] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*') {
				return false
			}
		}
		off += 1 + n
	}
	if q.nlabels == 0 || off-12 > 255 || off+4 > len(req) {
		return false
	}
	q.qtype = binary.BigEndian.Uint16(req[off:])
	if binary.BigEndian.Uint16(req[off+2:]) != dns.ClassINET {
		return false
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY, dns.TypeOPT, dns.TypeMAILA, dns.TypeMAILB:
		return false
	}
	q.qend = off + 4
	off = q.qend
	if ar == 0 {
		return off == len(req)
	}
	// The OPT record: root owner, version 0, options we understand.
	if off+11 > len(req) || req[off] != 0 || binary.BigEndian.Uint16(req[off+1:]) != dns.TypeOPT {
		return false
	}
	q.edns = true
	q.udpSize = int(binary.BigEndian.Uint16(req[off+3:]))
	if req[off+5] != 0 || req[off+6] != 0 { // extended rcode, version
		return false
	}
	q.do = req[off+7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(req[off+9:]))
	rdata := req[off+11:]
	if len(rdata) != rdlen {
		return false
	}
	for o := 0; o < len(rdata); {
		if o+4 > len(rdata) {
			return false
		}
		code := binary.BigEndian.Uint16(rdata[o:])
		n := int(binary.BigEndian.Uint16(rdata[o+2:]))
		if o+4+n > len(rdata) {
			return false
		}
		switch code {
		case optNSID:
			return false // rare: the general path answers it
		case 1, 2, 9, 11, 15, 18, 19:
			// LLQ, UL, EXPIRE, TCP-KEEPALIVE, EDE, REPORT-CHANNEL and
			// ZONEVERSION: miekg/dns rejects malformed ones (FORMERR on the
			// general path); let that path judge them.
			return false
		case optECS:
			if q.hasECS {
				return false
			}
			e, err := decodeECS(rdata[o+4 : o+4+n])
			if err != nil {
				return false
			}
			q.subnet, q.hasECS = e, true
		}
		o += 4 + n
	}
	return true
}

// setNames makes the presentation form of the query name, as received and
// in lower case; the cache spares most queries this.
func (q *fastQuery) setNames(req []byte) {
	var b strings.Builder
	b.Grow(q.qend - 4 - 12)
	for i := 0; i < q.nlabels; i++ {
		o := q.labels[i]
		b.Write(req[o+1 : o+1+int(req[o])])
		b.WriteByte('.')
	}
	q.name = b.String()
	q.lower = toLower(q.name)
}

// toLower lower-cases ASCII, allocating only when something changes.
func toLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// serveFast answers req on the fast path into buf. ok is false when the
// general path must answer instead. With a cache (nil: none), answers that
// depend on nothing but what the cache checks are served from it.
func (h *Handler) serveFast(req []byte, src netip.Addr, t Transport, buf []byte, o *outcome, c *answerCache) (out []byte, rcode int, ok bool) {
	snap := h.snap.Load()
	src = src.Unmap()
	// The cache first: a request it answers is byte for byte one the fast
	// path has read before, so it need not be read again.
	var slot *cacheEntry
	var geoGen uint64
	if c != nil && t == UDP && snap.Config.AnswerCache {
		if h.geoGen != nil {
			geoGen = h.geoGen.Reloads()
		}
		var e *cacheEntry
		if e, slot = c.find(req, snap, geoGen, src); e != nil {
			if h.metrics != nil {
				h.metrics.cacheHits.Add(1)
			}
			out = append(buf[:0], e.reply...)
			out[0], out[1] = req[0], req[1]
			e.tally.Count()
			o.zone, o.name, o.qtype, o.ecs, o.stats = e.zone, e.name, e.qtype, e.hasECS, e.stats
			return out, int(e.rcode), true
		}
	}
	var q fastQuery
	if !parseFast(req, &q) {
		return nil, 0, false
	}
	if slot != nil && h.metrics != nil {
		h.metrics.cacheMisses.Add(1)
	}
	client := zones.NewClient(src, src.BitLen())
	located := false
	if q.hasECS && q.subnet.source > 0 && snap.Config.TrustECS(src) {
		client = zones.NewClient(q.subnet.addr, int(q.subnet.source))
		if a := q.subnet.addr; a.Is4In6() {
			client = zones.NewClient(a.Unmap(), max(0, int(q.subnet.source)-96))
		}
		located = true
	}
	q.setNames(req)
	z := snap.Zone(q.lower)
	if z == nil {
		return nil, 0, false // REFUSED: the general path
	}
	zq := zones.Query{Name: q.name, Lower: q.lower, Type: q.qtype, Geo: h.geo, Client: client}
	// What the answer depends on, read before it is made: an answer is
	// kept only if none of it changed meanwhile.
	var mask uint64
	var svc *zones.Service
	if slot != nil {
		if svc = z.ServiceAt(q.lower); svc != nil {
			if mask, ok = svc.ServingMask(); !ok {
				slot = nil
			}
		}
	}
	a := z.Lookup(&zq)
	switch a.Result {
	case zones.Success:
		if len(a.Extra) > 0 {
			return nil, 0, false
		}
		for _, rr := range a.Answer {
			h := rr.Header()
			if h.Name != q.name || h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA {
				return nil, 0, false
			}
		}
	case zones.NoData, zones.NXDomain:
		if len(a.Answer) > 0 || z.NegativeSOAWire() == nil {
			return nil, 0, false
		}
		if a.Result == zones.NXDomain {
			rcode = dns.RcodeNameError
		}
	default:
		return nil, 0, false
	}
	o.zone, o.name, o.qtype, o.ecs = z.Name(), q.name, q.qtype, q.hasECS

	// Header, question copied as received.
	out = append(buf[:0], req[:q.qend]...)
	out[2] = 0x80 | 0x04 | req[2]&0x01 // QR, AA, RD copied; opcode QUERY
	out[3] = req[3]&0x10 | byte(rcode) // CD copied; RA, Z, AD clear
	binary.BigEndian.PutUint16(out[6:], uint16(len(a.Answer)))
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	for _, rr := range a.Answer {
		h := rr.Header()
		out = append(out, 0xC0, 12) // owner: the question name
		out = binary.BigEndian.AppendUint16(out, h.Rrtype)
		out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
		out = binary.BigEndian.AppendUint32(out, h.Ttl)
		switch v := rr.(type) {
		case *dns.A:
			out = binary.BigEndian.AppendUint16(out, 4)
			out = append(out, v.A.To4()...)
		case *dns.AAAA:
			out = binary.BigEndian.AppendUint16(out, 16)
			out = append(out, v.AAAA.To16()...)
		}
	}
	if a.Result != zones.Success {
		out = append(out, z.NegativeSOAWire()...)
		binary.BigEndian.PutUint16(out[8:], 1)
	}
	if q.edns {
		out = append(out, 0) // root
		out = binary.BigEndian.AppendUint16(out, dns.TypeOPT)
		out = binary.BigEndian.AppendUint16(out, snap.Config.UDPSize)
		flags := uint16(0)
		if q.do {
			flags = 0x8000
		}
		out = append(out, 0, 0) // extended rcode, version 0
		out = binary.BigEndian.AppendUint16(out, flags)
		if q.hasECS {
			scope := 0
			if located {
				scope = a.Scope
			}
			n := (int(q.subnet.source) + 7) / 8
			out = binary.BigEndian.AppendUint16(out, uint16(8+n))
			out = binary.BigEndian.AppendUint16(out, optECS)
			out = binary.BigEndian.AppendUint16(out, uint16(4+n))
			out = binary.BigEndian.AppendUint16(out, q.subnet.family)
			out = append(out, q.subnet.source, byte(scope))
			if n > 0 {
				addr := q.subnet.addr.As16()
				if q.subnet.family == 1 {
					out = append(out, addr[12:12+n]...)
				} else {
					out = append(out, addr[:n]...)
				}
			}
		} else {
			out = binary.BigEndian.AppendUint16(out, 0)
		}
		binary.BigEndian.PutUint16(out[10:], 1)
	}
	// Too big for the client: the general path truncates properly.
	limit := dns.MaxMsgSize
	if t == UDP {
		limit = minUDPSize
		if q.edns {
			limit = max(minUDPSize, min(q.udpSize, int(snap.Config.UDPSize)))
		}
	}
	if len(out) > limit {
		return nil, 0, false
	}
	if slot != nil && !a.Varies && a.Service == svc {
		keep := true
		if svc != nil {
			m, _ := svc.ServingMask()
			keep = m == mask
		}
		if keep {
			var stats *zoneStats
			if h.metrics != nil {
				stats = h.metrics.zone(o.zone)
			}
			c.store(slot, req, out, snap, geoGen, &q, client.Addr, located, &a, mask, rcode, o, stats)
		}
	}
	return out, rcode, true
}
