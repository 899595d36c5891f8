package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/zones/zonestest"
	"github.com/miekg/dns"
)

const geoConfig = `zones = ["example.com.toml"]
[geo]
database = "../testdata/geoip/GeoIP2-City-Test.mmdb"
ecs = %s
`

const geoZone = `origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.www]
policy = "geo"
members = "all"
backends = [
  { name = "eu", address = "192.0.2.1" }, { name = "eu6", address = "2001:db8::1" },
  { name = "us", address = "192.0.2.2" }, { name = "us6", address = "2001:db8::2" },
  { name = "as", address = "192.0.2.3" },
]
pools = [{ name = "eu", backends = ["eu", "eu6"] }, { name = "us", backends = ["us", "us6"] }, { name = "as", backends = ["as"] }]
[services.www.geo]
default = ["us"]
continent = { EU = ["eu"], AS = ["as", "us"] }
[services.static]
backends = [{ address = "192.0.2.9" }]
`

// startGeoServer serves geoZone with the MaxMind test database, trusting
// ECS as trust says ("\"all\"", "\"none\"" or a TOML list).
func startGeoServer(t *testing.T, trust string) string {
	t.Helper()
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, trust), geoZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loc.Close)
	h := NewHandler(snap, Identity{}, loc, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return s.Addrs()[0].String()
}

// ecsOption is a raw client subnet option.
func ecsOption(family uint16, source, scope uint8, addr []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, 8)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(addr)))
	b = binary.BigEndian.AppendUint16(b, family)
	b = append(b, source, scope)
	return append(b, addr...)
}

