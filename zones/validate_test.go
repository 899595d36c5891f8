package zones

import (
	"fmt"
	"strings"
	"testing"
)

// TestOwnersAndDuplicates: owner names a query cannot ask for, the same
// backend twice in a pool and two backends with one address where one
// answer would hold both are errors at load; an internationalised name
// is served in its A-label form with a warning (issue 18).
func TestOwnersAndDuplicates(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n"
	for _, c := range []struct {
		name, zone string
		want       []string
	}{
		{"a space", base + "\"a b\" = { A = \"192.0.2.1\" }\n",
			[]string{`z.toml:7:1: records."a b": "a b": the label "a b" cannot be asked for: use letters, digits, '-' and '_' (or an internationalised name such as "bücher")`}},
		{"an escape", base + "\"a\\\\032b\" = { A = \"192.0.2.1\" }\n",
			[]string{`z.toml:7:1: records.a\032b: "a\\032b": the label "a\\032b" cannot be asked for: use letters, digits, '-' and '_' (or an internationalised name such as "bücher")`}},
		{"a slash in a service", base + "[services.\"a/b\"]\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:1: services.a/b: "a/b": the label "a/b" cannot be asked for: use letters, digits, '-' and '_' (or an internationalised name such as "bücher")`}},
		{"service labels and wildcards", base + "\"_sip._udp\" = { SRV = \"10 60 5060 ns1\" }\n\"*.w\" = { A = \"192.0.2.1\" }\n", nil},
		{"a backend twice in a pool", base + "[services.w]\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }]\npools = [{ name = \"p\", backends = [\"a\", \"a\"] }]\n",
			[]string{`z.toml:9:41: services.w.pools[0].backends[1]: backend a is listed twice in pool p`}},
		{"one address twice in a pool", base + "[services.w]\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }, { name = \"b\", address = \"192.0.2.1\" }]\npools = [{ name = \"p\", backends = [\"a\", \"b\"] }]\n",
			[]string{`z.toml:9:41: services.w.pools[0].backends[1]: backend b has the address 192.0.2.1 of backend a, also in pool p: an answer would hold the same record twice (RFC 2181 section 5.2)`}},
		{"one address twice without pools", base + "[services.w]\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }, { name = \"b\", address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:8:66: services.w.backends[1].address: 192.0.2.1 is also the address of backend a: an answer would hold the same record twice (RFC 2181 section 5.2)`}},
		{"a TXT over 65,535 bytes", base + "t = { TXT = \"" + strings.Repeat("y", 70000) + "\" }\n",
			[]string{`z.toml:7:7: records.t.TXT: TXT data of more than 65,535 bytes: more than a record can hold`}},
		{"an RRset over a message", base + "t = { TXT = [" + manyTXT(300) + "] }\n",
			[]string{`z.toml:7:7: records.t.TXT: the TXT records at t.example.com. take 79831 bytes: more than a DNS message holds (65,535); no query could get them`}},
		{"an RRset that fits", base + "t = { TXT = [" + manyTXT(200) + "] }\n", nil},
		{"one address in two pools", base + "[services.w]\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }, { name = \"b\", address = \"192.0.2.1\" }]\npools = [{ name = \"p\", backends = [\"a\"] }, { name = \"q\", backends = [\"b\"] }]\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			if _, err := loadText(t, c.zone); err != nil {
				got = loadErrors(t, c.zone)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, c.want)
			}
		})
	}
	snap, err := loadText(t, base+"\"bücher\" = { A = \"192.0.2.1\" }\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Warnings) != 1 || snap.Warnings[0].Error() != `z.toml:7:1: warning: records.bücher: "bücher" is an internationalised name: served as xn--bcher-kva.example.com. (its A-label form, which resolvers ask for)` {
		t.Errorf("warnings %v", snap.Warnings)
	}
	if snap.Zones[0].nodes["xn--bcher-kva.example.com."] == nil {
		t.Error("the A-label name is not in the zone")
	}
}

// manyTXT is n distinct TXT values of 253 characters, quoted, comma
// separated.
func manyTXT(n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf("%q", fmt.Sprintf("%03d", i)+strings.Repeat("x", 250)))
	}
	return strings.Join(parts, ", ")
}
