package dnsserver

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"strings"

	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// Two encoders write a response. encodeFast writes the common reply
// straight into the output buffer: the question copied byte for byte from
// a request readFast read, A/AAAA records owned by the query name or a
// negative answer with its SOA, and an OPT record; names compressed
// exactly as miekg/dns compresses them, so that its reply is byte for byte
// the one encodeMsg gives. It declines anything else, and a reply too big
// for the limit, which encodeMsg then writes (and truncates).

// encodeFast writes r, the response to the request q read from req, into
// buf; ok is false when encodeMsg must write it instead.
func encodeFast(req []byte, q *request, r *response, buf []byte) (out []byte, ok bool) {
	soa, ok := fastable(q, r)
	if !ok {
		return nil, false
	}
	// Header, question copied as received.
	out = append(buf[:0], req[:q.qend]...)
	out[2] = 0x80 // QR; opcode QUERY
	if r.aa {
		out[2] |= 0x04
	}
	if r.rd {
		out[2] |= 0x01
	}
	out[3] = byte(r.rcode & 0xF) // RA, Z, AD clear
	if r.cd {
		out[3] |= 0x10
	}
	binary.BigEndian.PutUint16(out[6:], uint16(len(r.answer)))
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	sigs := 0
	for _, rr := range r.answer {
		if s, ok := rr.(*dns.RRSIG); ok {
			out = appendRRSIG(out, s, r.sigWire[sigs])
			sigs++
			continue
		}
		out = appendAddr(out, rr)
	}
	if soa != nil {
		if out, ok = appendSOA(out, req, q, soa, r.zone.NegativeSOAWire()); !ok {
			return nil, false
		}
		binary.BigEndian.PutUint16(out[8:], 1)
	}
	if r.opt {
		out = appendOPT(out, q, r)
		binary.BigEndian.PutUint16(out[10:], 1)
	}
	if len(out) > r.limit {
		return nil, false
	}
	return out, true
}

// fastable tells whether encodeFast can write r: answers that are A/AAAA
// records owned by the query name, or an authoritative negative answer
// with its SOA (returned), no additional records, no NSID.
func fastable(q *request, r *response) (soa *dns.SOA, ok bool) {
	// A request readFast read (qend set) has one question and opcode QUERY.
	if q.qend == 0 || len(r.extra) > 0 || r.nsid != "" || r.cookie != nil || !r.aa ||
		r.rcode != dns.RcodeSuccess && r.rcode != dns.RcodeNameError {
		return nil, false
	}
	switch {
	case len(r.ns) == 0:
	case len(r.ns) == 1 && len(r.answer) == 0:
		// The zone's negative SOA, whose names are plain when it has a
		// template: the compressor can write it where the template cannot.
		if soa, ok = r.ns[0].(*dns.SOA); !ok || r.ns[0] != r.zone.NegativeSOA() || r.zone.NegativeSOAWire() == nil {
			return nil, false
		}
	default:
		return nil, false
	}
	sigs := 0
	for _, rr := range r.answer {
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG {
			// A signature of the answer (sign.go), whose RDATA the
			// signature cache keeps in wire form.
			sigs++
			if h.Name != q.name || h.Class != dns.ClassINET || sigs > len(r.sigWire) || soa != nil {
				return nil, false
			}
			continue
		}
		if h.Name != q.name || h.Class != dns.ClassINET || h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA {
			return nil, false
		}
	}
	return soa, true
}

// appendRRSIG appends an RRSIG record owned by the question name, its
// RDATA rdata in wire form (the signer name uncompressed, RFC 4034 3.1.7).
func appendRRSIG(out []byte, s *dns.RRSIG, rdata []byte) []byte {
	out = append(out, 0xC0, 12) // owner: the question name
	out = binary.BigEndian.AppendUint16(out, dns.TypeRRSIG)
	out = binary.BigEndian.AppendUint16(out, dns.ClassINET)
	out = binary.BigEndian.AppendUint32(out, s.Hdr.Ttl)
	out = binary.BigEndian.AppendUint16(out, uint16(len(rdata)))
	return append(out, rdata...)
}

// appendAddr appends an A or AAAA record owned by the question name.
func appendAddr(out []byte, rr dns.RR) []byte {
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
	return out
}

