package zones

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/geo/geotest"
	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

const geoConf = `zones = ["z.toml"]
[geo]
database = "city.mmdb"
asn_database = "asn.mmdb"
`

const policyZone = `origin = "example.com."
ns = ["ns.example.net."]
[soa]
[services.www]
policy = "geo"
members = "all"
backends = [
  { name = "eu1", address = "192.0.2.1" }, { name = "eu2", address = "192.0.2.2" }, { name = "eu6", address = "2001:db8:1::1" },
  { name = "us1", address = "192.0.2.11" }, { name = "us2", address = "192.0.2.12" }, { name = "us6", address = "2001:db8:2::1" },
  { name = "ap1", address = "192.0.2.21" },
  { name = "ca1", address = "192.0.2.31" },
  { name = "lab1", address = "192.0.2.41" },
  { name = "dod1", address = "192.0.2.51" },
  { name = "sa1", address = "192.0.2.61" },
]
pools = [
  { name = "eu", backends = ["eu1", "eu2", "eu6"] },
  { name = "us", backends = ["us1", "us2", "us6"] },
  { name = "ap", backends = ["ap1"] },
  { name = "uswest", backends = ["ca1"] },
  { name = "lab", backends = ["lab1"] },
  { name = "dod", backends = ["dod1"] },
  { name = "sa", backends = ["sa1"] },
]
[services.www.geo]
default = ["us", "eu"]
continent = { EU = ["eu", "us"], AS = ["ap", "us"], OC = ["ap"], AF = ["eu"], SA = ["sa", "us"] }
country = { JP = ["ap", "eu"] }
subdivision = { "US-WA" = ["uswest", "us"] }
asn = { "AS721" = ["dod"] }
cidr = { "10.0.0.0/8" = ["lab"], "10.1.0.0/16" = ["eu"] }
`

// policyFixture loads a zone and binds it to real health states (up) and
// an admin store the test can use to take backends out.
type policyFixture struct {
	snap  *Snapshot
	admin *health.Admin
	geo   Locator
}

