package zonestest

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// recorder is a testing.TB that keeps the failures instead of reporting
// them, so that a test can check what Check says.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
}

func (r *recorder) Fatal(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

// reply answers q as an authoritative server would, with the records
// given in zone text.
func reply(t *testing.T, q *dns.Msg, answer ...string) *dns.Msg {
	r := new(dns.Msg)
	r.SetReply(q)
	r.Authoritative = true
	for _, s := range answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		r.Answer = append(r.Answer, rr)
	}
	if o := q.IsEdns0(); o != nil {
		r.SetEdns0(1232, false)
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				echo := *e
				echo.SourceScope = 20
				r.IsEdns0().Option = append(r.IsEdns0().Option, &echo)
			}
		}
	}
	return r
}

func TestCheck(t *testing.T) {
	c := Case{
		Qname: "www.example.com.", Qtype: dns.TypeA, AA: true,
		ECS: netip.MustParsePrefix("175.16.199.7/24"), Scope: 20,
		Answer: []string{"www.example.com. 30 IN A 192.0.2.2", "www.example.com. 30 IN A 192.0.2.1"},
	}
	q := c.Msg()
	e := q.IsEdns0().Option[0].(*dns.EDNS0_SUBNET)
	if e.Family != 1 || e.SourceNetmask != 24 || !e.Address.Equal(net.IPv4(175, 16, 199, 0)) {
		t.Fatalf("ECS option %v, want 175.16.199.0/24", e)
	}
	if a, bits := c.Source(); a != netip.MustParseAddr("175.16.199.0") || bits != 24 {
		t.Errorf("Source %v/%d", a, bits)
	}

	// Records in another order and another spacing are the same.
	r := reply(t, q, "www.example.com.\t30 IN A 192.0.2.1", "www.example.com. 30 IN A 192.0.2.2")
	rec := &recorder{TB: t}
	c.Check(rec, q, r)
	if len(rec.failures) != 0 {
		t.Errorf("a matching reply fails: %q", rec.failures)
	}

	for _, bad := range []struct {
		name   string
		change func(r *dns.Msg)
		want   string
	}{
		{"rcode", func(r *dns.Msg) { r.Rcode = dns.RcodeNameError }, "rcode NXDOMAIN, want NOERROR"},
		{"AA", func(r *dns.Msg) { r.Authoritative = false }, "AA false, want true"},
		{"TC", func(r *dns.Msg) { r.Truncated = true }, "TC true, want false"},
		{"RA", func(r *dns.Msg) { r.RecursionAvailable = true }, "flags: RA true"},
		{"ID", func(r *dns.Msg) { r.Id++ }, "header: id"},
		{"answer", func(r *dns.Msg) { r.Answer = r.Answer[:1] }, "answer:"},
		{"scope", func(r *dns.Msg) { r.IsEdns0().Option[0].(*dns.EDNS0_SUBNET).SourceScope = 24 }, "want 175.16.199.0/24 scope 20"},
		{"no ECS", func(r *dns.Msg) { r.IsEdns0().Option = nil }, "no ECS in the reply"},
		{"no OPT", func(r *dns.Msg) { r.Extra = nil }, "no OPT in the reply"},
	} {
		r := reply(t, q, c.Answer...)
		bad.change(r)
		rec := &recorder{TB: t}
		c.Check(rec, q, r)
		if !strings.Contains(strings.Join(rec.failures, "\n"), bad.want) {
			t.Errorf("%s: failures %q, want one with %q", bad.name, rec.failures, bad.want)
		}
	}
}

func TestSameRRsIgnoresSerial(t *testing.T) {
	soa, _ := dns.NewRR("example.com. 60 IN SOA ns1.example.com. h.example.com. 12345 3600 600 604800 60")
	rec := &recorder{TB: t}
	SameRRs(rec, "authority", []dns.RR{soa}, []string{"example.com. 60 IN SOA ns1.example.com. h.example.com. 0 3600 600 604800 60"})
	if len(rec.failures) != 0 {
		t.Errorf("serial compared: %q", rec.failures)
	}
	SameRRs(rec, "authority", []dns.RR{soa}, []string{"example.com. 61 IN SOA ns1.example.com. h.example.com. 0 3600 600 604800 60"})
	if len(rec.failures) != 1 {
		t.Errorf("a TTL difference gives %q, want one failure", rec.failures)
	}
}

func TestNoECS(t *testing.T) {
	c := Case{Qname: "www.example.com.", Qtype: dns.TypeA, Rcode: dns.RcodeFormatError,
		ECS: netip.MustParsePrefix("2001:db8::/56"), Scope: NoECS}
	q := c.Msg()
	if e := q.IsEdns0().Option[0].(*dns.EDNS0_SUBNET); e.Family != 2 || e.SourceNetmask != 56 {
		t.Fatalf("ECS option %v", e)
	}
	r := new(dns.Msg)
	r.SetRcode(q, dns.RcodeFormatError)
	r.SetEdns0(1232, false)
	rec := &recorder{TB: t}
	c.Check(rec, q, r)
	if len(rec.failures) != 0 {
		t.Errorf("%q", rec.failures)
	}
	r.IsEdns0().Option = q.IsEdns0().Option
	c.Check(rec, q, r)
	if len(rec.failures) != 1 || !strings.Contains(rec.failures[0], "want none") {
		t.Errorf("an echo where none is wanted: %q", rec.failures)
	}
}
