package zones

import "testing"

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