func newPolicyFixture(t testing.TB, zone string, loc Locator) *policyFixture {
	t.Helper()
	fsys := fstest.MapFS{"gslb.toml": {Data: []byte(geoConf)}, "z.toml": {Data: []byte(zone)}}
	s, err := Load(FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	states := map[health.Spec]*health.State{}
	for _, sp := range s.Specs() {
		states[sp] = health.StartState(sp)
	}
	admin := health.NewAdmin("", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Bind(states, admin, NewSteering(), nil)
	return &policyFixture{snap: s, admin: admin, geo: loc}
}

func (f *policyFixture) down(t testing.TB, ids ...string) {
	for _, id := range ids {
		if err := f.admin.Set(id, &health.Override{State: health.AdminDown}, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *policyFixture) up(t testing.TB, ids ...string) {
	for _, id := range ids {
		f.admin.Set(id, nil, "test")
	}
}

// ask looks name/qtype up for a client (addr, known bits) and returns the
// answered addresses and the scope.
func (f *policyFixture) ask(name string, qtype uint16, client string, bits int, rnd func() uint64) ([]string, int, Result) {
	addr := netip.MustParseAddr(client)
	if bits < 0 {
		bits = addr.BitLen()
	}
	q := &Query{Name: name, Lower: strings.ToLower(name), Type: qtype, Client: NewClient(addr, bits), Geo: f.geo, Rand: rnd}
	a := f.snap.Zone(q.Lower).Lookup(q)
	var out []string
	for _, rr := range a.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out, a.Scope, a.Result
}

func testLocator(t testing.TB) Locator {
	t.Helper()
	l, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{Path: "../testdata/geoip/GeoLite2-ASN-Test.mmdb"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func TestGeoPolicy(t *testing.T) {
	f := newPolicyFixture(t, policyZone, testLocator(t))
	cases := []struct {
		name   string
		client string
		bits   int // -1: a full address (no ECS)
		qtype  uint16
		want   string // answered addresses, space separated
		scope  int
	}{
		{"GB (EU) over IPv4", "81.2.69.142", -1, dns.TypeA, "192.0.2.1 192.0.2.2", 31},
		{"SE (EU)", "89.160.20.115", -1, dns.TypeA, "192.0.2.1 192.0.2.2", 28},
		{"FR (EU) over IPv6, AAAA", "2a02:cfc0::1", -1, dns.TypeAAAA, "2001:db8:1::1", 29},
		{"DE (EU) ECS /56", "2a02:d180::", 56, dns.TypeA, "192.0.2.1 192.0.2.2", 29},
		{"US WA: subdivision rule", "216.160.83.60", -1, dns.TypeA, "192.0.2.31", 29},
		{"US CA, AS721: asn beats subdivision", "214.78.120.9", -1, dns.TypeA, "192.0.2.51", 22},
		{"US (NA, no rule) over IPv6: default us", "2001:480:10::1", -1, dns.TypeAAAA, "2001:db8:2::1", 48},
		{"CN (AS) ECS /24", "175.16.199.0", 24, dns.TypeA, "192.0.2.21", 24},
		{"JP: country beats continent", "2001:218::1", -1, dns.TypeA, "192.0.2.21", 32},
		{"AU (OC), AS721: asn beats continent", "214.0.1.9", -1, dns.TypeA, "192.0.2.51", 24},
		{"LY (AF) AAAA falls to eu's IPv6", "2a02:e700::1", -1, dns.TypeAAAA, "2001:db8:1::1", 29},
		{"unknown address: default", "1.1.1.1", -1, dns.TypeA, "192.0.2.11 192.0.2.12", 16},
		{"loopback: default", "127.0.0.1", -1, dns.TypeA, "192.0.2.11 192.0.2.12", 8},
		// 10.2.0.0/15 is the widest block around the client that leaves
		// out the nested 10.1.0.0/16 rule: the scope is no longer.
		{"cidr rule", "10.2.3.4", -1, dns.TypeA, "192.0.2.41", 15},
		{"nested cidr rule", "10.1.2.3", -1, dns.TypeA, "192.0.2.1 192.0.2.2", 16},
		{"cidr rule, client far from the nested one", "10.200.0.1", -1, dns.TypeA, "192.0.2.41", 9},
		{"AAAA for a pool without IPv6 goes on down the list", "175.16.199.0", 24, dns.TypeAAAA, "2001:db8:2::1", 24},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, scope, _ := f.ask("www.example.com.", c.qtype, c.client, c.bits, nil)
			if strings.Join(got, " ") != c.want || scope != c.scope {
				t.Errorf("got %v scope %d; want %s scope %d", got, scope, c.want, c.scope)
			}
		})
	}
}

func TestGeoSouthAmericaFromBuiltDatabase(t *testing.T) {
	path := geotest.City(t,
		geotest.Network{CIDR: "198.51.100.0/24", Country: "BR", Continent: "SA", Subdivision: "SP", Lat: -23.55, Lon: -46.63},
		geotest.Network{CIDR: "203.0.113.0/24", Country: "DE", Continent: "EU", Lat: 50.11, Lon: 8.68},
	)
	l, err := geo.NewLocator(geo.Source{Path: path}, geo.Source{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := newPolicyFixture(t, policyZone, l)
	if got, scope, _ := f.ask("www.example.com.", dns.TypeA, "198.51.100.0", 24, nil); strings.Join(got, " ") != "192.0.2.61" || scope != 24 {
		t.Errorf("Brazil: %v /%d, want the sa pool /24", got, scope)
	}
	// The sa pool goes down: the next pool of the rule (us) answers.
	f.down(t, "www.example.com/sa1")
	if got, _, _ := f.ask("www.example.com.", dns.TypeA, "198.51.100.0", 24, nil); strings.Join(got, " ") != "192.0.2.11 192.0.2.12" {
		t.Errorf("Brazil with sa down: %v, want us", got)
	}
}

func TestPoolFallback(t *testing.T) {
	zone := strings.Replace(policyZone, `members = "all"`, "members = \"all\"\nmin_healthy = 2", 1)
	f := newPolicyFixture(t, zone, testLocator(t))
	const gb = "81.2.69.142"
	f.down(t, "www.example.com/eu1")
	// eu keeps one IPv4 member of two: fewer than min_healthy 2, so us.
	if got, _, _ := f.ask("www.example.com.", dns.TypeA, gb, -1, nil); strings.Join(got, " ") != "192.0.2.11 192.0.2.12" {
		t.Errorf("eu below min_healthy: %v, want us", got)
	}
	// Every pool below min_healthy: the first with any serving member.
	f.down(t, "www.example.com/us1")
	if got, _, _ := f.ask("www.example.com.", dns.TypeA, gb, -1, nil); strings.Join(got, " ") != "192.0.2.2" {
		t.Errorf("all below min_healthy: %v, want eu's last member", got)
	}
	f.up(t, "www.example.com/eu1", "www.example.com/us1")
	if got, _, _ := f.ask("www.example.com.", dns.TypeA, gb, -1, nil); len(got) != 2 {
		t.Errorf("restored: %v", got)
	}
}

const nearestZone = `origin = "example.com."
ns = ["ns.example.net."]
[soa]
[services.edge]
policy = "nearest"
members = "all"
backends = [{ name = "fra", address = "192.0.2.1" }, { name = "nyc", address = "192.0.2.2" }, { name = "sgp", address = "192.0.2.3" }]
pools = [
  { name = "frankfurt", backends = ["fra"], coordinates = [50.11, 8.68] },
  { name = "new-york", backends = ["nyc"], coordinates = [40.71, -74.01] },
  { name = "singapore", backends = ["sgp"], coordinates = [1.35, 103.82] },
]
[services.failover]
policy = "failover"
members = "all"
backends = [{ name = "p", address = "192.0.2.10" }, { name = "s", address = "192.0.2.20" }]
pools = [{ name = "primary", backends = ["p"] }, { name = "secondary", backends = ["s"] }]
`

func TestNearestAndFailover(t *testing.T) {
	f := newPolicyFixture(t, nearestZone, testLocator(t))
	cases := []struct{ client, want string }{
		{"81.2.69.142", "192.0.2.1"},   // London → Frankfurt
		{"216.160.83.60", "192.0.2.2"}, // Milton WA → New York
		{"175.16.199.1", "192.0.2.3"},  // Changchun → Singapore
		{"214.0.1.9", "192.0.2.3"},     // Melbourne → Singapore
		{"1.1.1.1", "192.0.2.1"},       // unknown → the order written
	}
	for _, c := range cases {
		if got, _, _ := f.ask("edge.example.com.", dns.TypeA, c.client, -1, nil); strings.Join(got, " ") != c.want {
			t.Errorf("%s: %v, want %s", c.client, got, c.want)
		}
	}
	// Bias: New York's catchment grows until it takes London (5,570 km
	// × (1 − 0.9) is less than Frankfurt's 640 km).
	biased := newPolicyFixture(t, strings.Replace(nearestZone, "coordinates = [40.71, -74.01]", "coordinates = [40.71, -74.01], bias = 90", 1), testLocator(t))
	if got, _, _ := biased.ask("edge.example.com.", dns.TypeA, "81.2.69.142", -1, nil); strings.Join(got, " ") != "192.0.2.2" {
		t.Errorf("London with New York biased +90: %v, want New York", got)
	}
	// Frankfurt down: London goes to the next nearest, New York.
	f.down(t, "edge.example.com/fra")
	if got, _, _ := f.ask("edge.example.com.", dns.TypeA, "81.2.69.142", -1, nil); strings.Join(got, " ") != "192.0.2.2" {
		t.Errorf("London with Frankfurt down: %v", got)
	}
	if got, scope, _ := f.ask("failover.example.com.", dns.TypeA, "81.2.69.142", -1, nil); strings.Join(got, " ") != "192.0.2.10" || scope != 0 {
		t.Errorf("failover: %v /%d", got, scope)
	}
	f.down(t, "failover.example.com/p")
	if got, _, _ := f.ask("failover.example.com.", dns.TypeA, "81.2.69.142", -1, nil); strings.Join(got, " ") != "192.0.2.20" {
		t.Errorf("failover with primary down: %v", got)
	}
}

// seeded returns a deterministic random source for the statistics tests.
func seeded(seed uint64) func() uint64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return r.Uint64
}

func membersZone(members string, weights []int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "origin = \"example.com.\"\nns = [\"ns.example.net.\"]\n[soa]\n[services.svc]\nmembers = %q\n%sbackends = [\n", members, extra)
	for i, w := range weights {
		fmt.Fprintf(&b, "  { name = \"b%d\", address = \"192.0.2.%d\", weight = %d },\n", i, i+1, w)
	}
	b.WriteString("]\n")
	return b.String()
}

func TestWeightedStatistics(t *testing.T) {
	weights := []int{1, 2, 3, 4}
	f := newPolicyFixture(t, membersZone("weighted", weights, ""), nil)
	rnd := seeded(1)
	counts := map[string]int{}
	const n = 100000
	for range n {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, rnd)
		if len(got) != 1 {
			t.Fatalf("answers %v, want 1", got)
		}
		counts[got[0]]++
	}
	for i, w := range weights {
		share := float64(counts[fmt.Sprintf("192.0.2.%d", i+1)]) / n
		want := float64(w) / 10
		t.Logf("weight %d: %.2f%% of answers (want %.0f%%)", w, share*100, want*100)
		if math.Abs(share-want) > 0.01 {
			t.Errorf("weight %d: share %.4f, want %.2f ± 0.01", w, share, want)
		}
	}
}

func TestWeightedStandbyAndAnswers(t *testing.T) {
	f := newPolicyFixture(t, membersZone("weighted", []int{1, 1, 0}, "answers = 2\n"), nil)
	rnd := seeded(2)
	for range 1000 {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, rnd)
		if len(got) != 2 || got[0] == got[1] || got[0] == "192.0.2.3" || got[1] == "192.0.2.3" {
			t.Fatalf("answers %v: want the two weighted members, distinct, no standby", got)
		}
	}
	f.down(t, "svc.example.com/b0", "svc.example.com/b1")
	if got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, rnd); strings.Join(got, " ") != "192.0.2.3" {
		t.Errorf("only the standby serves: %v", got)
	}
}

func TestRoundRobin(t *testing.T) {
	f := newPolicyFixture(t, membersZone("roundrobin", []int{1, 1, 1}, ""), nil)
	counts := map[string]int{}
	for range 300 {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, nil)
		counts[got[0]]++
	}
	for ip, c := range counts {
		if c != 100 {
			t.Errorf("%s: %d of 300", ip, c)
		}
	}
	// explain shows the next turn without taking it: the same answer
	// each time, and the one the next query then gets.
	q := &Query{Name: "svc.example.com.", Lower: "svc.example.com.", Type: dns.TypeA,
		Client: NewClient(netip.MustParseAddr("192.0.2.200"), 32)}
	var shown []string
	for range 3 {
		q.Trace = &Trace{}
		a := f.snap.Zone(q.Lower).Lookup(q)
		shown = append(shown, a.Answer[0].(*dns.A).A.String())
	}
	got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, nil)
	if shown[0] != shown[1] || shown[1] != shown[2] || got[0] != shown[0] {
		t.Errorf("explain showed %v, then a query got %s", shown, got[0])
	}
}

