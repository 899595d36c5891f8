package zones

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// byClient is a selection that answers the candidate its client's address
// picks: the last byte of the address, or with narrow the third byte of
// an IPv4 address, saying it depends on the first 24 bits only.
func byClient(narrow bool) *Selection {
	return &Selection{Pick: func(c Choice) Choice {
		r := c.ReadClient()
		a := r.Addr().As16()
		b := a[15]
		if narrow {
			r.DependsOn(24)
			b = a[14]
		}
		c.Answer([]dns.RR{c.Record(int(b) % c.Len())})
		return c
	}}
}

// TestPlantedSelectionScope plants selections that read the client, as a
// new one would, and shows that the answer's Scope says so without the
// selection setting it: every known bit of the client unless the
// selection narrows the read. A cache keyed on Scope then keeps such
// answers per client.
func TestPlantedSelectionScope(t *testing.T) {
	t.Cleanup(WithSelection("test-by-client", byClient(false)))
	t.Cleanup(WithSelection("test-by-client-24", byClient(true)))
	cases := []struct {
		members string
		client  string
		bits    int // -1: a full address (no ECS)
		want    string
		scope   int
	}{
		{"test-by-client", "198.51.100.1", -1, "192.0.2.2", 32},
		{"test-by-client", "198.51.100.2", -1, "192.0.2.3", 32},
		{"test-by-client", "2001:db8::2", -1, "192.0.2.3", 128},
		{"test-by-client", "198.51.100.0", 24, "192.0.2.1", 24}, // ECS /24: every known bit
		{"test-by-client-24", "198.51.100.7", -1, "192.0.2.2", 24},
		{"test-by-client-24", "198.51.101.7", -1, "192.0.2.3", 24},
		{"test-by-client-24", "198.51.100.0", 16, "192.0.2.2", 24}, // longer than the source: ECS allows it
		// The selections that do not read the client leave the scope at 0.
		{"all", "198.51.100.1", -1, "192.0.2.1 192.0.2.2 192.0.2.3", 0},
		{"roundrobin", "198.51.100.1", -1, "", 0},
		{"sticky", "198.51.100.1", -1, "", 24},
	}
	for _, c := range cases {
		t.Run(c.members+" "+c.client, func(t *testing.T) {
			f := newPolicyFixture(t, membersZone(c.members, []int{1, 1, 1}, ""), nil)
			got, scope, res := f.ask("svc.example.com.", dns.TypeA, c.client, c.bits, seeded(1))
			if res != Success || c.want != "" && strings.Join(got, " ") != c.want || scope != c.scope {
				t.Errorf("got %v %v scope %d; want %s scope %d", res, got, scope, c.want, c.scope)
			}
		})
	}
}

// TestScopeOverTheAnswer: the scope is the longest read of the whole
// answer, the services of the additional section included, and a lookup
// starts from 0 even when its Query was used before.
func TestScopeOverTheAnswer(t *testing.T) {
	t.Cleanup(WithSelection("test-by-client-24", byClient(true)))
	zone := `origin = "example.com."
ns = ["ns.example.net."]
[soa]
[records]
"@" = { MX = "10 mx" }
[services.mx]
members = "test-by-client-24"
backends = [{ name = "a", address = "192.0.2.1" }, { name = "b", address = "192.0.2.2" }]
`
	f := newPolicyFixture(t, zone, nil)
	q := &Query{Name: "example.com.", Lower: "example.com.", Type: dns.TypeMX, Client: NewClient(netip.MustParseAddr("198.51.100.1"), 32)}
	a := f.snap.Zone(q.Lower).Lookup(q)
	if len(a.Answer) != 1 || len(a.Extra) != 1 || a.Scope != 24 {
		t.Fatalf("MX: answer %v extra %v scope %d; want the MX, one address of mx, scope 24", a.Answer, a.Extra, a.Scope)
	}
	q.Type = dns.TypeSOA
	if a := f.snap.Zone(q.Lower).Lookup(q); a.Scope != 0 {
		t.Errorf("SOA with the same Query: scope %d, want 0", a.Scope)
	}
}

func TestReads(t *testing.T) {
	r := reads{client: NewClient(netip.MustParseAddr("2001:db8::1"), 56)}
	if s := r.scope(); s != 0 {
		t.Errorf("no read: scope %d", s)
	}
	a := r.read()
	if a.Addr() != netip.MustParseAddr("2001:db8::1") || a.Known() != 56 || r.scope() != 56 {
		t.Errorf("a read: %v /%d, scope %d; want every known bit, 56", a.Addr(), a.Known(), r.scope())
	}
	a.DependsOn(0)
	if s := r.scope(); s != 0 {
		t.Errorf("narrowed to 0: scope %d", s)
	}
	a.DependsOn(200)
	if s := r.scope(); s != 128 {
		t.Errorf("DependsOn(200): scope %d, want the address length 128", s)
	}
	a.DependsOn(-1)
	// Past maxReads a read cannot be narrowed: it counts every known bit.
	for range maxReads {
		r.read().DependsOn(8)
	}
	if s := r.scope(); s != 56 {
		t.Errorf("%d reads narrowed to 8: scope %d, want 56 (the last one spilled)", maxReads+1, s)
	}
	if c := NewClient(netip.MustParseAddr("192.0.2.1"), 99); c.bits != 32 {
		t.Errorf("NewClient with 99 bits of IPv4: %d bits", c.bits)
	}
}

// TestClientOnlyThroughReads keeps the contract of the type: outside
// query.go, nothing in the package touches the client's address or the
// record of reads, or asks the GeoIP database, other than through a
// ClientRead (which records what the answer depends on).
func TestClientOnlyThroughReads(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{"addr": true, "bits": true, "client": true, "spill": true, "Lookup": true, "LookupLocation": true}
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "query.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok && fields[s.Sel.Name] {
				t.Errorf("%s: .%s: only query.go reads the client and the GeoIP database; use Choice.ReadClient or a view's read and locate", fset.Position(s.Pos()), s.Sel.Name)
			}
			return true
		})
	}
}
