package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// TestCacheKeepsClientAnswersPerScope plants member selections that read
// the client and answer by its address, and shows that the answer cache
// keeps their answers only for the clients in the scope the read declared:
// a selection that reads the client and says nothing more is taken to
// depend on every known bit of it, so no other client gets its answer; one
// that narrows the read to /24 shares its answer within the /24 alone.
func TestCacheKeepsClientAnswersPerScope(t *testing.T) {
	for _, c := range []struct {
		name   string
		narrow int // DependsOn(narrow); 0: no call
		// Clients asked in turn, with whether each is answered from the
		// cache and the ECS scope its reply carries.
		ask []scopeAsk
	}{
		{"reads the client, declares nothing", 0, []scopeAsk{
			{"198.51.100.7", "", false, 32}, {"198.51.100.7", "", true, 32},
			{"198.51.100.8", "", false, 32}, {"198.51.100.8", "", true, 32},
			// ECS from a trusted source: the known bits are the subnet's.
			{"192.0.2.53", "203.0.113.0/24", false, 24}, {"192.0.2.54", "203.0.113.0/24", true, 24},
		}},
		{"reads the client, depends on /24", 24, []scopeAsk{
			{"198.51.100.7", "", false, 24}, {"198.51.100.8", "", true, 24},
			{"198.51.101.8", "", false, 24},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("byclient%d", c.narrow)
			restore := zones.WithSelection(name, &zones.Selection{Pick: func(ch zones.Choice) zones.Choice {
				r := ch.ReadClient()
				if c.narrow > 0 {
					r.DependsOn(c.narrow)
				}
				// The third byte picks the member: /24 neighbours agree.
				a := r.Addr().As16()
				ch.Answer([]dns.RR{ch.Record(int(a[14]) % ch.Len())})
				return ch
			}})
			defer restore()
			snap := loadSnapshot(t, testConfig+"[geo]\necs = \"all\"\n", `origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.www]
members = "`+name+`"
backends = [{ name = "a", address = "192.0.2.1" }, { name = "b", address = "192.0.2.2" }]
`)
			h := NewHandler(snap, Identity{}, nil, discard())
			h.SetMetrics(NewMetrics())
			reader := h.NewReader()
			for i, a := range c.ask {
				var opt []byte
				if a.subnet != "" {
					p := netip.MustParsePrefix(a.subnet)
					b := p.Addr().As4()
					opt = ecsOption(1, uint8(p.Bits()), 0, b[:(p.Bits()+7)/8])
				}
				req := rawQuery(uint16(i), 0, 1, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, opt), 1)
				hits := h.metrics.cacheHits.Load()
				src := netip.AddrPortFrom(netip.MustParseAddr(a.src), 5300)
				out := reader.Serve(req, src, nil, time.Now())
				hit := h.metrics.cacheHits.Load() > hits
				if hit != a.hit {
					t.Errorf("query %d from %s (subnet %q): cache hit %v, want %v", i, a.src, a.subnet, hit, a.hit)
				}
				// Whatever the cache did, the reply is the one made for
				// this client.
				if want := generalReply(h, req, src.Addr(), UDP); string(out) != string(want) {
					t.Errorf("query %d from %s: reply differs from the general path: %s", i, a.src, diffReplies(out, want))
				}
				if a.subnet != "" {
					if got := replyScope(t, out); got != a.scope {
						t.Errorf("query %d from %s (subnet %q): ECS scope /%d, want /%d", i, a.src, a.subnet, got, a.scope)
					}
				}
				// The scope the answer says it depends on.
				var q request
				var r response
				readMsg(req, &q)
				h.decide(snap, &q, src.Addr(), UDP, nil, &r)
				if r.a.Scope != a.scope {
					t.Errorf("query %d from %s: answer scope /%d, want /%d", i, a.src, r.a.Scope, a.scope)
				}
			}
		})
	}
}

// scopeAsk is one query of TestCacheKeepsClientAnswersPerScope.
type scopeAsk struct {
	src, subnet string
	hit         bool
	scope       int
}

// replyScope returns the ECS scope of a reply, -1 without the option.
func replyScope(t *testing.T, out []byte) int {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}
