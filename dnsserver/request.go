package dnsserver

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// A query is read by one of two parsers into one request value, which one
// function (decide) then answers:
//
//   - readFast reads the common query in place, without miekg/dns: one
//     question of class IN, a name of plain labels, no records but an
//     optional OPT whose options it understands. It declines anything
//     else, or anything odd.
//   - readMsg unpacks any message with miekg/dns and records what is wrong
//     with it (FORMERR, NOTIMP, BADVERS) for decide to answer.
//
// For every message readFast takes, readMsg fills the same request (the
// wire offsets aside): FuzzServe holds them to it.

// request is a query as a parser read it.
type request struct {
	id            uint16
	opcode        int
	rd, cd        bool
	name, lower   string // the query name as received, and in lower case
	qtype, qclass uint16
	hasQuestion   bool // exactly one question

	// problem is the rcode a malformed or unsupported message gets before
	// any lookup (0: none). bodyErr tells that the body did not unpack:
	// the reply then has a bare header (and an OPT record if the request
	// seemed to have one).
	problem int
	bodyErr bool

	edns    bool // an OPT record
	udpSize int  // the client's advertised UDP size, with edns
	do      bool
	co      bool // compact answers OK (RFC 9824): NXDOMAIN rcodes wanted
	nsid    bool // the client asked for our NSID
	subnet  ecs  // the client subnet option, with hasECS
	hasECS  bool
	// cookie is the COOKIE option, with hasCookie (RFC 7873); cookieOnly
	// tells a query without a question that asks for a server cookie
	// (RFC 7873 5.4).
	cookie     cookie
	hasCookie  bool
	cookieOnly bool

	// Set by readFast only: the end of the question in the wire, and the
	// offsets of the question name's labels, for the fast encoder.
	qend    int
	labels  [128]uint16
	nlabels int
}

// ecsSource tells whether the request carries a client subnet that can
// locate a client (source prefix > 0).
func (r *request) ecsSource() bool { return r.hasECS && r.subnet.source > 0 }

// readFast reads a request the fast path can take; it returns false for
// any other, which readMsg then reads (and judges).
func readFast(req []byte, q *request) bool {
	if len(req) < 17 || req[2]&0xF8 != 0 || // a query (QR clear), opcode QUERY
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
		q.labels[q.nlabels] = uint16(off)
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
	q.qclass = binary.BigEndian.Uint16(req[off+2:])
	if q.qclass != dns.ClassINET {
		return false
	}
	switch q.qtype {
	case 0, dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY, dns.TypeOPT, dns.TypeMAILA, dns.TypeMAILB, dns.TypeTKEY, dns.TypeTSIG:
		return false
	}
	q.qend = off + 4
	off = q.qend
	if ar == 0 {
		if off != len(req) {
			return false
		}
	} else if !readFastOPT(req[off:], q) {
		return false
	}
	q.id = binary.BigEndian.Uint16(req)
	q.rd, q.cd = req[2]&0x01 != 0, req[3]&0x10 != 0
	q.hasQuestion = true
	q.setNames(req)
	return true
}

