package zones

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

// SOAWire is a zone's negative SOA record (NegativeSOA) in wire format as
// miekg/dns compresses it after a question that ends with the zone's apex,
// spelled as the SOA's owner: for writers that build replies by hand and
// must give the bytes miekg/dns would. Its compression pointers are
// relative and patched when it is written: Apex lists those pointing into
// the question's apex (their value an offset within the apex name), Self
// those pointing into the record itself (an offset within Wire).
//
// It holds only when no name of the SOA shares with the question a suffix
// longer than the apex: Longer lists the suffixes of MNAME and RNAME
// longer than the apex that end with it, and a question that ends with
// one of them (at a label) needs the compressor.
type SOAWire struct {
	Wire   []byte
	Apex   []int
	Self   []int
	Longer []string
	// Labels is how many labels the apex has.
	Labels int
}

// NegativeSOAWire returns the template of the negative SOA, nil if the
// zone has none usable (names with escapes). With a template, the SOA's
// names are plain: labels spelled as they are written.
func (z *Zone) NegativeSOAWire() *SOAWire { return z.negWire }

// soaWire builds the template of soa by packing it after a question of
// its owner alone.
func soaWire(soa *dns.SOA) *SOAWire {
	for _, n := range []string{soa.Hdr.Name, soa.Ns, soa.Mbox} {
		if strings.IndexByte(n, '\\') >= 0 || n == "." || n == "" || n[0] == '.' || strings.Contains(n, "..") || !dns.IsFqdn(n) {
			return nil
		}
	}
	m := &dns.Msg{Compress: true}
	m.Question = []dns.Question{{Name: soa.Hdr.Name, Qtype: dns.TypeSOA, Qclass: dns.ClassINET}}
	m.Ns = []dns.RR{soa}
	b, err := m.Pack()
	if err != nil {
		return nil
	}
	qlen := len(soa.Hdr.Name) + 1 // the owner in wire format
	start := 12 + qlen + 4
	w := &SOAWire{Wire: b[start:], Labels: dns.CountLabel(soa.Hdr.Name)}
	// The names: owner at 0; MNAME and RNAME at the start of the rdata.
	off, ok := w.name(0, qlen)
	if !ok || off+10 > len(w.Wire) {
		return nil
	}
	off += 10
	for range 2 {
		if off, ok = w.name(off, qlen); !ok {
			return nil
		}
	}
	for _, n := range []string{soa.Ns, soa.Mbox} {
		for i, end := 0, false; !end; i, end = dns.NextLabel(n, i) {
			if s := n[i:]; len(s) > len(soa.Hdr.Name) && strings.HasSuffix(s, soa.Hdr.Name) {
				w.Longer = append(w.Longer, s)
			}
		}
	}
	return w
}

// name walks the name at off in Wire, makes its pointer relative and
// records it, and returns the offset after the name.
func (w *SOAWire) name(off, qlen int) (int, bool) {
	for off < len(w.Wire) {
		c := int(w.Wire[off])
		switch {
		case c == 0:
			return off + 1, true
		case c&0xC0 == 0xC0:
			if off+2 > len(w.Wire) {
				return 0, false
			}
			p := int(binary.BigEndian.Uint16(w.Wire[off:]) &^ 0xC000)
			start := 12 + qlen + 4
			switch {
			case p >= 12 && p < 12+qlen:
				w.Apex = append(w.Apex, off)
				binary.BigEndian.PutUint16(w.Wire[off:], uint16(p-12))
			case p >= start:
				w.Self = append(w.Self, off)
				binary.BigEndian.PutUint16(w.Wire[off:], uint16(p-start))
			default:
				return 0, false
			}
			return off + 2, true
		case c&0xC0 == 0:
			off += 1 + c
		default:
			return 0, false
		}
	}
	return 0, false
}
