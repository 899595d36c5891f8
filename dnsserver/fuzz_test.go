package dnsserver

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/miekg/dns"
)

// FuzzServe feeds arbitrary bytes to the handler: it must return nothing or
// a reply that unpacks, and never panic (a recovered panic counts as one).
// A query the fast path (fast reader and fast encoder) answers must get
// the same reply, byte for byte, from the general path (miekg/dns reading
// and writing), and the handler must give that reply.
// Over UDP the same bytes also go twice through a reader, whose answer
// cache (kept across inputs) must give the handler's reply each time: the
// test zone has no answers drawn at random. The source address is one of
// a few, picked by the low bits of the ID, some of them trusted to send
// client subnets, so that answers by location (GeoIP) and by subnet
// (sticky) are cached per scope across sources.
func FuzzServe(f *testing.F) {
	snap := loadSnapshot(f, testConfig+fuzzGeoConfig, testZone+fuzzZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(loc.Close)
	h := NewHandler(snap, Identity{Hostname: "fuzz"}, loc, discard())
	reader := h.NewReader()
	// The same zone signed: every input goes to it too (signing with DO,
	// compact denial, CO).
	signed, _ := signedZoneOf(f, dns.ECDSAP256SHA256, testConfig+fuzzGeoConfig, testZone+fuzzZone)
	hs := NewHandler(signed, Identity{Hostname: "fuzz"}, loc, discard())
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"www.example.com.", dns.TypeA, false},
		{"WWW.example.com.", dns.TypeAAAA, true},
		{"x.wild.example.com.", dns.TypeANY, true},
		{"alias.example.com.", dns.TypeA, false},
		{"a.child.example.com.", dns.TypeA, true},
		{"big.example.com.", dns.TypeTXT, true},
		{"id.server.", dns.TypeTXT, false},
		{"example.org.", dns.TypeSOA, false},
		{"ns1.example.com.", dns.TypeTXT, true},
		{"x.Hostmaster.example.com.", dns.TypeA, false},
		{"geo.example.com.", dns.TypeA, true},
		{"Sticky.example.com.", dns.TypeAAAA, false},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns {
			m.SetEdns0(1232, true)
		}
		b, _ := m.Pack()
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add(rawQuery(1, 15<<11|0x7f0, 1, "example.com.", dns.TypeSOA, rawOPT(512, 1, 0xffff, []byte{0, 3, 0, 0, 0, 8, 0, 1, 9}), 1), false)
	for id, opt := range [][]byte{
		ecsOption(1, 24, 0, []byte{175, 16, 199}),
		ecsOption(2, 56, 0, []byte{0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0}),
		ecsOption(2, 120, 0, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 81, 2, 69}),
		ecsOption(1, 0, 0, nil),
	} {
		for _, name := range []string{"geo.example.com.", "sticky.example.com.", "nope.example.com."} {
			f.Add(rawQuery(uint16(id), 0, 1, name, dns.TypeA, rawOPT(1232, 0, 0, opt), 1), false)
		}
	}
	for _, name := range []string{"nope.example.com.", "www.example.com.", "geo.example.com.", "example.com."} {
		f.Add(rawQuery(7, 0, 1, name, dns.TypeA, rawOPT(1232, 0, 0xc000, nil), 1), false)
		f.Add(rawQuery(8, 0, 1, name, dns.TypeDNSKEY, rawOPT(1232, 0, 0x8000, nil), 1), true)
	}
	// Missing names of 253, 254 and 255 octets, signed: the longest have
	// no room for "\000." in front of their NSEC's next name.
	for _, n := range []int{253, 254, 255} {
		name := "example.com."
		for len(name) < n-1-64 {
			name = strings.Repeat("a", 63) + "." + name
		}
		name = strings.Repeat("b", n-2-len(name)) + "." + name
		f.Add(rawQuery(9, 0, 1, name, dns.TypeA, rawOPT(1232, 0, 0x8000, nil), 1), false)
	}
	f.Fuzz(func(t *testing.T, req []byte, tcp bool) {
		tr := UDP
		if tcp {
			tr = TCP
		}
		src := fuzzSources[0]
		if len(req) >= 2 {
			src = fuzzSources[int(req[1])%len(fuzzSources)]
		}
		out := h.Serve(req, src, tr, nil)
		if h.Panics() > 0 {
			t.Fatalf("the handler panicked on %x", req)
		}
		// Every query the fast path takes gets from the general path the
		// same reply, byte for byte.
		if fast, ok := fastReply(h, req, src.Addr(), tr); ok {
			if general := generalReply(h, req, src.Addr(), tr); !bytes.Equal(fast, general) {
				t.Fatalf("fast and general replies to %x differ:\n%x\n%x\n%s", req, fast, general, diffReplies(fast, general))
			}
			if !bytes.Equal(fast, out) {
				t.Fatalf("the handler's reply to %x is not the fast path's:\n%x\n%x", req, out, fast)
			}
		}
		if so := hs.Serve(req, src, tr, nil); hs.Panics() > 0 {
			t.Fatalf("the signing handler panicked on %x", req)
		} else if so != nil {
			if err := new(dns.Msg).Unpack(so); err != nil {
				t.Fatalf("signed reply %x to %x does not unpack: %v", so, req, err)
			}
			if tr == UDP && len(so) > 1232 {
				t.Fatalf("signed UDP reply of %d bytes", len(so))
			}
		}
		if fast, ok := fastReply(hs, req, src.Addr(), tr); ok {
			if general := generalReply(hs, req, src.Addr(), tr); !bytes.Equal(fast, general) {
				t.Fatalf("signed zone: fast and general replies to %x differ:\n%s", req, diffReplies(fast, general))
			}
		}
		if tr == UDP {
			for i := range 2 {
				if got := reader.Serve(req, src, nil, time.Now()); !bytes.Equal(got, out) {
					t.Fatalf("reader reply %d to %x:\n%x\nwant the handler's\n%x", i, req, got, out)
				}
			}
		}
		if out == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply %x to %x does not unpack: %v", out, req, err)
		}
		if !r.Response {
			t.Fatalf("reply without QR")
		}
		if tr == UDP && len(out) > 1232 {
			t.Fatalf("UDP reply of %d bytes", len(out))
		}
	})
}