// appendSOA appends the SOA record of a negative answer, its names
// compressed against the question and each other; ok is false if the
// compressor could not keep every name miekg/dns would point to.
func appendSOA(out, req []byte, q *request, soa *dns.SOA, w *zones.SOAWire) (_ []byte, ok bool) {
	if w.Labels <= q.nlabels && strings.HasSuffix(q.name, soa.Hdr.Name) &&
		(len(q.name) == len(soa.Hdr.Name) || q.name[len(q.name)-len(soa.Hdr.Name)-1] == '.') {
		// The question ends with the apex as the SOA spells it: the
		// record's compression is known, unless a name of the SOA shares a
		// longer suffix with the question.
		longer := false
		for _, s := range w.Longer {
			longer = longer || strings.HasSuffix(q.name, s) && (len(q.name) == len(s) || q.name[len(q.name)-len(s)-1] == '.')
		}
		if !longer {
			apex, base := int(q.labels[q.nlabels-w.Labels]), len(out)
			out = append(out, w.Wire...)
			for _, at := range w.Apex {
				binary.BigEndian.PutUint16(out[base+at:], 0xC000|(binary.BigEndian.Uint16(out[base+at:])+uint16(apex)))
			}
			for _, at := range w.Self {
				binary.BigEndian.PutUint16(out[base+at:], 0xC000|(binary.BigEndian.Uint16(out[base+at:])+uint16(base)))
			}
			return out, true
		}
	}
	c := compressor{q: q, req: req}
	out = c.name(out, soa.Hdr.Name)
	out = binary.BigEndian.AppendUint16(out, dns.TypeSOA)
	out = binary.BigEndian.AppendUint16(out, soa.Hdr.Class)
	out = binary.BigEndian.AppendUint32(out, soa.Hdr.Ttl)
	at := len(out)
	out = append(out, 0, 0)
	out = c.name(out, soa.Ns)
	out = c.name(out, soa.Mbox)
	for _, v := range [...]uint32{soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl} {
		out = binary.BigEndian.AppendUint32(out, v)
	}
	binary.BigEndian.PutUint16(out[at:], uint16(len(out)-at-2))
	return out, !c.full
}

// appendOPT appends our OPT record: our UDP size, version 0, DO, and the
// client subnet echoed with the scope.
func appendOPT(out []byte, q *request, r *response) []byte {
	out = append(out, 0) // root
	out = binary.BigEndian.AppendUint16(out, dns.TypeOPT)
	out = binary.BigEndian.AppendUint16(out, r.udpSize)
	flags := uint16(0)
	if r.do {
		flags = 0x8000
	}
	if r.co {
		flags |= 0x4000
	}
	out = append(out, 0, 0) // extended rcode, version 0
	out = binary.BigEndian.AppendUint16(out, flags)
	if !r.ecs {
		return binary.BigEndian.AppendUint16(out, 0)
	}
	s := &q.subnet
	n := (int(s.source) + 7) / 8
	out = binary.BigEndian.AppendUint16(out, uint16(8+n))
	out = binary.BigEndian.AppendUint16(out, optECS)
	out = binary.BigEndian.AppendUint16(out, uint16(4+n))
	out = binary.BigEndian.AppendUint16(out, s.family)
	out = append(out, s.source, r.scope)
	if n > 0 {
		addr := s.addr.As16()
		if s.family == 1 {
			out = append(out, addr[12:12+n]...)
		} else {
			out = append(out, addr[:n]...)
		}
	}
	return out
}

// compressor writes names compressed as miekg/dns does: a name's longest
// suffix already written, spelled the same (case included), is replaced by
// a pointer to it. Suffixes of the question name are known from the
// request; the names written after it are the few of one SOA record.
type compressor struct {
	q    *request
	req  []byte
	seen [12]struct {
		name string
		off  int
	}
	n    int
	full bool // a name was not kept for want of room: the reply would differ
}

// find returns the offset of suffix s if written before.
func (c *compressor) find(s string) (int, bool) {
	// The question name's suffixes, which start at its labels.
	if len(s) <= len(c.q.name) && c.q.name[len(c.q.name)-len(s):] == s {
		// s is a suffix of the question name; is it one at a label start?
		at := len(c.q.name) - len(s)
		pos := 0
		for i := 0; i < c.q.nlabels; i++ {
			if pos == at {
				return int(c.q.labels[i]), true
			}
			pos += int(c.req[c.q.labels[i]]) + 1
		}
	}
	for i := 0; i < c.n; i++ {
		if c.seen[i].name == s {
			return c.seen[i].off, true
		}
	}
	return 0, false
}

