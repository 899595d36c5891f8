package zones

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"address", "answers", "members", "path", "policy", "ttl", "weight"}
	for _, c := range []struct{ name, want string }{
		{"memebers", "members"},
		{"wieght", "weight"},   // a swap is one edit
		{"Members", "members"}, // keys are case-sensitive: the lower-case one
		{"pth", "path"},        // short names: one edit
		{"tll", "ttl"},         // a swap
		{"tt", "ttl"},          // one missing
		{"xyz", ""},            // far from all
		{"adress", "address"},  // one missing
		{"membersss", "members"},
		{"policyyyy", ""}, // three edits: too far
	} {
		if got := closest(c.name, keys); got != c.want {
			t.Errorf("closest(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSchemaKeys(t *testing.T) {
	for _, c := range []struct {
		path []string
		has  string
	}{
		{nil, "origin"},
		{[]string{"services", "www"}, "members"},
		{[]string{"services", "www", "backends", "[3]"}, "weight"},
		{[]string{"services", "www", "steering"}, "max_change"},
		{[]string{"soa"}, "rname"},
	} {
		if keys := zoneSchema.keysAt(c.path); !contains(keys, c.has) {
			t.Errorf("keysAt(%v) = %v, want it to hold %q", c.path, keys, c.has)
		}
	}
	if keys := zoneSchema.keysAt([]string{"records", "www"}); keys != nil {
		t.Errorf("a record table has no fixed keys, got %v", keys)
	}
	if keys := configSchema.keysAt([]string{"log"}); !contains(keys, "level") {
		t.Errorf("config [log] keys %v", keys)
	}
}

// TestWarnings: settings that are valid but do nothing are warned about
// at their key, once, without failing the load; the same settings where
// they act give no warning.
func TestWarnings(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n[services.www]\n"
	two := "backends = [{ name = \"a\", address = \"192.0.2.1\", weight = 3 }, { name = \"b\", address = \"192.0.2.2\" }]\n"
	for _, c := range []struct {
		name, zone string
		want       []string
	}{
		{"weight with members all", base + two,
			[]string{`z.toml:8:50: warning: services.www.backends[0].weight: weight 3 does nothing with members = "all", which answers every serving member alike; only weight 0 (a standby) counts; choose members = "weighted" to share by weight`}},
		{"weight with weighted", base + "members = \"weighted\"\n" + two, nil},
		{"standby with all", base + "backends = [{ name = \"a\", address = \"192.0.2.1\", weight = 0 }, { name = \"b\", address = \"192.0.2.2\" }]\n", nil},
		{"sticky prefix without sticky", base + "members = \"weighted\"\nsticky_prefix_v4 = 20\n" + two,
			[]string{`z.toml:9:1: warning: services.www.sticky_prefix_v4: does nothing with members = "weighted": it applies to members = "sticky" and to draw = "shared"`}},
		{"sticky prefix with sticky", base + "members = \"sticky\"\nsticky_prefix_v4 = 20\n" + two, nil},
		{"bias without nearest", base + "members = \"weighted\"\n" + two + "pools = [{ name = \"p\", backends = [\"a\", \"b\"], bias = 5, coordinates = [1.0, 2.0] }]\n",
			[]string{
				`z.toml:10:47: warning: services.www.pools[0].bias: does nothing with policy = "failover": it applies to policy = "nearest"`,
				`z.toml:10:57: warning: services.www.pools[0].coordinates: does nothing with policy = "failover": it applies to policy = "nearest"`,
			}},
		{"probe keys on type none, once for two backends", base + "members = \"weighted\"\ncheck = { type = \"none\", interval = \"5s\" }\n" + two,
			[]string{`z.toml:9:26: warning: services.www.check.interval: does nothing: type = "none" runs no probe (the backend is always up)`}},
		{"a backend turning its service's check off", base + "members = \"weighted\"\ncheck = { type = \"tcp\", port = 80 }\nbackends = [{ name = \"a\", address = \"192.0.2.1\", check = { type = \"none\" } }]\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			snap, err := loadText(t, c.zone)
			if err != nil {
				t.Fatalf("a warning failed the load: %v", err)
			}
			var got []string
			for _, w := range snap.Warnings {
				got = append(got, w.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("warnings:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
