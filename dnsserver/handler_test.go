package dnsserver

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// tcase is one query and the reply it must get. Records are written in
// zone-file syntax and compared after sorting.
type tcase struct {
	name   string
	qname  string
	qtype  uint16
	qclass uint16 // IN when zero
	tcp    bool
	edns   bool

	rcode  int
	aa     bool
	answer []string
	ns     []string
	extra  []string // without the OPT record
}

func TestSemantics(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	_, addr := startServer(t, snap)
	const soa = "example.com. 60 IN SOA ns1.example.com. hostmaster.example.com. 0 3600 600 604800 60"
	cases := []tcase{
		{name: "apex SOA", qname: "example.com.", qtype: dns.TypeSOA, aa: true,
			answer: []string{"example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 0 3600 600 604800 60"}},
		{name: "apex NS with glue", qname: "example.com.", qtype: dns.TypeNS, aa: true,
			answer: []string{"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns2.example.net."},
			extra:  []string{"ns1.example.com. 300 IN A 192.0.2.1", "ns1.example.com. 300 IN AAAA 2001:db8::1"}},
		{name: "MX with additional", qname: "example.com.", qtype: dns.TypeMX, aa: true,
			answer: []string{"example.com. 300 IN MX 10 mail.example.com."},
			extra:  []string{"mail.example.com. 300 IN A 192.0.2.25"}},
		{name: "service A", qname: "www.example.com.", qtype: dns.TypeA, aa: true,
			answer: []string{"www.example.com. 30 IN A 192.0.2.10", "www.example.com. 30 IN A 192.0.2.11"}},
		{name: "service AAAA", qname: "www.example.com.", qtype: dns.TypeAAAA, aa: true,
			answer: []string{"www.example.com. 30 IN AAAA 2001:db8::10"}},
		{name: "service case kept", qname: "WwW.ExAmPlE.CoM.", qtype: dns.TypeA, aa: true,
			answer: []string{"WwW.ExAmPlE.CoM. 30 IN A 192.0.2.10", "WwW.ExAmPlE.CoM. 30 IN A 192.0.2.11"}},
		{name: "service other type is NODATA", qname: "www.example.com.", qtype: dns.TypeTXT, aa: true, ns: []string{soa}},
		{name: "NXDOMAIN", qname: "nope.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true, ns: []string{soa}},
		{name: "NODATA", qname: "mail.example.com.", qtype: dns.TypeAAAA, aa: true, ns: []string{soa}},
		{name: "empty non-terminal", qname: "b.example.com.", qtype: dns.TypeA, aa: true, ns: []string{soa}},
		{name: "unknown type", qname: "mail.example.com.", qtype: 65280, aa: true, ns: []string{soa}},
		{name: "outside zones", qname: "example.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "parent of zone", qname: "com.", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
		{name: "CNAME chased", qname: "alias.example.com.", qtype: dns.TypeA, aa: true,
			answer: []string{"alias.example.com. 300 IN CNAME mail.example.com.", "mail.example.com. 300 IN A 192.0.2.25"}},
		{name: "CNAME to nothing", qname: "dangling.example.com.", qtype: dns.TypeA, rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.example.com. 300 IN CNAME missing.example.com."}, ns: []string{soa}},
		{name: "CNAME to NODATA", qname: "alias.example.com.", qtype: dns.TypeAAAA, aa: true,
			answer: []string{"alias.example.com. 300 IN CNAME mail.example.com."}, ns: []string{soa}},
		{name: "wildcard", qname: "Foo.Wild.example.com.", qtype: dns.TypeA, aa: true,
			answer: []string{"Foo.Wild.example.com. 300 IN A 192.0.2.99"}},
		{name: "wildcard NODATA", qname: "foo.wild.example.com.", qtype: dns.TypeMX, aa: true, ns: []string{soa}},
		{name: "no wildcard where the name exists", qname: "sub.wild.example.com.", qtype: dns.TypeA, aa: true, ns: []string{soa}},
		{name: "referral", qname: "www.child.example.com.", qtype: dns.TypeA,
			ns:    []string{"child.example.com. 300 IN NS ns.child.example.com.", "child.example.com. 300 IN NS ns.example.net."},
			extra: []string{"ns.child.example.com. 300 IN A 192.0.2.53"}},
		{name: "DS at the cut", qname: "child.example.com.", qtype: dns.TypeDS, aa: true, ns: []string{soa}},
		{name: "ANY is minimal", qname: "example.com.", qtype: dns.TypeANY, aa: true,
			answer: []string{"example.com. 300 IN NS ns1.example.com.", "example.com. 300 IN NS ns2.example.net."},
			extra:  []string{"ns1.example.com. 300 IN A 192.0.2.1", "ns1.example.com. 300 IN AAAA 2001:db8::1"}},
		{name: "ANY over TCP", qname: "www.example.com.", qtype: dns.TypeANY, tcp: true, aa: true,
			answer: []string{"www.example.com. 30 IN A 192.0.2.10", "www.example.com. 30 IN A 192.0.2.11"}},
		{name: "AXFR over TCP refused", qname: "example.com.", qtype: dns.TypeAXFR, tcp: true, rcode: dns.RcodeRefused},
		{name: "AXFR over UDP not implemented", qname: "example.com.", qtype: dns.TypeAXFR, rcode: dns.RcodeNotImplemented},
		{name: "IXFR over TCP refused", qname: "example.com.", qtype: dns.TypeIXFR, tcp: true, rcode: dns.RcodeRefused},
		{name: "class HS refused", qname: "example.com.", qtype: dns.TypeSOA, qclass: dns.ClassHESIOD, rcode: dns.RcodeRefused},
		{name: "class ANY refused", qname: "example.com.", qtype: dns.TypeSOA, qclass: dns.ClassANY, rcode: dns.RcodeRefused},
		{name: "CHAOS id.server", qname: "id.server.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS, aa: true,
			answer: []string{`id.server. 0 CH TXT "ns1.test"`}},
		{name: "CHAOS hostname.bind", qname: "hostname.bind.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS, aa: true,
			answer: []string{`hostname.bind. 0 CH TXT "ns1.test"`}},
		{name: "CHAOS version.bind off by default", qname: "version.bind.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS, rcode: dns.RcodeRefused},
		{name: "CHAOS other name", qname: "example.com.", qtype: dns.TypeTXT, qclass: dns.ClassCHAOS, rcode: dns.RcodeRefused},
		{name: "EDNS service", qname: "www.example.com.", qtype: dns.TypeAAAA, edns: true, aa: true,
			answer: []string{"www.example.com. 30 IN AAAA 2001:db8::10"}},
		{name: "EDNS REFUSED", qname: "example.org.", qtype: dns.TypeA, edns: true, rcode: dns.RcodeRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion(c.qname, c.qtype)
			if c.qclass != 0 {
				m.Question[0].Qclass = c.qclass
			}
			if c.edns {
				m.SetEdns0(4096, false)
			}
			network := "udp"
			if c.tcp {
				network = "tcp"
			}
			r := exchange(t, network, addr, m)
			checkReply(t, m, r, c)
		})
	}
}

// checkReply checks the header rules every reply follows and the case.
func checkReply(t *testing.T, q, r *dns.Msg, c tcase) {
	t.Helper()
	if r.Id != q.Id || !r.Response || r.Opcode != q.Opcode {
		t.Errorf("header: id %d qr %v opcode %d", r.Id, r.Response, r.Opcode)
	}
	if r.Rcode != c.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
	}
	if r.Authoritative != c.aa {
		t.Errorf("AA %v, want %v", r.Authoritative, c.aa)
	}
	if r.RecursionAvailable || r.AuthenticatedData || r.Zero || r.Truncated {
		t.Errorf("flags: RA %v AD %v Z %v TC %v, want all clear", r.RecursionAvailable, r.AuthenticatedData, r.Zero, r.Truncated)
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("RD %v not copied", r.RecursionDesired)
	}
	if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("question %v, want %v", r.Question, q.Question)
	}
	sameRRs(t, "answer", r.Answer, c.answer)
	sameRRs(t, "authority", r.Ns, c.ns)
	var extra []dns.RR
	var opt *dns.OPT
	for _, rr := range r.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			continue
		}
		extra = append(extra, rr)
	}
	sameRRs(t, "additional", extra, c.extra)
	if c.edns {
		if opt == nil {
			t.Fatal("no OPT in the reply to an EDNS query")
		}
		if opt.UDPSize() != 1232 || opt.Version() != 0 || len(opt.Option) != 0 {
			t.Errorf("OPT %v, want udp 1232, version 0, no options", opt)
		}
	} else if opt != nil {
		t.Errorf("OPT in the reply to a query without EDNS")
	}
}

