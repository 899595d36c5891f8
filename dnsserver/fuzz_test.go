package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzServe feeds arbitrary bytes to the handler: it must return nothing or
// a reply that unpacks, and never panic (a recovered panic counts as one).
func FuzzServe(f *testing.F) {
	snap := loadSnapshot(f, testConfig, testZone)
	h := NewHandler(snap, Identity{Hostname: "fuzz"}, nil, discard())
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"www.example.com.", dns.TypeA, false},
		{"WWW.example.com.", dns.TypeAAAA, true},
		{"x.wild.example.com.", dns.TypeANY, true},
		{"alias.example.com.", dns.TypeA, false},
		{"a.child.example.com.", dns.TypeA, true},
		{"big.example.com.", dns.TypeTXT, true},
		{"id.server.", dns.TypeTXT, false},
		{"example.org.", dns.TypeSOA, false},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		if q.edns {
			m.SetEdns0(1232, true)
		}
		b, _ := m.Pack()
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Add(rawQuery(1, 15<<11|0x7f0, 1, "example.com.", dns.TypeSOA, rawOPT(512, 1, 0xffff, []byte{0, 3, 0, 0, 0, 8, 0, 1, 9}), 1), false)
	f.Fuzz(func(t *testing.T, req []byte, tcp bool) {
		tr := UDP
		if tcp {
			tr = TCP
		}
		out := h.Serve(req, netip.MustParseAddrPort("192.0.2.1:5353"), tr, nil)
		if h.Panics() > 0 {
			t.Fatalf("the handler panicked on %x", req)
		}
		if out == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply %x to %x does not unpack: %v", out, req, err)
		}
		if !r.Response {
			t.Fatalf("reply without QR")
		}
		if tr == UDP && len(out) > 1232 {
			t.Fatalf("UDP reply of %d bytes", len(out))
		}
	})
}