func TestStickyStatistics(t *testing.T) {
	const members = 5
	f := newPolicyFixture(t, membersZone("sticky", []int{1, 1, 1, 1, 1}, ""), nil)
	rnd := seeded(3)
	const clients = 20000
	first := make([]string, clients)
	subnet := func(i int) string { return fmt.Sprintf("%d.%d.%d.0", 11+i/65536, (i/256)%256, i%256) }
	for i := range clients {
		got, scope, _ := f.ask("svc.example.com.", dns.TypeA, subnet(i), 24, rnd)
		if scope != 24 {
			t.Fatalf("sticky scope %d, want 24", scope)
		}
		first[i] = got[0]
	}
	// Asked again, every client keeps its backend, whatever the randomness.
	for i := range clients {
		if got, _, _ := f.ask("svc.example.com.", dns.TypeA, subnet(i), 24, rnd); got[0] != first[i] {
			t.Fatalf("client %d moved from %s to %s", i, first[i], got[0])
		}
	}
	// One backend down: only its clients move, about 1/N of all.
	f.down(t, "svc.example.com/b2")
	moved, wronglyMoved := 0, 0
	for i := range clients {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, subnet(i), 24, rnd)
		if got[0] != first[i] {
			moved++
			if first[i] != "192.0.2.3" {
				wronglyMoved++
			}
		}
	}
	share := float64(moved) / clients
	t.Logf("one of %d backends down: %.2f%% of clients moved (ideal %.0f%%), %d of them not from the failed backend", members, share*100, 100.0/members, wronglyMoved)
	if wronglyMoved != 0 || math.Abs(share-1.0/members) > 0.02 {
		t.Errorf("moved %.4f (want %.2f ± 0.02), %d moved that were not on the failed backend", share, 1.0/members, wronglyMoved)
	}
}

func TestGeoDecisionAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	f := newPolicyFixture(t, policyZone, testLocator(t))
	q := &Query{Name: "www.example.com.", Lower: "www.example.com.", Type: dns.TypeA,
		Client: NewClient(netip.MustParseAddr("175.16.199.0"), 24), Geo: f.geo}
	svc := f.snap.Zone(q.Lower).Services[0]
	allocs := testing.AllocsPerRun(1000, func() { svc.decide(q, false, true) })
	// Budget: 1 allocation per decision; the answer of a pool with every
	// member serving is shared, not copied, and the order of the pools
	// stays on the stack.
	if allocs > 1 {
		t.Errorf("a geo decision allocates %v times, budget 1", allocs)
	}
}

func BenchmarkGeoDecision(b *testing.B) {
	f := newPolicyFixture(b, policyZone, testLocator(b))
	q := &Query{Name: "www.example.com.", Lower: "www.example.com.", Type: dns.TypeA,
		Client: NewClient(netip.MustParseAddr("175.16.199.0"), 24), Geo: f.geo}
	svc := f.snap.Zone(q.Lower).Services[0]
	b.ReportAllocs()
	for b.Loop() {
		svc.decide(q, false, true)
	}
}

func TestSelectionEdgeCases(t *testing.T) {
	// Found in review: round robin over a pool whose members are all
	// drained divided by zero; weighted picks with fractional weights and
	// a standby could answer one member twice.
	f := newPolicyFixture(t, membersZone("roundrobin", []int{1, 1}, ""), nil)
	f.down(t, "svc.example.com/b0", "svc.example.com/b1")
	if got, _, r := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, nil); len(got) != 0 || r != NoData {
		t.Errorf("round robin, all drained: %v %v, want NODATA", got, r)
	}
	zone := strings.Replace(membersZone("weighted", []int{1, 1, 1, 0}, "answers = 4\n"), "weight = 1 }", "weight = 0.1 }", 1)
	zone = strings.Replace(zone, "weight = 1 }", "weight = 0.2 }", 1)
	zone = strings.Replace(zone, "weight = 1 }", "weight = 0.3 }", 1)
	f = newPolicyFixture(t, zone, nil)
	for i := range 2000 {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, "192.0.2.200", -1, seeded(uint64(i)))
		seen := map[string]bool{}
		for _, a := range got {
			if seen[a] {
				t.Fatalf("answer %v names %s twice", got, a)
			}
			seen[a] = true
		}
		if len(got) != 3 || seen["192.0.2.4"] {
			t.Fatalf("answer %v: want the three weighted members, not the standby", got)
		}
	}
}