// name appends s, a plain FQDN, compressed.
func (c *compressor) name(out []byte, s string) []byte {
	for begin := 0; begin < len(s); {
		if p, ok := c.find(s[begin:]); ok {
			return binary.BigEndian.AppendUint16(out, uint16(p)|0xC000)
		}
		if len(out) < 0x4000 {
			if c.n == len(c.seen) {
				c.full = true
			} else {
				c.seen[c.n].name, c.seen[c.n].off = s[begin:], len(out)
				c.n++
			}
		}
		end := begin + strings.IndexByte(s[begin:], '.')
		out = append(out, byte(end-begin))
		out = append(out, s[begin:end]...)
		begin = end + 1
	}
	return append(out, 0)
}

// msg builds the reply to q as a message.
func (r *response) msg(q *request) *dns.Msg {
	m := &dns.Msg{Compress: true}
	m.Id = q.id
	m.Response = true
	m.Opcode = r.opcode
	m.Authoritative = r.aa
	m.RecursionDesired, m.CheckingDisabled = r.rd, r.cd
	m.Rcode = r.rcode
	if !r.noQuestion {
		m.Question = []dns.Question{{Name: q.name, Qtype: q.qtype, Qclass: q.qclass}}
	}
	m.Answer, m.Ns = r.answer, r.ns
	m.Extra = r.extra[:len(r.extra):len(r.extra)]
	if r.opt {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(r.udpSize)
		if r.do {
			o.SetDo()
		}
		if r.co {
			o.SetCo()
		}
		if r.nsid != "" {
			o.Option = append(o.Option, &dns.EDNS0_NSID{Code: optNSID, Nsid: r.nsid})
		}
		if r.cookie != nil {
			o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(r.cookie)})
		}
		if r.ecs {
			s := &q.subnet
			e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: s.family, SourceNetmask: s.source, SourceScope: r.scope}
			if s.family == 0 {
				e.Address = net.IPv4zero
			} else {
				e.Address = s.addr.AsSlice()
			}
			o.Option = append(o.Option, e)
		}
		m.Extra = append(m.Extra, o)
	}
	return m
}

// encodeMsg packs the reply to q with miekg/dns, fitting it into the
// limit: additional records go first, and if the answer still does not fit
// the reply is sent empty with TC set, so that the client retries over TCP
// rather than use a partial RRset. truncated tells whether TC was set.
func (h *Handler) encodeMsg(q *request, r *response, buf []byte) (out []byte, truncated bool) {
	m := r.msg(q)
	return h.pack(m, r.limit, buf), m.Truncated
}

// pack encodes m within limit octets, as encodeMsg describes.
func (h *Handler) pack(m *dns.Msg, limit int, buf []byte) []byte {
	out, err := m.PackBuffer(buf)
	if err != nil {
		h.log.Error("cannot pack reply", "err", err, "question", m.Question)
		return servfailMsg(m, buf)
	}
	if len(out) <= limit {
		return out
	}
	// Drop additional records, keeping the OPT record.
	var opt []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		}
	}
	if len(opt) != len(m.Extra) {
		m.Extra = opt
		if out, err = m.PackBuffer(buf); err == nil && len(out) <= limit {
			return out
		}
	}
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	out, err = m.PackBuffer(buf)
	if err != nil || len(out) > limit {
		m.Question = nil
		out, _ = m.PackBuffer(buf)
	}
	return out
}

// servfail is the reply of last resort, built from the request bytes alone.
func servfail(req []byte) []byte {
	out := make([]byte, 12)
	copy(out, req[:4])
	out[2] = 0x80 | req[2]&0x79 // QR, opcode and RD kept
	out[3] = dns.RcodeServerFailure
	return out
}

func servfailMsg(m *dns.Msg, buf []byte) []byte {
	m.Answer, m.Ns, m.Extra = nil, nil, nil
	m.Rcode = dns.RcodeServerFailure
	out, err := m.PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
}

// hexString is the NSID option's form of an identity.
func hexString(s string) string { return hex.EncodeToString([]byte(s)) }