// fuzzGeoConfig and fuzzZone add to the test configuration what answers
// by the client: a GeoIP database, client subnets trusted from two
// networks, a service by location and one sticky per subnet.
const fuzzGeoConfig = `[geo]
database = "../testdata/geoip/GeoIP2-City-Test.mmdb"
ecs = ["192.0.2.0/24", "2001:db8:53::/48"]
`

const fuzzZone = `[services.geo]
policy = "geo"
backends = [
  { name = "eu", address = "192.0.2.21" }, { name = "us", address = "192.0.2.22" },
  { name = "as", address = "192.0.2.23" }, { name = "as6", address = "2001:db8::23" },
]
pools = [{ name = "eu", backends = ["eu"] }, { name = "us", backends = ["us"] }, { name = "as", backends = ["as", "as6"] }]
[services.geo.geo]
default = ["us"]
continent = { EU = ["eu"], AS = ["as"] }
cidr = { "198.51.100.128/25" = ["eu"] }
[services.sticky]
members = "sticky"
backends = [
  { name = "a", address = "192.0.2.31" }, { name = "b", address = "192.0.2.32" },
  { name = "c", address = "192.0.2.33" }, { name = "d", address = "2001:db8::33" },
]
`

// fuzzSources are the source addresses FuzzServe queries come from: ECS
// trusted (the first and last), not trusted, located by the database, and
// either side of a CIDR rule.
var fuzzSources = []netip.AddrPort{
	netip.MustParseAddrPort("192.0.2.1:5353"),
	netip.MustParseAddrPort("198.51.100.7:5353"),
	netip.MustParseAddrPort("198.51.100.200:5353"),
	netip.MustParseAddrPort("81.2.69.142:5353"),
	netip.MustParseAddrPort("[2001:db8:53::1]:5353"),
}