// TestManyPools: an order of more pools than it holds on the stack
// (maxOrder) keeps them all, in order.
func TestManyPools(t *testing.T) {
	var b strings.Builder
	b.WriteString("origin = \"example.com.\"\nns = [\"ns.example.net.\"]\n[soa]\n[services.svc]\npolicy = \"geo\"\nbackends = [\n")
	const n = maxOrder + 4
	for i := range n {
		fmt.Fprintf(&b, "  { name = \"b%d\", address = \"192.0.2.%d\" },\n", i, i+1)
	}
	b.WriteString("]\npools = [\n")
	for i := range n {
		fmt.Fprintf(&b, "  { name = \"p%d\", backends = [\"b%d\"] },\n", i, i)
	}
	b.WriteString("]\n[services.svc.geo]\ndefault = [\"p1\"]\n")
	f := newPolicyFixture(t, b.String(), nil)
	// p1 first, then the others as written: p0, p2, p3, ...
	want := []int{1, 0}
	for i := 2; i < n; i++ {
		want = append(want, i)
	}
	for k, i := range want {
		got, _, _ := f.ask("svc.example.com.", dns.TypeA, "198.51.100.1", -1, nil)
		if w := fmt.Sprintf("192.0.2.%d", i+1); strings.Join(got, " ") != w {
			t.Fatalf("with the first %d pools of the order down: %v, want %s (pool p%d)", k, got, w, i)
		}
		f.down(t, fmt.Sprintf("svc.example.com/b%d", i))
	}
}