// readFastOPT reads the OPT record that ends a fast request: root owner,
// version 0, options it understands.
func readFastOPT(b []byte, q *request) bool {
	if len(b) < 11 || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != dns.TypeOPT {
		return false
	}
	if b[5] != 0 || b[6] != 0 { // extended rcode, version
		return false
	}
	rdata := b[11:]
	if len(rdata) != int(binary.BigEndian.Uint16(b[9:])) {
		return false
	}
	q.edns = true
	q.udpSize = int(binary.BigEndian.Uint16(b[3:]))
	q.do = b[7]&0x80 != 0
	q.co = b[7]&0x40 != 0
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
		case 1, 2, 9, 11, 15, 18, 19:
			// LLQ, UL, EXPIRE, TCP-KEEPALIVE, EDE, REPORT-CHANNEL and
			// ZONEVERSION: miekg/dns rejects malformed ones (FORMERR on the
			// general path); let that path judge them.
			return false
		case optCookie:
			return false // answered per client: the general path
		case optNSID:
			q.nsid = true
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
// in lower case.
func (q *request) setNames(req []byte) {
	var b strings.Builder
	b.Grow(q.qend - 4 - 12)
	for i := 0; i < q.nlabels; i++ {
		o := int(q.labels[i])
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

// readMsg reads any message whose header is there (the caller checked its
// length) with miekg/dns, and records in problem what is wrong with it.
func readMsg(req []byte, q *request) {
	q.id = binary.BigEndian.Uint16(req)
	q.opcode = int(req[2]>>3) & 0xF
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		// The header parsed but the rest did not: FORMERR, with an OPT
		// record if the request seems to have one (RFC 6891 7).
		q.problem, q.bodyErr, q.edns = dns.RcodeFormatError, true, rawHasOPT(req)
		return
	}
	q.rd, q.cd = m.RecursionDesired, m.CheckingDisabled
	complete := msgEnd(req) == len(req)
	q.hasQuestion = len(m.Question) == 1
	if q.hasQuestion {
		qs := m.Question[0]
		q.name, q.lower, q.qtype, q.qclass = qs.Name, strings.ToLower(qs.Name), qs.Qtype, qs.Qclass
	}
	var opt *dns.OPT
	nopt := 0
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			nopt++
			opt = o
		}
	}
	if opt != nil {
		q.edns = true
		q.udpSize = int(opt.UDPSize())
		q.do = opt.Do()
		q.co = opt.Co()
		for _, e := range opt.Option {
			if e.Option() == optNSID {
				q.nsid = true
			}
		}
	}
	switch {
	case m.Opcode != dns.OpcodeQuery:
		q.problem = dns.RcodeNotImplemented
	case len(m.Question) == 0 && complete && nopt == 1 && !optMisplaced(m) && opt.Hdr.Name == "." && opt.Version() == 0 && cookieQuery(req, q):
		// Only a COOKIE option: the client asks for a server cookie.
		q.cookieOnly = true
	case !complete || !q.hasQuestion || nopt > 1 || optMisplaced(m) || (opt != nil && opt.Hdr.Name != "."):
		// A question cut short, bytes after the last record counted,
		// several questions or OPT records, an OPT out of place.
		q.problem = dns.RcodeFormatError
	case q.qtype == 0 || q.qtype == dns.TypeOPT:
		// Meta types that no question may ask (RFC 6895 3.1, RFC 6891 6.1.1).
		q.problem = dns.RcodeFormatError
	case q.qtype == dns.TypeTKEY || q.qtype == dns.TypeTSIG || q.qtype == dns.TypeMAILA || q.qtype == dns.TypeMAILB:
		// Transaction types and the obsolete mail types: not implemented,
		// as BIND and Knot answer them.
		q.problem = dns.RcodeNotImplemented
	case opt != nil && opt.Version() != 0:
		// RFC 6891 6.1.3: BADVERS, no answer, our version (0) in the OPT.
		q.problem = dns.RcodeBadVers
	case opt != nil:
		rdata, _ := findOPT(req)
		subnet, err := parseECS(rdata)
		c, hasCookie, cookieOK := findCookie(rdata)
		switch {
		case err != nil || !cookieOK:
			// A bad client subnet, or a COOKIE of a wrong length (RFC
			// 7873 5.2.2), or two.
			q.problem = dns.RcodeFormatError
		default:
			if subnet != nil {
				q.subnet, q.hasECS = *subnet, true
			}
			q.cookie, q.hasCookie = c, hasCookie
		}
	}
}

// cookieQuery tells whether a request without a question carries a well
// formed COOKIE option (RFC 7873 5.4), and reads it into q.
func cookieQuery(req []byte, q *request) bool {
	rdata, ok := findOPT(req)
	if !ok {
		return false
	}
	c, found, valid := findCookie(rdata)
	if !found || !valid {
		return false
	}
	q.cookie, q.hasCookie = c, true
	return true
}

// msgEnd walks the message's wire format by its counts and returns where
// its last record ends, -1 if a name, a question or a record runs past the
// end. A message that does not end there is malformed (FORMERR), however
// leniently miekg/dns unpacks it.
func msgEnd(b []byte) int {
	if len(b) < 12 {
		return -1
	}
	off := 12
	name := func() bool {
		for {
			if off >= len(b) {
				return false
			}
			c := int(b[off])
			switch {
			case c == 0:
				off++
				return true
			case c&0xC0 == 0xC0: // a pointer ends the name
				off += 2
				return off <= len(b)
			case c&0xC0 != 0:
				return false
			}
			off += 1 + c
		}
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rr := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	for i := 0; i < qd; i++ {
		if !name() || off+4 > len(b) {
			return -1
		}
		off += 4
	}
	for i := 0; i < rr; i++ {
		if !name() || off+10 > len(b) {
			return -1
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
		if off > len(b) {
			return -1
		}
	}
	return off
}

// optMisplaced reports an OPT record outside the additional section.
func optMisplaced(m *dns.Msg) bool {
	for _, s := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range s {
			if rr.Header().Rrtype == dns.TypeOPT {
				return true
			}
		}
	}
	return false
}
