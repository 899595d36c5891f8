package dnsserver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/miekg/dns"
)

// benchZone has one name of each kind a whole-query benchmark asks.
const benchZone = `origin = "example.com."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "192.0.2.1" }
static = { A = "192.0.2.5" }
big = { TXT = [
  "0123456789012345678901234567890123456789012345678901234567890-00", "0123456789012345678901234567890123456789012345678901234567890-01",
  "0123456789012345678901234567890123456789012345678901234567890-02", "0123456789012345678901234567890123456789012345678901234567890-03",
  "0123456789012345678901234567890123456789012345678901234567890-04", "0123456789012345678901234567890123456789012345678901234567890-05",
  "0123456789012345678901234567890123456789012345678901234567890-06", "0123456789012345678901234567890123456789012345678901234567890-07",
  "0123456789012345678901234567890123456789012345678901234567890-08", "0123456789012345678901234567890123456789012345678901234567890-09",
] }
[services.weighted]
members = "weighted"
backends = [{ name = "a", address = "192.0.2.10", weight = 3 }, { name = "b", address = "192.0.2.11" }, { name = "c", address = "192.0.2.12" }]
[services.adaptive]
members = "adaptive"
backends = [{ name = "a", address = "192.0.2.20" }, { name = "b", address = "192.0.2.21" }, { name = "c", address = "192.0.2.22" }]
[services.geo]
policy = "geo"
members = "weighted"
backends = [{ name = "eu", address = "192.0.2.30" }, { name = "us", address = "192.0.2.31" }, { name = "as", address = "192.0.2.32" }]
pools = [{ name = "eu", backends = ["eu"] }, { name = "us", backends = ["us"] }, { name = "as", backends = ["as"] }]
[services.geo.geo]
default = ["us"]
continent = { EU = ["eu"], AS = ["as"] }
[services.geoall]
policy = "geo"
members = "all"
backends = [{ name = "eu", address = "192.0.2.30" }, { name = "us", address = "192.0.2.31" }, { name = "as", address = "192.0.2.32" }]
pools = [{ name = "eu", backends = ["eu"] }, { name = "us", backends = ["us"] }, { name = "as", backends = ["as"] }]
[services.geoall.geo]
default = ["us"]
continent = { EU = ["eu"], AS = ["as"] }
`

type benchCase struct {
	name  string
	qname string
	qtype uint16
	ecs   []byte
	edns  bool
	// allocs is the allocation budget of the whole query: the fast path
	// allocates the query name, its lower-case form when it differs, and
	// what the policy needs; truncation takes the general path.
	allocs float64
}

var benchCases = []benchCase{
	{"static A", "static.example.com.", dns.TypeA, nil, false, 2},
	{"service weighted A", "weighted.example.com.", dns.TypeA, nil, true, 4},
	{"geo service with ECS", "geo.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 5},
	{"adaptive service", "adaptive.example.com.", dns.TypeA, nil, true, 4},
	{"NXDOMAIN", "nope.example.com.", dns.TypeA, nil, true, 1},
	{"truncated answer", "big.example.com.", dns.TypeTXT, nil, false, 15},
}

func benchHandler(tb testing.TB) *Handler {
	snap := loadSnapshot(tb, `zones = ["example.com.toml"]
[geo]
database = "../testdata/geoip/GeoIP2-City-Test.mmdb"
`, benchZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(loc.Close)
	return NewHandler(snap, Identity{}, loc, discard())
}

func (c benchCase) wire() []byte {
	if c.ecs != nil || c.edns {
		return rawQuery(1, 0x0100, 1, c.qname, c.qtype, rawOPT(1232, 0, 0, c.ecs), 1)
	}
	return rawQuery(1, 0x0100, 1, c.qname, c.qtype, nil, 0)
}

// BenchmarkServe runs whole queries: wire bytes in, wire bytes out, through
// the handler the server uses.
func BenchmarkServe(b *testing.B) {
	h := benchHandler(b)
	src := netip.MustParseAddrPort("198.51.100.1:5353")
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			req := c.wire()
			buf := make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				if h.Serve(req, src, UDP, buf) == nil {
					b.Fatal("no reply")
				}
			}
		})
	}
}

func TestServeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	h := benchHandler(t)
	src := netip.MustParseAddrPort("198.51.100.1:5353")
	for _, c := range benchCases {
		req := c.wire()
		buf := make([]byte, 0, 65535)
		allocs := testing.AllocsPerRun(200, func() { h.Serve(req, src, UDP, buf) })
		t.Logf("%s: %.0f allocs per query (budget %.0f)", c.name, allocs, c.allocs)
		if allocs > c.allocs {
			t.Errorf("%s: %.0f allocs per query, budget %.0f", c.name, allocs, c.allocs)
		}
	}
}

// readerCases are whole queries through a UDP reader, whose answer cache
// answers repeated queries: allocs is the budget of a repeated query.
var readerCases = []benchCase{
	{"static A, cached", "static.example.com.", dns.TypeA, nil, false, 0},
	{"geo service (members all) with ECS, cached", "geoall.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 0},
	{"NXDOMAIN, cached", "nope.example.com.", dns.TypeA, nil, true, 0},
	{"service weighted A, never cached", "weighted.example.com.", dns.TypeA, nil, true, 4},
}

// BenchmarkReader runs whole queries as the UDP readers do, through the
// answer cache; the first query of each case fills it.
func BenchmarkReader(b *testing.B) {
	h := benchHandler(b)
	src := netip.MustParseAddrPort("198.51.100.1:5353")
	for _, c := range readerCases {
		b.Run(c.name, func(b *testing.B) {
			r := h.NewReader()
			req := c.wire()
			buf := make([]byte, 0, 65535)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if r.Serve(req, src, buf, now) == nil {
					b.Fatal("no reply")
				}
			}
		})
	}
}

func TestReaderAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	h := benchHandler(t)
	src := netip.MustParseAddrPort("198.51.100.1:5353")
	for _, c := range readerCases {
		r := h.NewReader()
		req := c.wire()
		buf := make([]byte, 0, 65535)
		now := time.Now()
		r.Serve(req, src, buf, now)
		allocs := testing.AllocsPerRun(200, func() { r.Serve(req, src, buf, now) })
		t.Logf("%s: %.0f allocs per query (budget %.0f), cache hits %d", c.name, allocs, c.allocs, r.cache.hits)
		if allocs > c.allocs {
			t.Errorf("%s: %.0f allocs per query, budget %.0f", c.name, allocs, c.allocs)
		}
		if wantHits := c.allocs == 0; (r.cache.hits > 0) != wantHits {
			t.Errorf("%s: %d cache hits", c.name, r.cache.hits)
		}
	}
}