// sameRRs compares records with want, written in zone-file syntax. SOA
// serials, derived from the file content, are not compared.
func sameRRs(t *testing.T, section string, got []dns.RR, want []string) {
	t.Helper()
	var g, w []string
	for _, rr := range got {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = 0
			rr = &c
		}
		g = append(g, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	for _, s := range want {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("bad test record %q: %v", s, err)
		}
		w = append(w, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", section, g, w)
	}
}

// rawQuery builds a query by hand so that tests can set any bit.
func rawQuery(id uint16, flags uint16, qd int, name string, qtype uint16, extra []byte, arcount int) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], uint16(qd))
	binary.BigEndian.PutUint16(b[10:], uint16(arcount))
	for range qd {
		buf := make([]byte, 256)
		n, _ := dns.PackDomainName(name, buf, 0, nil, false)
		b = append(b, buf[:n]...)
		b = binary.BigEndian.AppendUint16(b, qtype)
		b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	}
	return append(b, extra...)
}

// rawOPT is an OPT record: udp size, extended rcode, version, flags and
// options as raw bytes.
func rawOPT(size uint16, version uint8, flags uint16, options []byte) []byte {
	b := []byte{0}
	b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
	b = binary.BigEndian.AppendUint16(b, size)
	b = append(b, 0, version)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(options)))
	return append(b, options...)
}

