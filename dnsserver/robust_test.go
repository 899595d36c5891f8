package dnsserver

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

func TestPanicRecovered(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	s, addr := startServer(t, snap)
	// A snapshot without its configuration makes the EDNS step panic: a
	// stand-in for any bug on the query path.
	s.h.Swap(&zones.Snapshot{})
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.SetEdns0(1232, false)
	r := exchange(t, "udp", addr, m)
	if r.Rcode != dns.RcodeServerFailure || r.Id != m.Id {
		t.Errorf("rcode %s id %d: want SERVFAIL for the query that panicked", dns.RcodeToString[r.Rcode], r.Id)
	}
	if s.h.Panics() != 1 {
		t.Errorf("panics counted: %d, want 1", s.h.Panics())
	}
	s.h.Swap(snap)
	r = exchange(t, "udp", addr, m)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Errorf("after the panic: %v", r)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	// Queries running while snapshots are swapped all get complete answers
	// from one snapshot or the other, never an error.
	a := loadSnapshot(t, testConfig, testZone)
	b := loadSnapshot(t, testConfig, strings.Replace(testZone, `"192.0.2.11"`, `"192.0.2.12"`, 1))
	s, addr := startServer(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			if i%2 == 0 {
				s.h.Swap(b)
			} else {
				s.h.Swap(a)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	cl := &dns.Client{Timeout: 2 * time.Second}
	for i := range 500 {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		r, _, err := cl.Exchange(m, addr)
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Fatalf("query %d: %v", i, r)
		}
		second := r.Answer[1].(*dns.A).A.String()
		if second != "192.0.2.11" && second != "192.0.2.12" {
			t.Fatalf("query %d: mixed answer %v", i, r.Answer)
		}
	}
	cancel()
	wg.Wait()
}

func TestShutdownAnswersInFlightAndLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0", "[::1]:0"}, Limits{}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	for _, a := range s.Addrs() {
		for _, network := range []string{"udp", "tcp"} {
			m := new(dns.Msg)
			m.SetQuestion("www.example.com.", dns.TypeA)
			if r := exchange(t, network, a.String(), m); len(r.Answer) != 2 {
				t.Errorf("%s %s: %v", network, a, r)
			}
		}
	}
	// An idle TCP connection must not hold up the shutdown.
	idle, err := (&dns.Client{Net: "tcp"}).Dial(s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	// Every goroutine the server started is gone.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after shutdown, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestQueryLogSample(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	var buf strings.Builder
	h := NewHandler(snap, Identity{}, nil, slog.New(slog.NewTextHandler(&buf, nil)))
	h.SetQueryLog(3)
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	req, _ := m.Pack()
	for range 9 {
		h.Serve(req, netip.MustParseAddrPort("192.0.2.7:5353"), UDP, nil)
	}
	if n := strings.Count(buf.String(), "msg=query"); n != 3 {
		t.Errorf("logged %d of 9 queries with query_sample 3, want 3:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "client=192.0.2.7:5353") || !strings.Contains(buf.String(), "name=www.example.com. qtype=A rcode=NOERROR reply_bytes=") {
		t.Errorf("query log line lacks fields:\n%s", buf.String())
	}
}