func TestECS(t *testing.T) {
	addr := startGeoServer(t, `"all"`)
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		opts   []byte
		rcode  int
		answer string // first answer address, "" for none
		scope  int    // -1: no ECS in the reply
	}{
		{"Asia /24", "www.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), 0, "192.0.2.3", 24},
		{"Europe IPv6 /56", "www.example.com.", dns.TypeA, ecsOption(2, 56, 0, []byte{0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0}), 0, "192.0.2.1", 29},
		{"Europe IPv6 /56, AAAA", "www.example.com.", dns.TypeAAAA, ecsOption(2, 56, 0, []byte{0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0}), 0, "2001:db8::1", 29},
		{"US /24 inside a /22", "www.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{214, 78, 120}), 0, "192.0.2.2", 22},
		{"unknown network: default, scope of the empty block", "www.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{1, 1, 1}), 0, "192.0.2.2", 8},
		{"/20 is enough", "www.example.com.", dns.TypeA, ecsOption(1, 20, 0, []byte{202, 196, 224}), 0, "192.0.2.3", 20},
		{"source 0: the resolver's location, scope 0", "www.example.com.", dns.TypeA, ecsOption(1, 0, 0, nil), 0, "192.0.2.2", 0},
		{"dig's family 0 with source 0", "www.example.com.", dns.TypeA, ecsOption(0, 0, 0, nil), 0, "192.0.2.2", 0},
		{"not location dependent: scope 0", "static.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), 0, "192.0.2.9", 0},
		{"NXDOMAIN carries ECS", "nope.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), dns.RcodeNameError, "", 0},
		{"NODATA carries ECS", "www.example.com.", dns.TypeTXT, ecsOption(1, 24, 0, []byte{175, 16, 199}), 0, "", 0},
		{"bits set past the source prefix", "www.example.com.", dns.TypeA, ecsOption(1, 23, 0, []byte{175, 16, 199}), dns.RcodeFormatError, "", -1},
		{"address longer than the prefix needs", "www.example.com.", dns.TypeA, ecsOption(1, 16, 0, []byte{175, 16, 0}), dns.RcodeFormatError, "", -1},
		{"address shorter than the prefix needs", "www.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16}), dns.RcodeFormatError, "", -1},
		{"IPv4 prefix longer than 32", "www.example.com.", dns.TypeA, ecsOption(1, 33, 0, []byte{175, 16, 199, 1, 0}), dns.RcodeFormatError, "", -1},
		{"IPv6 prefix longer than 128", "www.example.com.", dns.TypeA, ecsOption(2, 129, 0, make([]byte, 17)), dns.RcodeFormatError, "", -1},
		{"unknown family", "www.example.com.", dns.TypeA, ecsOption(3, 8, 0, []byte{1}), dns.RcodeFormatError, "", -1},
		{"family 0 with a prefix", "www.example.com.", dns.TypeA, ecsOption(0, 8, 0, []byte{1}), dns.RcodeFormatError, "", -1},
		{"two ECS options", "www.example.com.", dns.TypeA, append(ecsOption(1, 24, 0, []byte{175, 16, 199}), ecsOption(1, 24, 0, []byte{175, 16, 199})...), dns.RcodeFormatError, "", -1},
		{"truncated option", "www.example.com.", dns.TypeA, []byte{0, 8, 0, 2, 0, 1}, dns.RcodeFormatError, "", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := rawQuery(77, 0, 1, c.qname, c.qtype, rawOPT(1232, 0, 0, c.opts), 1)
			r := unpack(t, exchangeRaw(t, addr, q, 2*time.Second))
			if r.Rcode != c.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
			}
			if r.IsEdns0() == nil {
				t.Fatal("no OPT in the reply")
			}
			var first string
			for _, rr := range r.Answer {
				switch v := rr.(type) {
				case *dns.A:
					first = v.A.String()
				case *dns.AAAA:
					first = v.AAAA.String()
				}
				break
			}
			if first != c.answer {
				t.Errorf("answer %q, want %q (%v)", first, c.answer, r.Answer)
			}
			var got *dns.EDNS0_SUBNET
			for _, o := range r.IsEdns0().Option {
				if e, ok := o.(*dns.EDNS0_SUBNET); ok {
					got = e
				}
			}
			if c.scope < 0 {
				if got != nil {
					t.Errorf("ECS in a FORMERR reply: %v", got)
				}
				return
			}
			if got == nil {
				t.Fatal("no ECS option in the reply")
			}
			sent, _ := decodeECS(c.opts[4:])
			if got.Family != sent.family || got.SourceNetmask != sent.source || int(got.SourceScope) != c.scope {
				t.Errorf("ECS %v: want family %d source %d scope %d", got, sent.family, sent.source, c.scope)
			}
			if sent.family != 0 && !got.Address.Equal(net.IP(sent.addr.AsSlice())) {
				t.Errorf("ECS address %v, want %v", got.Address, sent.addr)
			}
		})
	}
}

// serveExchanger asks h in process, from the case's client (192.0.2.200
// when it names none) over the case's transport.
func serveExchanger(h *Handler) zonestest.Exchanger {
	return func(t testing.TB, c zonestest.Case, q *dns.Msg) *dns.Msg {
		t.Helper()
		req, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		src := c.Client
		if !src.IsValid() {
			src = netip.MustParseAddr("192.0.2.200")
		}
		tr := UDP
		if c.TCP {
			tr = TCP
		}
		return unpack(t, h.Serve(req, netip.AddrPortFrom(src, 5300), tr, make([]byte, 65535)))
	}
}

// TestECSCases asks geoZone from clients and client subnets in process:
// the answer follows the subnet when the client is a trusted resolver
// and the client otherwise, and the scope says how much of it was used.
func TestECSCases(t *testing.T) {
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, `["192.0.2.0/24", "2001:db8:53::/48"]`), geoZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loc.Close)
	h := NewHandler(snap, Identity{}, loc, discard())
	resolver := netip.MustParseAddr("192.0.2.53")
	const soa = "example.com. 60 IN SOA ns.example.net. hostmaster.example.com. 0 3600 600 604800 60"
	cases := []zonestest.Case{
		{Name: "Asia /24 from a trusted resolver", Client: resolver, ECS: netip.MustParsePrefix("175.16.199.0/24"), Scope: 24,
			Qname: "www.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"www.example.com. 30 IN A 192.0.2.3"}},
		{Name: "Europe /56 from a trusted IPv6 resolver", Client: netip.MustParseAddr("2001:db8:53::1"), ECS: netip.MustParsePrefix("2a02:cfc0::/56"), Scope: 29,
			Qname: "www.example.com.", Qtype: dns.TypeAAAA, AA: true, Answer: []string{"www.example.com. 30 IN AAAA 2001:db8::1"}},
		{Name: "untrusted resolver: located by its own address, scope 0", Client: netip.MustParseAddr("198.51.100.53"), ECS: netip.MustParsePrefix("175.16.199.0/24"), Scope: 0,
			Qname: "www.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"www.example.com. 30 IN A 192.0.2.2"}},
		{Name: "no ECS: the client itself", Client: netip.MustParseAddr("81.2.69.142"),
			Qname: "www.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"www.example.com. 30 IN A 192.0.2.1"}},
		{Name: "not location dependent: scope 0", Client: resolver, ECS: netip.MustParsePrefix("175.16.199.0/24"), Scope: 0,
			Qname: "static.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"static.example.com. 30 IN A 192.0.2.9"}},
		{Name: "NXDOMAIN carries ECS", Client: resolver, ECS: netip.MustParsePrefix("175.16.199.0/24"), Scope: 0,
			Qname: "nope.example.com.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, AA: true, Ns: []string{soa}},
		{Name: "an IPv4-mapped subnet: an IPv4 client, its scope in IPv6 bits", Client: resolver, ECS: netip.MustParsePrefix("::ffff:175.16.199.0/120"), Scope: 120,
			Qname: "www.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"www.example.com. 30 IN A 192.0.2.3"}},
		{Name: "an IPv4-mapped subnet, answer for everyone: scope 0", Client: resolver, ECS: netip.MustParsePrefix("::ffff:175.16.199.0/120"), Scope: 0,
			Qname: "static.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"static.example.com. 30 IN A 192.0.2.9"}},
		{Name: "over TCP", Client: resolver, ECS: netip.MustParsePrefix("202.196.224.0/20"), Scope: 20, TCP: true,
			Qname: "www.example.com.", Qtype: dns.TypeA, AA: true, Answer: []string{"www.example.com. 30 IN A 192.0.2.3"}},
	}
	zonestest.Run(t, cases, serveExchanger(h), nil)
}

func TestECSTrust(t *testing.T) {
	// Trusted only from 192.0.2.0/24: our loopback client is not, so it
	// is located by its own address (unknown: default pool) with scope 0.
	addr := startGeoServer(t, `["192.0.2.0/24"]`)
	q := rawQuery(78, 0, 1, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, ecsOption(1, 24, 0, []byte{175, 16, 199})), 1)
	r := unpack(t, exchangeRaw(t, addr, q, 2*time.Second))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("untrusted ECS was used: %v", r.Answer)
	}
	for _, o := range r.IsEdns0().Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok && e.SourceScope != 0 {
			t.Errorf("scope %d for an untrusted ECS, want 0", e.SourceScope)
		}
	}
	addr = startGeoServer(t, `["127.0.0.0/8"]`)
	r = unpack(t, exchangeRaw(t, addr, q, 2*time.Second))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.3" {
		t.Errorf("trusted ECS was not used: %v", r.Answer)
	}
}

func TestDecodeECS(t *testing.T) {
	e, err := decodeECS([]byte{0, 1, 20, 0, 202, 196, 224})
	if err != nil || e.addr != netip.MustParseAddr("202.196.224.0") || e.source != 20 {
		t.Errorf("%+v %v", e, err)
	}
}

// FuzzECS: any option bytes parse or fail; a parsed option is canonical.
func FuzzECS(f *testing.F) {
	f.Add(ecsOption(1, 24, 0, []byte{175, 16, 199}))
	f.Add(ecsOption(2, 56, 0, []byte{0x2a, 0x02, 0xcf, 0xc0, 0, 0, 0}))
	f.Add(ecsOption(0, 0, 0, nil))
	f.Add(append(ecsOption(1, 24, 0, []byte{1, 2, 3}), ecsOption(1, 24, 0, []byte{1, 2, 3})...))
	f.Fuzz(func(t *testing.T, rdata []byte) {
		e, err := parseECS(rdata)
		if err != nil || e == nil || e.family == 0 {
			return
		}
		if !netip.PrefixFrom(e.addr, int(e.source)).IsValid() || netip.PrefixFrom(e.addr, int(e.source)).Masked().Addr() != e.addr {
			t.Fatalf("accepted %x as %+v: bits past the prefix", rdata, e)
		}
	})
}