// TestSharedDraw: with draw = "shared", two instances (two snapshots of
// the same text) give each client subnet the same answer whatever their
// random sources, the answer depends on the /24 (scope 24), and over
// many subnets the shares follow the weights.
func TestSharedDraw(t *testing.T) {
	weights := []int{1, 2, 3, 4}
	zone := membersZone("weighted", weights, "draw = \"shared\"\nttl = 3600\n")
	a := newPolicyFixture(t, zone, nil)
	b := newPolicyFixture(t, zone, nil)
	ra, rb := seeded(5), seeded(6)
	const subnets = 40000
	subnet := func(i int) string { return fmt.Sprintf("%d.%d.%d.0", 11+i/65536, (i/256)%256, i%256) }
	counts := map[string]int{}
	differ := 0
	for i := range subnets {
		ga, scope, _ := a.ask("svc.example.com.", dns.TypeA, subnet(i), 24, ra)
		gb, _, _ := b.ask("svc.example.com.", dns.TypeA, subnet(i), 24, rb)
		if scope != 24 {
			t.Fatalf("scope %d, want 24", scope)
		}
		if len(ga) != 1 || len(gb) != 1 {
			t.Fatalf("answers %v and %v, want one each", ga, gb)
		}
		if ga[0] != gb[0] {
			differ++
		}
		counts[ga[0]]++
	}
	// A window boundary between the two asks could split one subnet; with
	// a TTL of an hour that is at most a handful.
	if differ > 2 {
		t.Errorf("%d of %d subnets got different answers from two instances", differ, subnets)
	}
	for i, w := range weights {
		share := float64(counts[fmt.Sprintf("192.0.2.%d", i+1)]) / subnets
		want := float64(w) / 10
		sd := math.Sqrt(want * (1 - want) / subnets)
		t.Logf("weight %d: %.2f%% of subnets (want %.0f%%, σ %.2f%%)", w, share*100, want*100, sd*100)
		if math.Abs(share-want) > 4*sd {
			t.Errorf("weight %d: share %.4f, want %.2f ± 4σ (%.4f)", w, share, want, 4*sd)
		}
	}
	// Random draws stay random: without draw = "shared" one subnet gets
	// several answers.
	r := newPolicyFixture(t, membersZone("weighted", weights, ""), nil)
	seen := map[string]bool{}
	rnd := seeded(7)
	for range 100 {
		got, _, _ := r.ask("svc.example.com.", dns.TypeA, "11.0.0.0", 24, rnd)
		seen[got[0]] = true
	}
	if len(seen) < 2 {
		t.Errorf("draw = random gave one subnet only %v in 100 asks", seen)
	}
}
