package dnsserver

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/miekg/dns"
)

// TestFastPathMatchesGeneralPath answers a corpus of queries on both paths
// and requires the same reply, byte for byte, wherever the fast path
// answers, also through the answer cache; and requires that it does answer
// the common queries.
func TestFastPathMatchesGeneralPath(t *testing.T) {
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, `"all"`), geoZone+`[records]
"*.wild" = { A = "192.0.2.99", AAAA = "2001:db8::99" }
mail = { A = "192.0.2.25", MX = "10 mail" }
alias = { CNAME = "mail" }
`)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	h := NewHandler(snap, Identity{}, loc, discard())
	names := []string{"www.example.com.", "WwW.ExAmPlE.cOm.", "static.example.com.", "nope.example.com.", "x.wild.example.com.",
		"Deep.X.Wild.example.com.", "mail.example.com.", "alias.example.com.", "example.com.", "example.org.", "a_b.example.com."}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeSOA, dns.TypeNS, dns.TypeANY, 65280}
	opts := [][]byte{
		nil, {},
		ecsOption(1, 24, 0, []byte{175, 16, 199}),
		ecsOption(2, 56, 0, []byte{0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0}),
		ecsOption(1, 0, 0, nil),
		ecsOption(1, 23, 0, []byte{175, 16, 199}), // malformed: FORMERR on the general path
		{0, 3, 0, 0},                          // NSID
		{0xfd, 0xe9, 0, 1, 7},                 // an unknown option
		{0, 11, 0, 1, 7},                      // TCP keepalive of a bad length: FORMERR on both paths
		{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}, // a client cookie
	}
	cache := newAnswerCache()
	srcs := []netip.AddrPort{netip.MustParseAddrPort("198.51.100.7:53"), netip.MustParseAddrPort("[2001:db8::7]:53")}
	taken, total := 0, 0
	for _, name := range names {
		for _, qt := range types {
			for oi, opt := range opts {
				for _, flags := range []uint16{0, 0x0100, 0x0110} {
					for _, src := range srcs {
						var req []byte
						if opt == nil {
							req = rawQuery(4242, flags, 1, name, qt, nil, 0)
						} else {
							req = rawQuery(4242, flags, 1, name, qt, rawOPT(4096, 0, 0x8000, opt), 1)
						}
						for _, tr := range []Transport{UDP, TCP} {
							total++
							fast, ok := fastReply(h, req, src.Addr(), tr)
							general := generalReply(h, req, src.Addr(), tr)
							if !ok {
								continue
							}
							taken++
							if !bytes.Equal(fast, general) {
								t.Errorf("%s %s opt %d flags %x from %s over %s: %s", name, dns.TypeToString[qt], oi, flags, src, tr, diffReplies(fast, general))
							}
							if tr != UDP {
								continue
							}
							// Through the cache twice: stored, then (with
							// another ID) answered from it.
							again := append([]byte{0x12, 0x34}, req[2:]...)
							for i, q := range [][]byte{req, again} {
								cached, _ := h.serve(cache, q, src, tr, nil, time.Now())
								want := general
								if i == 1 {
									want = generalReply(h, again, src.Addr(), tr)
								}
								if !bytes.Equal(cached, want) {
									t.Errorf("%s %s opt %d flags %x from %s over %s, cached (%d): %s", name, dns.TypeToString[qt], oi, flags, src, tr, i, diffReplies(cached, want))
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("fast path answered %d of %d queries, each as the general path does", taken, total)
	// The common queries must take the fast path.
	for _, req := range [][]byte{
		rawQuery(1, 0x0100, 1, "www.example.com.", dns.TypeA, nil, 0),
		rawQuery(1, 0x0100, 1, "www.example.com.", dns.TypeAAAA, rawOPT(1232, 0, 0, ecsOption(1, 24, 0, []byte{175, 16, 199})), 1),
		rawQuery(1, 0x0100, 1, "nope.example.com.", dns.TypeA, rawOPT(1232, 0, 0, nil), 1),
		rawQuery(1, 0x0100, 1, "static.example.com.", dns.TypeA, nil, 0),
	} {
		if _, ok := fastReply(h, req, netip.MustParseAddr("198.51.100.7"), UDP); !ok {
			m := new(dns.Msg)
			m.Unpack(req)
			t.Errorf("not on the fast path: %v", m.Question)
		}
	}
}

// fastReply answers req as the fast path does: the fast reader, decide and
// the fast encoder; ok is false where either declines.
func fastReply(h *Handler, req []byte, src netip.Addr, t Transport) (out []byte, ok bool) {
	var q request
	var r response
	if !readFast(req, &q) {
		return nil, false
	}
	h.decide(h.Snapshot(), &q, src, t, nil, &r)
	return encodeFast(req, &q, &r, nil)
}

// generalReply answers req on the general path: miekg/dns reads and
// writes it.
func generalReply(h *Handler, req []byte, src netip.Addr, t Transport) []byte {
	out, _, _, _ := h.answerWire(h.Snapshot(), req, src, t, nil, nil, nil, true, &outcome{})
	return out
}

// diffReplies compares two replies field by field after unpacking: the
// encodings may differ in name compression only.
func diffReplies(a, b []byte) string {
	ma, mb := new(dns.Msg), new(dns.Msg)
	if err := ma.Unpack(a); err != nil {
		return "fast reply does not unpack: " + err.Error()
	}
	if err := mb.Unpack(b); err != nil {
		return "general reply does not unpack: " + err.Error()
	}
	if ma.MsgHdr != mb.MsgHdr {
		return fmt.Sprintf("header\n fast    %+v\n general %+v", ma.MsgHdr, mb.MsgHdr)
	}
	sec := func(rrs []dns.RR) string {
		var s []string
		for _, rr := range rrs {
			s = append(s, rr.String())
		}
		return strings.Join(s, "\n")
	}
	for _, p := range []struct {
		name string
		a, b []dns.RR
	}{{"question", nil, nil}, {"answer", ma.Answer, mb.Answer}, {"authority", ma.Ns, mb.Ns}, {"additional", ma.Extra, mb.Extra}} {
		if sec(p.a) != sec(p.b) {
			return fmt.Sprintf("%s\n fast    %s\n general %s", p.name, sec(p.a), sec(p.b))
		}
	}
	if fmt.Sprint(ma.Question) != fmt.Sprint(mb.Question) {
		return fmt.Sprintf("question %v vs %v", ma.Question, mb.Question)
	}
	return ""
}

// TestNegativeSOACompression: negative answers whose SOA names share
// suffixes with the question in every way (the apex, MNAME or RNAME as the
// question or a suffix of it, other case) are byte for byte the general
// path's, whether the zone's SOA template or the compressor writes them.
func TestNegativeSOACompression(t *testing.T) {
	h := NewHandler(loadSnapshot(t, testConfig, testZone), Identity{}, nil, discard())
	src := netip.MustParseAddr("198.51.100.7")
	n := 0
	for _, name := range []string{"nope.example.com.", "example.com.", "ns1.example.com.", "x.ns1.example.com.", "hostmaster.example.com.",
		"a.hostmaster.example.com.", "NS1.example.com.", "x.Example.COM.", "ns1.EXAMPLE.com.", "mail.example.com.", "a.b.c.d.e.f.example.com."} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeCAA} {
			for _, opt := range [][]byte{nil, {}} {
				req := rawQuery(7, 0, 1, name, qt, nil, 0)
				if opt != nil {
					req = rawQuery(7, 0, 1, name, qt, rawOPT(1232, 0, 0, opt), 1)
				}
				fast, ok := fastReply(h, req, src, UDP)
				if !ok {
					continue
				}
				n++
				if general := generalReply(h, req, src, UDP); !bytes.Equal(fast, general) {
					t.Errorf("%s %s: %s\n fast    %x\n general %x", name, dns.TypeToString[qt], diffReplies(fast, general), fast, general)
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d negative answers on the fast path", n)
	}
}
