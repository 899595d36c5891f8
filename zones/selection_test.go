package zones

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestPolicyAndSelectionErrors: the names come from the tables, and each
// entry's validate reports at the key it concerns, once.
func TestPolicyAndSelectionErrors(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns.example.net.\"]\n[soa]\n[services.svc]\n"
	const backends = "backends = [{ name = \"a\", address = \"192.0.2.1\" }, { name = \"b\", address = \"192.0.2.2\" }]\n"
	const pools = "pools = [{ name = \"p\", backends = [\"a\"] }, { name = \"q\", backends = [\"b\"] }]\n"
	cases := []struct {
		name, zone string
		want       []string
	}{
		{"unknown selection", base + "members = \"firts\"\n" + backends,
			[]string{`z.toml:5:1: services.svc.members: "firts": want adaptive, all, fastest, first, least_load, roundrobin, shed, sticky or weighted`}},
		{"unknown policy", base + "policy = \"closest\"\n" + backends,
			[]string{`z.toml:5:1: services.svc.policy: "closest": want failover, geo, nearest or single`}},
		{"answers with all", base + "members = \"all\"\nanswers = 2\n" + backends,
			[]string{`z.toml:6:1: services.svc.answers: members = "all" answers every serving member; choose a selection with members = ...`}},
		{"answers out of range with all: one error", base + "answers = 100\n" + backends,
			[]string{`z.toml:5:1: services.svc.answers: 100 is out of range 1..64`}},
		{"single with pools", base + "policy = \"single\"\n" + backends + pools,
			[]string{`z.toml:5:1: services.svc.policy: "single" takes no pools; choose geo, nearest or failover`}},
		{"geo without rules", base + "policy = \"geo\"\n" + backends + pools,
			[]string{`z.toml:5:1: services.svc.policy: "geo" needs a [services.svc.geo] table of rules`}},
		{"nearest without coordinates or database", base + "policy = \"nearest\"\n" + backends + pools,
			[]string{
				`z.toml:5:1: services.svc.policy: "nearest" needs a GeoIP database ([geo] database in the main configuration)`,
				`z.toml:7:1: services.svc: policy "nearest" needs coordinates = [lat, lon] on pool p`,
				`z.toml:7:1: services.svc: policy "nearest" needs coordinates = [lat, lon] on pool q`,
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := loadErrors(t, c.zone)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestFirst: members = "first" answers the first serving members in the
// order of the pool's backends, answers of them (default 1), standbys
// only when no weighted member serves; the same answer for every client.
func TestFirst(t *testing.T) {
	cases := []struct {
		name   string
		zone   string
		down   []string // backends taken out
		want   string   // answered addresses, space separated
		noData bool
	}{
		{"one by default", membersZone("first", []int{1, 1, 1}, ""), nil, "192.0.2.1", false},
		{"answers = 2", membersZone("first", []int{1, 1, 1}, "answers = 2\n"), nil, "192.0.2.1 192.0.2.2", false},
		{"the first down: the next ones", membersZone("first", []int{1, 1, 1}, "answers = 2\n"), []string{"b0"}, "192.0.2.2 192.0.2.3", false},
		{"a gap", membersZone("first", []int{1, 1, 1}, "answers = 2\n"), []string{"b1"}, "192.0.2.1 192.0.2.3", false},
		{"more answers than members", membersZone("first", []int{1, 1, 1}, "answers = 5\n"), nil, "192.0.2.1 192.0.2.2 192.0.2.3", false},
		{"a standby first is passed over", membersZone("first", []int{0, 1, 1}, ""), nil, "192.0.2.2", false},
		{"standbys do not fill answers", membersZone("first", []int{1, 0, 0}, "answers = 2\n"), nil, "192.0.2.1", false},
		{"standbys when no weighted member serves", membersZone("first", []int{1, 0, 0}, "answers = 2\n"), []string{"b0"}, "192.0.2.2 192.0.2.3", false},
		{"every member out", membersZone("first", []int{1, 1}, ""), []string{"b0", "b1"}, "", true},
		{"the pool's order, not the backends'", `origin = "example.com."
ns = ["ns.example.net."]
[soa]
[services.svc]
members = "first"
answers = 2
backends = [{ name = "b0", address = "192.0.2.1" }, { name = "b1", address = "192.0.2.2" }, { name = "b2", address = "192.0.2.3" }]
pools = [{ name = "p", backends = ["b2", "b0", "b1"] }]
`, nil, "192.0.2.3 192.0.2.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newPolicyFixture(t, c.zone, nil)
			for _, b := range c.down {
				f.down(t, "svc.example.com/"+b)
			}
			for _, client := range []string{"198.51.100.1", "203.0.113.9", "2001:db8::1"} {
				got, scope, res := f.ask("svc.example.com.", dns.TypeA, client, -1, seeded(1))
				if strings.Join(got, " ") != c.want || scope != 0 || (res == NoData) != c.noData {
					t.Errorf("client %s: %v %v scope %d; want %q scope 0", client, res, got, scope, c.want)
				}
			}
		})
	}
}

// TestFirstIsCacheable: the answer of first does not vary, and with the
// pool's first members serving it shares their records: no allocation.
func TestFirstIsCacheable(t *testing.T) {
	f := newPolicyFixture(t, membersZone("first", []int{1, 1, 1}, "answers = 2\n"), nil)
	z := f.snap.Zone("svc.example.com.")
	q := &Query{Name: "svc.example.com.", Lower: "svc.example.com.", Type: dns.TypeA}
	if a := z.Lookup(q); a.Varies || a.Scope != 0 || len(a.Answer) != 2 {
		t.Errorf("answer %v: varies %v, scope %d; want two records that do not vary, scope 0", a.Answer, a.Varies, a.Scope)
	}
	if raceEnabled {
		return
	}
	svc := z.Services[0]
	if allocs := testing.AllocsPerRun(100, func() { svc.decide(q, false, true) }); allocs != 0 {
		t.Errorf("first allocates %v times per decision, want 0", allocs)
	}
}

// TestChoiceFrozenWhileAPickRuns: a health change while a selection runs
// does not change the candidates it sees, so Len and Record agree; before,
// round robin divided by zero when the last member left between the check
// that one serves and its own read.
func TestChoiceFrozenWhileAPickRuns(t *testing.T) {
	var f *policyFixture
	lens := []int{}
	restore := WithSelection("flip", &Selection{Pick: func(c Choice) Choice {
		before := c.Len()
		f.down(t, "svc.example.com/b0", "svc.example.com/b1") // every member out, now
		lens = append(lens, before, c.Len())
		c.Answer([]dns.RR{c.Record(c.Len() - 1)})
		return c
	}})
	defer restore()
	f = newPolicyFixture(t, membersZone("flip", []int{1, 1}, ""), nil)
	got, _, res := f.ask("svc.example.com.", dns.TypeA, "198.51.100.1", -1, seeded(1))
	if res != Success || strings.Join(got, " ") != "192.0.2.2" || len(lens) != 2 || lens[0] != 2 || lens[1] != 2 {
		t.Errorf("answer %v %v, candidates seen %v; want 192.0.2.2 and 2 candidates before and after the change", res, got, lens)
	}
}

// TestServeAllIsNotCached: an answer made with when_all_down = serve_all
// counts as varying, since an operator's drain of a member that is down
// changes it without changing which members serve.
func TestServeAllIsNotCached(t *testing.T) {
	for _, members := range []string{"all", "first", "sticky"} {
		f := newPolicyFixture(t, membersZone(members, []int{1, 1}, ""), nil)
		svc := f.snap.Zone("svc.example.com.").Services[0]
		q := &Query{Name: "svc.example.com.", Lower: "svc.example.com.", Type: dns.TypeA, Client: NewClient(netip.MustParseAddr("198.51.100.1"), 32)}
		p := svc.Pools[0]
		for _, all := range []bool{false, true} {
			rrs, varies := svc.pick(q, p, &p.v4, all, 0b11) // both members serve
			if len(rrs) == 0 || varies != all {
				t.Errorf("%s, serve_all %v: answer %v, varies %v; want an answer, varies %v", members, all, rrs, varies, all)
			}
		}
	}
}
