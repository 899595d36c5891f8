package zones

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestCNAMEChecks: loops (through wildcards and fallback CNAMEs too) and
// chains longer than the limit are errors at load, each once, with the
// cycle or the chain's start (issue 18).
func TestCNAMEChecks(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n"
	chain := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "c%d = { CNAME = \"c%d\" }\n", i, i+1)
		}
		fmt.Fprintf(&b, "c%d = { A = \"192.0.2.9\" }\n", n)
		return b.String()
	}
	for _, c := range []struct {
		name, zone string
		want       []string
	}{
		{"a loop", base + "a = { CNAME = \"b\" }\nb = { CNAME = \"a\" }\n",
			[]string{`z.toml:7:7: records.a.CNAME: CNAME loop: a.example.com. → b.example.com. → a.example.com.`}},
		{"onto itself", base + "a = { CNAME = \"a.example.com.\" }\n",
			[]string{`z.toml:7:7: records.a.CNAME: CNAME loop: a.example.com. → a.example.com.`}},
		{"through a wildcard", base + "\"*.w\" = { CNAME = \"x.w\" }\n",
			[]string{`z.toml:7:11: records."*.w".CNAME: CNAME loop: *.w.example.com. → *.w.example.com.`}},
		{"through a fallback CNAME", base + "c = { CNAME = \"svc\" }\n[services.svc]\nwhen_all_down = \"fallback\"\nfallback_cname = \"c\"\nbackends = [{ name = \"a\", address = \"192.0.2.1\" }]\n",
			[]string{`z.toml:7:7: records.c.CNAME: CNAME loop: c.example.com. → svc.example.com. → c.example.com.`}},
		{"a chain of 30", base + chain(30),
			[]string{`z.toml:7:8: records.c0.CNAME: a chain of more than 8 CNAMEs inside the zone (c0.example.com. → c1.example.com. → c2.example.com. → c3.example.com. …): a resolver follows each with a query; shorten it or raise [limits] max_cname_chain`}},
		{"a chain of 8", base + chain(8), nil},
		{"out of the zone", base + "a = { CNAME = \"b.example.org.\" }\n", nil},
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
	// A chain within the limit is followed to its end when answering.
	snap, err := loadText(t, base+chain(8))
	if err != nil {
		t.Fatal(err)
	}
	z := snap.Zones[0]
	q := Query{Name: "c0.example.com.", Lower: "c0.example.com.", Type: dns.TypeA}
	a := z.Lookup(&q)
	if len(a.Answer) != 9 {
		t.Errorf("chain of 8: %d records answered, want 8 CNAMEs and the A", len(a.Answer))
	}
}
