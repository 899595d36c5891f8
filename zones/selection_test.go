package zones

import (
	"errors"
	"strings"
	"testing"
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
			[]string{`z.toml:5:1: services.svc.members: "firts": want adaptive, all, roundrobin, sticky or weighted`}},
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
			_, err := loadText(t, c.zone)
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
