package dnsserver

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestRRL(t *testing.T) {
	const rate = 100
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	rrl := NewRRL(RRLConfig{Answers: rate, NXDomains: rate, Errors: rate, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56,
		Exempt: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}, DefaultRRLTableSize)
	h.SetRRL(rrl)
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	req, _ := m.Pack()

	// 10,000 identical queries from one address, as fast as they come.
	attacker := netip.MustParseAddrPort("192.0.2.66:5353")
	full, slipped, dropped := 0, 0, 0
	start := time.Now()
	for range 10000 {
		out := h.Serve(req, attacker, UDP, nil)
		if out == nil {
			dropped++
			continue
		}
		r := unpack(t, out)
		switch {
		case r.Truncated && len(r.Answer) == 0:
			slipped++
		case len(r.Answer) == 2:
			full++
		default:
			t.Fatalf("unexpected reply %v", r)
		}
	}
	took := time.Since(start)
	t.Logf("10,000 queries in %v from one /24: %d answered in full, %d slipped (TC), %d dropped", took.Round(time.Millisecond), full, slipped, dropped)
	if took > time.Second {
		t.Fatalf("the queries took %v, more than the one second the test is about", took)
	}
	// At most one second's burst plus what refilled while sending.
	if limit := rate + int(took.Seconds()*rate) + 1; full > limit {
		t.Errorf("%d answered in full, more than %d", full, limit)
	}
	if slipped == 0 || dropped == 0 || slipped+dropped+full != 10000 || abs(slipped-dropped) > 1 {
		t.Errorf("slip 2 should send every other limited response truncated: %d slipped, %d dropped", slipped, dropped)
	}
	// Another network is not affected, nor is an exempt one, nor TCP.
	for _, c := range []struct {
		src string
		t   Transport
	}{{"203.0.113.9:53", UDP}, {"198.51.100.5:53", UDP}, {"192.0.2.66:5353", TCP}} {
		for range 50 {
			if out := h.Serve(req, netip.MustParseAddrPort(c.src), c.t, nil); out == nil || unpack(t, out).Truncated {
				t.Fatalf("%s over %s was limited", c.src, c.t)
			}
		}
	}
	// NXDOMAIN has its own bucket: the attacker's answers being limited
	// does not limit its NXDOMAINs (separate kinds), for one second's worth.
	m.SetQuestion("nope.example.com.", dns.TypeA)
	nx, _ := m.Pack()
	if out := h.Serve(nx, attacker, UDP, nil); out == nil || unpack(t, out).Rcode != dns.RcodeNameError {
		t.Error("the NXDOMAIN bucket was empty")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestRRLRefills(t *testing.T) {
	r := NewRRL(RRLConfig{Answers: 10, IPv4Prefix: 24, IPv6Prefix: 56}, 1024)
	c := netip.MustParseAddr("192.0.2.1")
	now := time.Now()
	for i := range 10 {
		if r.check(c, rrlAnswer, now) != rrlSend {
			t.Fatalf("response %d of the burst limited", i)
		}
	}
	if r.check(c, rrlAnswer, now) == rrlSend {
		t.Fatal("the 11th response in the same instant was sent")
	}
	// 10 per second: 100 ms later one more token.
	if r.check(netip.MustParseAddr("192.0.2.200"), rrlAnswer, now.Add(100*time.Millisecond)) != rrlSend {
		t.Fatal("one token after 100 ms was not there (same /24)")
	}
	// IPv6: the /56 is the unit.
	a, b := netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:ff::2")
	for range 10 {
		r.check(a, rrlAnswer, now)
	}
	if r.check(b, rrlAnswer, now) == rrlSend {
		t.Error("another address of the same /56 was not limited")
	}
}

func TestRRLMemoryBounded(t *testing.T) {
	// A spoofed flood from 1,000,000 distinct /24s: the table has a fixed
	// size, so the heap does not grow with the number of networks.
	r := NewRRL(RRLConfig{Answers: 5, NXDomains: 5, Errors: 5, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56}, DefaultRRLTableSize)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	now := time.Now()
	for i := range 1000000 {
		ip := netip.AddrFrom4([4]byte{byte(1 + i>>16), byte(i >> 8), byte(i), 1})
		r.check(ip, i%3, now)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("1,000,000 distinct /24s: heap grew by %d KiB (table: %d buckets, %d KiB)", grew/1024, len(r.table), len(r.table)*16/1024)
	if grew > 1<<20 {
		t.Errorf("heap grew by %d bytes under a spoofed flood", grew)
	}
	if n := testing.AllocsPerRun(1000, func() { r.check(netip.MustParseAddr("192.0.2.1"), rrlAnswer, now) }); n != 0 && !raceEnabled {
		t.Errorf("a rate-limit check allocates %v times", n)
	}
}

func TestRRLConcurrentClocksAndSlowRates(t *testing.T) {
	// Found in review: a query stamped a millisecond before the bucket's
	// last update wrapped the elapsed time and refilled the bucket; and a
	// rate below one per second never refilled at one query per ms.
	r := NewRRL(RRLConfig{Answers: 5, IPv4Prefix: 24, IPv6Prefix: 56}, 1024)
	c := netip.MustParseAddr("192.0.2.1")
	t0 := time.Now()
	sent := 0
	for i := range 1000 { // 100 ms, with a straggler every millisecond
		at := t0.Add(time.Duration(i/10) * time.Millisecond)
		if i%10 == 9 && i > 10 {
			at = at.Add(-time.Millisecond)
		}
		if r.check(c, rrlAnswer, at) == rrlSend {
			sent++
		}
	}
	if sent > 6 {
		t.Errorf("5 per second with out-of-order stamps: %d sent in 100 ms", sent)
	}
	slow := NewRRL(RRLConfig{Answers: 0.5, IPv4Prefix: 24, IPv6Prefix: 56}, 1024)
	sent = 0
	for i := range 20000 { // 20 s at one query per millisecond
		if slow.check(c, rrlAnswer, t0.Add(time.Duration(i)*time.Millisecond)) == rrlSend {
			sent++
		}
	}
	if sent < 8 || sent > 12 {
		t.Errorf("0.5 per second over 20 s: %d sent, want about 10", sent)
	}
}