func unpack(t *testing.T, b []byte) *dns.Msg {
	t.Helper()
	if b == nil {
		t.Fatal("no reply")
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return m
}

func TestHeaderRules(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	_, addr := startServer(t, snap)
	const (
		qr = 1 << 15
		aa = 1 << 10
		tc = 1 << 9
		rd = 1 << 8
		ra = 1 << 7
		z  = 1 << 6
		ad = 1 << 5
		cd = 1 << 4
	)
	allFlags := uint16(aa | tc | rd | ra | z | ad | cd)

	t.Run("responses are not answered", func(t *testing.T) {
		if r := exchangeRaw(t, addr, rawQuery(1, qr, 1, "example.com.", dns.TypeSOA, nil, 0), 300*time.Millisecond); r != nil {
			t.Errorf("got a reply to a QR=1 message: %x", r)
		}
	})
	t.Run("runts are dropped", func(t *testing.T) {
		if r := exchangeRaw(t, addr, []byte{1, 2, 3}, 300*time.Millisecond); r != nil {
			t.Errorf("got a reply to 3 bytes: %x", r)
		}
	})
	for _, op := range []int{dns.OpcodeIQuery, dns.OpcodeStatus, dns.OpcodeNotify, dns.OpcodeUpdate, 15} {
		t.Run("NOTIMP opcode "+dns.OpcodeToString[op], func(t *testing.T) {
			for _, edns := range []bool{false, true} {
				var extra []byte
				ar := 0
				if edns {
					extra, ar = rawOPT(4096, 0, 0x8000, nil), 1
				}
				q := rawQuery(7, uint16(op)<<11|allFlags, 1, "example.com.", dns.TypeSOA, extra, ar)
				r := unpack(t, exchangeRaw(t, addr, q, time.Second))
				if r.Rcode != dns.RcodeNotImplemented || r.Opcode != op {
					t.Errorf("rcode %s opcode %d", dns.RcodeToString[r.Rcode], r.Opcode)
				}
				flags := binary.BigEndian.Uint16(exchangeRaw(t, addr, q, time.Second)[2:])
				if flags&allFlags != 0 {
					t.Errorf("flags %016b: want AA TC RD RA Z AD CD all clear", flags)
				}
				if (r.IsEdns0() != nil) != edns {
					t.Errorf("OPT in reply: %v, want %v", r.IsEdns0() != nil, edns)
				}
			}
		})
	}
	t.Run("RD and CD copied, question echoed byte for byte", func(t *testing.T) {
		q := rawQuery(9, rd|cd|ad, 1, "MaIl.eXaMpLe.CoM.", dns.TypeA, nil, 0)
		raw := exchangeRaw(t, addr, q, time.Second)
		if raw == nil {
			t.Fatal("no reply")
		}
		flags := binary.BigEndian.Uint16(raw[2:])
		if flags&(rd|cd) != rd|cd || flags&(ra|ad|z|tc) != 0 || flags&aa == 0 {
			t.Errorf("flags %016b: want QR AA RD CD only", flags)
		}
		if !bytes.Equal(raw[12:len(q)], q[12:]) {
			t.Errorf("question not echoed byte for byte:\n got %x\nwant %x", raw[12:len(q)], q[12:])
		}
		r := unpack(t, raw)
		if len(r.Answer) != 1 || r.Answer[0].Header().Name != "MaIl.eXaMpLe.CoM." {
			t.Errorf("answer owner does not keep the query's case: %v", r.Answer)
		}
	})
	for _, qd := range []int{0, 2} {
		t.Run("FORMERR for QDCOUNT "+string(rune('0'+qd)), func(t *testing.T) {
			r := unpack(t, exchangeRaw(t, addr, rawQuery(3, rd, qd, "example.com.", dns.TypeSOA, nil, 0), time.Second))
			if r.Rcode != dns.RcodeFormatError {
				t.Errorf("rcode %s, want FORMERR", dns.RcodeToString[r.Rcode])
			}
		})
	}
	t.Run("FORMERR for garbage after the header, OPT kept", func(t *testing.T) {
		q := rawQuery(4, 0, 1, "example.com.", dns.TypeSOA, rawOPT(1232, 0, 0, []byte{0, 8, 0, 3, 9, 9, 9}), 1) // ECS with a bad family
		r := unpack(t, exchangeRaw(t, addr, q, time.Second))
		if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil {
			t.Errorf("rcode %s OPT %v: want FORMERR with OPT", dns.RcodeToString[r.Rcode], r.IsEdns0())
		}
	})
}

func TestEDNS(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	_, addr := startServer(t, snap)
	query := func(opts ...[]byte) []byte {
		var extra []byte
		for _, o := range opts {
			extra = append(extra, o...)
		}
		return rawQuery(5, 0, 1, "www.example.com.", dns.TypeA, extra, len(opts))
	}
	t.Run("BADVERS for version 1", func(t *testing.T) {
		r := unpack(t, exchangeRaw(t, addr, query(rawOPT(4096, 1, 0, nil)), time.Second))
		o := r.IsEdns0()
		if r.Rcode != dns.RcodeBadVers || o == nil || o.Version() != 0 || len(r.Answer) != 0 || len(r.Ns) != 0 {
			t.Errorf("rcode %s opt %v answer %v ns %v: want BADVERS, version 0, empty", dns.RcodeToString[r.Rcode], o, r.Answer, r.Ns)
		}
	})
	t.Run("two OPT records", func(t *testing.T) {
		r := unpack(t, exchangeRaw(t, addr, query(rawOPT(4096, 0, 0, nil), rawOPT(4096, 0, 0, nil)), time.Second))
		if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil {
			t.Errorf("rcode %s: want FORMERR with OPT", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("unknown options and flags not echoed, DO copied", func(t *testing.T) {
		unknown := []byte{0xfd, 0xe9, 0, 2, 0xab, 0xcd}
		r := unpack(t, exchangeRaw(t, addr, query(rawOPT(4096, 0, 0x8000|0x4000|0x0001, unknown)), time.Second))
		o := r.IsEdns0()
		if o == nil {
			t.Fatal("no OPT")
		}
		if !o.Do() || o.Z() != 0 || len(o.Option) != 0 {
			t.Errorf("OPT %v: want DO, no other flag, no option", o)
		}
		if o.UDPSize() != 1232 || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Errorf("udp %d rcode %d answers %d", o.UDPSize(), r.Rcode, len(r.Answer))
		}
	})
	t.Run("NSID only when asked", func(t *testing.T) {
		r := unpack(t, exchangeRaw(t, addr, query(rawOPT(4096, 0, 0, []byte{0, 3, 0, 0})), time.Second))
		o := r.IsEdns0()
		if o == nil || len(o.Option) != 1 {
			t.Fatalf("OPT %v: want one NSID option", o)
		}
		if n, ok := o.Option[0].(*dns.EDNS0_NSID); !ok || n.Nsid != "6e73312e74657374" { // "ns1.test"
			t.Errorf("NSID %v, want ns1.test", o.Option[0])
		}
	})
}

func TestTruncation(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	_, addr := startServer(t, snap)
	cases := []struct {
		name    string
		bufsize uint16 // 0: no EDNS
		network string
		tc      bool
		answers int
	}{
		{"no EDNS: 512", 0, "udp", true, 0},
		{"EDNS 512", 512, "udp", true, 0},
		{"EDNS below 512 counts as 512", 100, "udp", true, 0},
		{"EDNS 1232 fits", 1232, "udp", false, 10},
		{"TCP gets everything", 0, "tcp", false, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("big.example.com.", dns.TypeTXT)
			if c.bufsize > 0 {
				m.SetEdns0(c.bufsize, false)
			}
			cl := &dns.Client{Net: c.network, Timeout: 2 * time.Second, UDPSize: 65535}
			r, _, err := cl.Exchange(m, addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated != c.tc || len(r.Answer) != c.answers {
				t.Errorf("TC %v answers %d; want TC %v answers %d", r.Truncated, len(r.Answer), c.tc, c.answers)
			}
			if c.tc && (len(r.Ns) != 0 || len(r.Question) != 1) {
				t.Errorf("truncated reply: ns %v question %v", r.Ns, r.Question)
			}
			if (c.bufsize > 0) != (r.IsEdns0() != nil) {
				t.Errorf("OPT %v", r.IsEdns0())
			}
			if r.Len() > max(512, int(min(c.bufsize, 1232))) && c.network == "udp" {
				t.Errorf("reply of %d bytes", r.Len())
			}
		})
	}
	t.Run("additional dropped first without TC", func(t *testing.T) {
		// The NS answer with glue is 150 bytes; cut the glue alone by
		// making the answer just fit 512 is not possible with this zone,
		// so check the handler directly with a small limit.
		h := NewHandler(snap, Identity{}, nil, discard())
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeNS)
		q, _ := m.Pack()
		r, _ := h.answer(q, netip.MustParseAddr("192.0.2.1"), UDP, &outcome{})
		full, _ := r.Pack()
		r, _ = h.answer(q, netip.MustParseAddr("192.0.2.1"), UDP, &outcome{})
		withoutExtra := *r
		withoutExtra.Extra = nil
		small, _ := withoutExtra.Pack()
		out := h.pack(r, len(small), nil)
		got := unpack(t, out)
		if got.Truncated || len(got.Answer) != 2 || len(got.Extra) != 0 {
			t.Errorf("limit %d (full %d): TC %v answer %d extra %d; want no TC, 2 answers, no additional", len(small), len(full), got.Truncated, len(got.Answer), len(got.Extra))
		}
	})
}
