package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// cacheZone adds a weighted service to geoZone: its answers vary and must
// never be kept.
const cacheZone = geoZone + `[services.spread]
members = "weighted"
backends = [{ name = "a", address = "192.0.2.40" }, { name = "b", address = "192.0.2.41" }, { name = "c", address = "192.0.2.42" }]
`

// cacheFixture is a handler whose backends an admin can take out, a reader
// with its cache, and the answer counters.
type cacheFixture struct {
	h      *Handler
	r      *Reader
	admin  *health.Admin
	counts *zones.AnswerCounts
	load   func() *zones.Snapshot
}

func newCacheFixture(t *testing.T) *cacheFixture {
	f := &cacheFixture{admin: health.NewAdmin("", 0, discard()), counts: zones.NewAnswerCounts()}
	f.load = func() *zones.Snapshot {
		s := loadSnapshot(t, fmt.Sprintf(geoConfig, `"all"`), cacheZone)
		s.Bind(nil, f.admin, nil, nil)
		s.BindAnswers(f.counts)
		return s
	}
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(loc.Close)
	f.h = NewHandler(f.load(), Identity{}, loc, discard())
	f.h.SetMetrics(NewMetrics())
	f.r = f.h.NewReader()
	return f
}

// ask sends a query with ECS for subnet (none if not valid) and returns
// the answer's first address, the ECS scope and whether the cache
// answered.
func (f *cacheFixture) ask(t *testing.T, id uint16, name string, qtype uint16, subnet netip.Prefix) (string, int, bool) {
	t.Helper()
	var opt []byte
	if subnet.IsValid() {
		a := subnet.Addr().AsSlice()
		fam := uint16(1)
		if subnet.Addr().Is6() {
			fam = 2
		}
		opt = ecsOption(fam, uint8(subnet.Bits()), 0, a[:(subnet.Bits()+7)/8])
	}
	req := rawQuery(id, 0x0100, 1, name, qtype, rawOPT(1232, 0, 0, opt), 1)
	hits := cacheHits(f.h)
	reply := f.r.Serve(req, netip.MustParseAddrPort("198.51.100.7:5300"), nil, time.Now())
	hit := cacheHits(f.h) > hits
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		t.Fatalf("%s: reply does not unpack: %v", name, err)
	}
	if m.Id != id {
		t.Fatalf("%s: reply ID %d, want %d", name, m.Id, id)
	}
	// The reply must be what the general path, which has no cache, says
	// (but for weighted answers, which are drawn at random).
	if name != "spread.example.com." {
		r, limit := f.h.answer(req, netip.MustParseAddr("198.51.100.7"), UDP)
		if d := diffReplies(reply, f.h.pack(r, limit, nil)); d != "" {
			t.Errorf("%s: reply differs from the general path: %s", name, d)
		}
	}
	first, scope := "", -1
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok && first == "" {
			first = a.A.String()
		}
	}
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				scope = int(s.SourceScope)
			}
		}
	}
	return first, scope, hit
}

// cacheHits counts the answers h's readers gave from their caches.
func cacheHits(h *Handler) uint64 { return h.metrics.cacheHits.Load() }

