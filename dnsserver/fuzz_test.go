package dnsserver

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzServe feeds arbitrary bytes to the handler: it must return nothing or
// a reply that unpacks, and never panic (a recovered panic counts as one).
// A query the fast path (fast reader and fast encoder) answers must get
// the same reply, byte for byte, from the general path (miekg/dns reading
// and writing), and the handler must give that reply.
// Over UDP the same bytes also go twice through a reader, whose answer
// cache (kept across inputs) must give the handler's reply each time: the
// test zone has no answers drawn at random.
func FuzzServe(f *testing.F) {
	snap := loadSnapshot(f, testConfig, testZone)
	h := NewHandler(snap, Identity{Hostname: "fuzz"}, nil, discard())
	reader := h.NewReader()
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
		src := netip.MustParseAddrPort("192.0.2.1:5353")
		out := h.Serve(req, src, tr, nil)
		if h.Panics() > 0 {
			t.Fatalf("the handler panicked on %x", req)
		}
		// Every query the fast path takes gets from the general path the
		// same reply, byte for byte.
		if fast, ok := fastReply(h, req, src.Addr(), tr); ok {
			if general := generalReply(h, req, src.Addr(), tr); !bytes.Equal(fast, general) {
				t.Fatalf("fast and general replies to %x differ:\n%x\n%x\n%s", req, fast, general, diffReplies(fast, general))
			}
			if !bytes.Equal(fast, out) {
				t.Fatalf("the handler's reply to %x is not the fast path's:\n%x\n%x", req, out, fast)
			}
		}
		if tr == UDP {
			for i := range 2 {
				if got := reader.Serve(req, src, nil, time.Now()); !bytes.Equal(got, out) {
					t.Fatalf("reader reply %d to %x:\n%x\nwant the handler's\n%x", i, req, got, out)
				}
			}
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
