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
[services.shared]
members = "weighted"
draw = "shared"
backends = [{ name = "a", address = "192.0.2.40", weight = 3 }, { name = "b", address = "192.0.2.41" }, { name = "c", address = "192.0.2.42" }]
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
	{"service weighted A", "weighted.example.com.", dns.TypeA, nil, true, 3},
	{"service weighted A with ECS", "weighted.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 3},
	{"service weighted A with ECS, shared draw (a fleet's default)", "shared.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 3},
	{"geo service with ECS", "geo.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 4},
	{"adaptive service", "adaptive.example.com.", dns.TypeA, nil, true, 3},
	{"NXDOMAIN", "nope.example.com.", dns.TypeA, nil, true, 1},
	{"truncated answer", "big.example.com.", dns.TypeTXT, nil, false, 10},
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

// serveFunc answers one query into buf; newServe makes one per case.
type serveFunc func(req, buf []byte) []byte

// benchQueries benchmarks whole queries, one sub-benchmark per case.
func benchQueries(b *testing.B, cases []benchCase, newServe func() serveFunc) {
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			serve := newServe()
			req := c.wire()
			buf := make([]byte, 0, 65535)
			b.ReportAllocs()
			for b.Loop() {
				if serve(req, buf) == nil {
					b.Fatal("no reply")
				}
			}
		})
	}
}

// checkAllocations fails a case whose query (after a first one) allocates
// more than its budget; after runs, if not nil, checks more of the case.
func checkAllocations(t *testing.T, cases []benchCase, newServe func() serveFunc, after func(c benchCase)) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	for _, c := range cases {
		serve := newServe()
		req := c.wire()
		buf := make([]byte, 0, 65535)
		serve(req, buf)
		allocs := testing.AllocsPerRun(200, func() { serve(req, buf) })
		t.Logf("%s: %.0f allocs per query (budget %.0f)", c.name, allocs, c.allocs)
		if allocs > c.allocs {
			t.Errorf("%s: %.0f allocs per query, budget %.0f", c.name, allocs, c.allocs)
		}
		if after != nil {
			after(c)
		}
	}
}

var benchSrc = netip.MustParseAddrPort("198.51.100.1:5353")

// handlerServe answers through the handler, without a cache.
func handlerServe(h *Handler) func() serveFunc {
	return func() serveFunc {
		return func(req, buf []byte) []byte { return h.Serve(req, benchSrc, UDP, buf) }
	}
}

// readerServe answers through a new UDP reader and its answer cache.
func readerServe(h *Handler) func() serveFunc {
	return func() serveFunc {
		r := h.NewReader()
		now := time.Now()
		return func(req, buf []byte) []byte { return r.Serve(req, benchSrc, buf, now) }
	}
}

// BenchmarkServe runs whole queries: wire bytes in, wire bytes out, through
// the handler the server uses.
func BenchmarkServe(b *testing.B) { benchQueries(b, benchCases, handlerServe(benchHandler(b))) }

func TestServeAllocations(t *testing.T) {
	checkAllocations(t, benchCases, handlerServe(benchHandler(t)), nil)
}

// readerCases are whole queries through a UDP reader, whose answer cache
// answers repeated queries: allocs is the budget of a repeated query.
var readerCases = []benchCase{
	{"static A, cached", "static.example.com.", dns.TypeA, nil, false, 0},
	{"geo service (members all) with ECS, cached", "geoall.example.com.", dns.TypeA, ecsOption(1, 24, 0, []byte{175, 16, 199}), true, 0},
	{"NXDOMAIN, cached", "nope.example.com.", dns.TypeA, nil, true, 0},
	{"service weighted A, never cached", "weighted.example.com.", dns.TypeA, nil, true, 3},
}

// BenchmarkReader runs whole queries as the UDP readers do, through the
// answer cache; the first query of each case fills it.
func BenchmarkReader(b *testing.B) { benchQueries(b, readerCases, readerServe(benchHandler(b))) }

func TestReaderAllocations(t *testing.T) {
	h := benchHandler(t)
	h.SetMetrics(NewMetrics())
	var hits uint64
	checkAllocations(t, readerCases, readerServe(h), func(c benchCase) {
		n := h.metrics.cacheHits.Load() - hits
		hits += n
		t.Logf("%s: %d cache hits", c.name, n)
		if wantHits := c.allocs == 0; (n > 0) != wantHits {
			t.Errorf("%s: %d cache hits", c.name, n)
		}
	})
}