func TestAnswerCache(t *testing.T) {
	asia := netip.MustParsePrefix("175.16.199.0/24")
	europe6 := netip.MustParsePrefix("2a02:cfc0::/56")
	us := netip.MustParsePrefix("214.78.120.0/24")
	usNeighbour := netip.MustParsePrefix("214.78.121.0/24") // same /22 in the database
	none := netip.Prefix{}
	type step struct {
		do     func(f *cacheFixture) // before the query, if not nil
		name   string
		subnet netip.Prefix
		want   string
		scope  int
		hit    bool
	}
	down := func(id string) func(f *cacheFixture) {
		return func(f *cacheFixture) {
			if err := f.admin.Set(id, &health.Override{State: health.AdminDown}, "test"); err != nil {
				panic(err)
			}
		}
	}
	clear := func(id string) func(f *cacheFixture) {
		return func(f *cacheFixture) {
			if err := f.admin.Set(id, nil, "test"); err != nil {
				panic(err)
			}
		}
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a repeated query is a hit with its own ID", []step{
			{nil, "www", asia, "192.0.2.3", 24, false},
			{nil, "www", asia, "192.0.2.3", 24, true},
			{nil, "www", asia, "192.0.2.3", 24, true},
		}},
		{"another region is not answered from the first", []step{
			{nil, "www", asia, "192.0.2.3", 24, false},
			{nil, "www", europe6, "192.0.2.1", 29, false},
			{nil, "www", europe6, "192.0.2.1", 29, true},
			{nil, "www", asia, "192.0.2.3", 24, true},
		}},
		{"a client inside the answer's scope is answered from it only with the same request", []step{
			{nil, "www", us, "192.0.2.2", 22, false},
			// Another ECS address is another request: kept apart.
			{nil, "www", usNeighbour, "192.0.2.2", 22, false},
			{nil, "www", usNeighbour, "192.0.2.2", 22, true},
		}},
		{"a backend taken out empties the cache of its service", []step{
			{nil, "www", asia, "192.0.2.3", 24, false},
			{down("www.example.com/as"), "www", asia, "192.0.2.2", 24, false},
			{nil, "www", asia, "192.0.2.2", 24, true},
			{clear("www.example.com/as"), "www", asia, "192.0.2.3", 24, false},
			{nil, "www", asia, "192.0.2.3", 24, true},
		}},
		{"static records and negative answers are kept", []step{
			{nil, "static", asia, "192.0.2.9", 0, false},
			{nil, "static", asia, "192.0.2.9", 0, true},
			{nil, "nope", asia, "", 0, false},
			{nil, "nope", asia, "", 0, true},
		}},
		{"without ECS the source address decides", []step{
			{nil, "www", none, "192.0.2.2", -1, false},
			{nil, "www", none, "192.0.2.2", -1, true},
		}},
		{"weighted answers are never kept", []step{
			{nil, "spread", none, "", -1, false},
			{nil, "spread", none, "", -1, false},
			{nil, "spread", none, "", -1, false},
		}},
		{"a reload empties the cache", []step{
			{nil, "www", asia, "192.0.2.3", 24, false},
			{func(f *cacheFixture) { f.h.Swap(f.load()) }, "www", asia, "192.0.2.3", 24, false},
			{nil, "www", asia, "192.0.2.3", 24, true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newCacheFixture(t)
			for i, s := range c.steps {
				if s.do != nil {
					s.do(f)
				}
				got, scope, hit := f.ask(t, uint16(100+i), s.name+".example.com.", dns.TypeA, s.subnet)
				if s.want != "" && got != s.want || s.subnet.IsValid() && scope != s.scope || hit != s.hit {
					t.Errorf("step %d (%s from %v): got %q scope %d hit %v, want %q scope %d hit %v",
						i, s.name, s.subnet, got, scope, hit, s.want, s.scope, s.hit)
				}
			}
		})
	}
}

// TestAnswerCacheCounts checks that answers given from the cache count in
// the per-backend answer metrics as the first one did.
func TestAnswerCacheCounts(t *testing.T) {
	f := newCacheFixture(t)
	for i := range 10 {
		req := rawQuery(uint16(i), 0x0100, 1, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, ecsOption(1, 24, 0, []byte{175, 16, 199})), 1)
		if f.r.Serve(req, netip.MustParseAddrPort("198.51.100.7:5300"), nil, time.Now()) == nil {
			t.Fatal("no reply")
		}
	}
	if got := f.counts.Get("www.example.com", "as", "as"); got != 10 {
		t.Errorf("answers counted for www/as: %d, want 10", got)
	}
	if n := cacheHits(f.h); n != 9 {
		t.Errorf("cache hits: %d, want 9", n)
	}
}

// TestAnswerCacheGeoReload checks that a new GeoIP database empties the
// cache.
func TestAnswerCacheGeoReload(t *testing.T) {
	f := newCacheFixture(t)
	asia := netip.MustParsePrefix("175.16.199.0/24")
	f.ask(t, 1, "www.example.com.", dns.TypeA, asia)
	if _, _, hit := f.ask(t, 2, "www.example.com.", dns.TypeA, asia); !hit {
		t.Fatal("second query: no hit")
	}
	if err := f.h.geo.(*geo.Locator).Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, hit := f.ask(t, 3, "www.example.com.", dns.TypeA, asia); hit {
		t.Error("after a database reload: answered from the cache")
	}
}

// TestAnswerCacheOff checks that answer_cache = false answers every query
// afresh.
func TestAnswerCacheOff(t *testing.T) {
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, `"all"`)+"[server]\nanswer_cache = false\n", cacheZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	h.SetMetrics(NewMetrics())
	r := h.NewReader()
	req := rawQuery(1, 0x0100, 1, "static.example.com.", dns.TypeA, nil, 0)
	for range 3 {
		if r.Serve(req, netip.MustParseAddrPort("198.51.100.7:5300"), nil, time.Now()) == nil {
			t.Fatal("no reply")
		}
	}
	if hits, misses := h.metrics.cacheHits.Load(), h.metrics.cacheMisses.Load(); hits != 0 || misses != 0 {
		t.Errorf("cache consulted with answer_cache = false: %d hits, %d misses", hits, misses)
	}
}

// TestAnswerCacheTrust checks that a reply made with a trusted client
// subnet is not given to a source the subnet is not trusted from, though
// the request bytes and the source's /24 are the same.
func TestAnswerCacheTrust(t *testing.T) {
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, `["198.51.100.0/25"]`), cacheZone)
	loc, err := geo.NewLocator(geo.Source{Path: "../testdata/geoip/GeoIP2-City-Test.mmdb"}, geo.Source{}, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	h := NewHandler(snap, Identity{}, loc, discard())
	h.SetMetrics(NewMetrics())
	r := h.NewReader()
	req := rawQuery(1, 0x0100, 1, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, ecsOption(1, 24, 0, []byte{175, 16, 199})), 1)
	first := func(src string) string {
		reply := r.Serve(req, netip.MustParseAddrPort(src), nil, time.Now())
		m := new(dns.Msg)
		if err := m.Unpack(reply); err != nil || len(m.Answer) == 0 {
			t.Fatalf("from %s: %v, %d answers", src, err, len(m.Answer))
		}
		return m.Answer[0].(*dns.A).A.String()
	}
	for i, c := range []struct {
		src, want string
		hit       bool
	}{
		{"198.51.100.7:5300", "192.0.2.3", false},   // trusted: Asia
		{"198.51.100.7:5301", "192.0.2.3", true},    // again
		{"198.51.100.200:5300", "192.0.2.2", false}, // not trusted: the source decides (default)
		{"198.51.100.9:5300", "192.0.2.3", false},   // trusted again, the slot was taken
	} {
		hits := cacheHits(h)
		if got := first(c.src); got != c.want || (cacheHits(h) > hits) != c.hit {
			t.Errorf("query %d from %s: %s (hit %v), want %s (hit %v)", i, c.src, got, cacheHits(h) > hits, c.want, c.hit)
		}
	}
}

// TestAnswerCacheScope checks that a reply is given only to sources inside
// its scope, even from the same /24: a CIDR rule on half of it makes the
// other half's answer hold for a /25 only.
func TestAnswerCacheScope(t *testing.T) {
	zone := geoZone + `[services.half]
policy = "geo"
backends = [{ name = "in", address = "192.0.2.50" }, { name = "out", address = "192.0.2.51" }]
pools = [{ name = "in", backends = ["in"] }, { name = "out", backends = ["out"] }]
[services.half.geo]
default = ["out"]
cidr = { "198.51.100.128/25" = ["in"] }
`
	snap := loadSnapshot(t, fmt.Sprintf(geoConfig, `"all"`), zone)
	h := NewHandler(snap, Identity{}, nil, discard())
	h.SetMetrics(NewMetrics())
	r := h.NewReader()
	req := rawQuery(1, 0x0100, 1, "half.example.com.", dns.TypeA, nil, 0)
	for i, c := range []struct {
		src, want string
		hit       bool
	}{
		{"198.51.100.7:5300", "192.0.2.51", false},   // outside the rule: scope /25
		{"198.51.100.9:5300", "192.0.2.51", true},    // same /25
		{"198.51.100.200:5300", "192.0.2.50", false}, // same /24, the other /25
	} {
		hits := cacheHits(h)
		m := new(dns.Msg)
		if err := m.Unpack(r.Serve(req, netip.MustParseAddrPort(c.src), nil, time.Now())); err != nil || len(m.Answer) != 1 {
			t.Fatalf("query %d from %s: %v, %d answers", i, c.src, err, len(m.Answer))
		}
		if got, hit := m.Answer[0].(*dns.A).A.String(), cacheHits(h) > hits; got != c.want || hit != c.hit {
			t.Errorf("query %d from %s: %s (hit %v), want %s (hit %v)", i, c.src, got, hit, c.want, c.hit)
		}
	}
}
