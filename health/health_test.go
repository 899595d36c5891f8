package health

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func addrOf(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func httpSpec(addr netip.AddrPort) Spec {
	return Spec{Kind: KindHTTP, Addr: addr, Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 2, Fall: 2, HTTP: HTTPSpec{Path: "/health"}}
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			if r.Host != "svc.example" && r.Host != r.Context().Value(http.LocalAddrContextKey).(net.Addr).String() {
				w.WriteHeader(400)
			}
			w.Header().Set("X-Load", "0.42")
			fmt.Fprint(w, `{"status":"ok","stats":{"conns":30}}`)
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
		case "/redirect":
			http.Redirect(w, r, "/teapot", http.StatusFound)
		case "/header":
			if r.Header.Get("X-Token") != "s3cret" {
				w.WriteHeader(403)
			}
		case "/slow":
			time.Sleep(time.Second)
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		}
	}))
	defer srv.Close()
	addr := addrOf(t, srv.URL)
	cases := []struct {
		name   string
		mod    func(*Spec)
		ok     bool
		reason string
		load   float64 // NaN: none
	}{
		{"200", nil, true, "HTTP 200", math.NaN()},
		{"host header", func(s *Spec) { s.HTTP.Host = "svc.example" }, true, "HTTP 200", math.NaN()},
		{"418 refused by default", func(s *Spec) { s.HTTP.Path = "/teapot" }, false, "HTTP 418, want 200-399", math.NaN()},
		{"418 expected", func(s *Spec) { s.HTTP.Path = "/teapot"; s.HTTP.Expect = "200,418" }, true, "HTTP 418", math.NaN()},
		{"redirect not followed is a 302", func(s *Spec) { s.HTTP.Path = "/redirect"; s.HTTP.Expect = "200" }, false, "HTTP 302, want 200", math.NaN()},
		{"redirect followed", func(s *Spec) { s.HTTP.Path = "/redirect"; s.HTTP.FollowRedirects = true; s.HTTP.Expect = "418" }, true, "HTTP 418", math.NaN()},
		{"body substring", func(s *Spec) { s.HTTP.Body = `"status":"ok"` }, true, "HTTP 200", math.NaN()},
		{"body substring missing", func(s *Spec) { s.HTTP.Body = "healthy" }, false, `HTTP 200, body lacks "healthy"`, math.NaN()},
		{"body regexp", func(s *Spec) { s.HTTP.BodyRegexp = `"conns":\d+` }, true, "HTTP 200", math.NaN()},
		{"header", func(s *Spec) { s.HTTP.Path = "/header"; s.HTTP.Headers = "X-Token: s3cret" }, true, "HTTP 200", math.NaN()},
		{"load header", func(s *Spec) { s.HTTP.LoadHeader = "X-Load" }, true, "HTTP 200", 0.42},
		{"load json over capacity", func(s *Spec) { s.HTTP.LoadJSON = "stats.conns"; s.HTTP.Capacity = 100 }, true, "HTTP 200", 0.30},
		{"timeout", func(s *Spec) { s.HTTP.Path = "/slow"; s.Timeout = 100 * time.Millisecond }, false, "timeout", math.NaN()},
		{"big body is capped", func(s *Spec) { s.HTTP.Path = "/big" }, true, "HTTP 200", math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httpSpec(addr)
			if c.mod != nil {
				c.mod(&s)
			}
			tg, err := NewTarget(s)
			if err != nil {
				t.Fatal(err)
			}
			r := tg.Run(context.Background())
			if r.OK != c.ok || !strings.HasPrefix(r.Reason, c.reason) {
				t.Errorf("ok %v reason %q; want %v %q", r.OK, r.Reason, c.ok, c.reason)
			}
			if math.IsNaN(c.load) == r.HasLoad || (r.HasLoad && math.Abs(r.Load-c.load) > 1e-9) {
				t.Errorf("load %v %v, want %v", r.Load, r.HasLoad, c.load)
			}
			if c.ok && (r.Duration <= 0 || r.Phases.FirstByte <= 0) {
				t.Errorf("timings not measured: %+v", r)
			}
		})
	}
}

func TestHTTPSProbe(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	s := httpSpec(addrOf(t, srv.URL))
	s.Kind = KindHTTPS
	tg, _ := NewTarget(s)
	if r := tg.Run(context.Background()); r.OK || !strings.Contains(r.Reason, "certificate") {
		t.Errorf("self-signed certificate accepted without insecure: %+v", r)
	}
	s.HTTP.Insecure = true
	tg, _ = NewTarget(s)
	if r := tg.Run(context.Background()); !r.OK || r.Phases.TLS <= 0 {
		t.Errorf("insecure: %+v", r)
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				if strings.HasPrefix(string(buf[:n]), "PING") {
					c.Write([]byte("+PONG\r\n"))
				}
			}()
		}
	}()
	addr := addrOf(t, ln.Addr().String())
	base := Spec{Kind: KindTCP, Addr: addr, Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1}
	run := func(s Spec) Result {
		tg, err := NewTarget(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg.Run(context.Background())
	}
	if r := run(base); !r.OK {
		t.Errorf("connect: %+v", r)
	}
	s := base
	s.TCP = TCPSpec{Send: "PING\r\n", Expect: "+PONG"}
	if r := run(s); !r.OK {
		t.Errorf("send/expect: %+v", r)
	}
	s.TCP.Expect = "+OK"
	if r := run(s); r.OK {
		t.Errorf("wrong reply accepted: %+v", r)
	}
	ln.Close()
	if r := run(base); r.OK || !strings.Contains(r.Reason, "refused") {
		t.Errorf("closed port: %+v", r)
	}
}

func TestDNSProbe(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "ok.example." {
			rr, _ := dns.NewRR("ok.example. 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	addr := addrOf(t, pc.LocalAddr().String())
	run := func(d DNSSpec) Result {
		tg, err := NewTarget(Spec{Kind: KindDNS, Addr: addr, Interval: time.Second, Timeout: 300 * time.Millisecond, Rise: 1, Fall: 1, DNS: d})
		if err != nil {
			t.Fatal(err)
		}
		return tg.Run(context.Background())
	}
	if r := run(DNSSpec{Name: "ok.example", Type: dns.TypeA, Answer: "192.0.2.1"}); !r.OK {
		t.Errorf("ok: %+v", r)
	}
	if r := run(DNSSpec{Name: "ok.example", Type: dns.TypeA, Answer: "192.0.2.2"}); r.OK {
		t.Errorf("wrong answer accepted: %+v", r)
	}
	if r := run(DNSSpec{Name: "nx.example"}); r.OK || r.Reason != "rcode NXDOMAIN, want NOERROR" {
		t.Errorf("nxdomain: %+v", r)
	}
	if r := run(DNSSpec{Name: "nx.example", Rcode: dns.RcodeNameError}); !r.OK {
		t.Errorf("expected nxdomain: %+v", r)
	}
}

func TestHysteresis(t *testing.T) {
	spec := Spec{Kind: KindTCP, Rise: 2, Fall: 3}
	ok, bad := Result{OK: true, Duration: time.Millisecond}, Result{Reason: "refused"}
	cases := []struct {
		name  string
		start Start
		seq   []Result
		want  []bool // Up() after each result
	}{
		{"falls after 3", StartUp, []Result{bad, bad, bad, ok}, []bool{true, true, false, false}},
		{"rises after 2", StartDown, []Result{ok, bad, ok, ok}, []bool{false, false, false, true}},
		{"flapping never rises", StartDown, []Result{ok, bad, ok, bad, ok, bad, ok, bad}, []bool{false, false, false, false, false, false, false, false}},
		{"flapping never falls", StartUp, []Result{bad, ok, bad, bad, ok, bad, bad, ok}, []bool{true, true, true, true, true, true, true, true}},
		{"pending: a first pass is up at once", StartPending, []Result{ok, bad, bad, bad}, []bool{true, true, true, false}},
		{"pending: a first failure is down at once, then rises", StartPending, []Result{bad, ok, ok}, []bool{false, false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := spec
			sp.Start = c.start
			s := newState(sp, time.Now())
			if s.Pending() != (c.start == StartPending) {
				t.Fatalf("before any result: pending %v, want %v", s.Pending(), c.start == StartPending)
			}
			if c.start == StartPending && s.Up() {
				t.Fatal("a pending state is up before its first result")
			}
			for i, r := range c.seq {
				s.record(r, r.OK, time.Now())
				if s.Pending() {
					t.Fatalf("after result %d: still pending", i+1)
				}
				if s.Up() != c.want[i] {
					t.Fatalf("after result %d: up %v, want %v", i+1, s.Up(), c.want[i])
				}
			}
		})
	}
	s := newState(spec, time.Now())
	for range 10 {
		s.record(ok, ok.OK, time.Now())
	}
	s.record(bad, bad.OK, time.Now())
	if er := s.ErrorRate(); math.Abs(er-1.0/11) > 1e-9 {
		t.Errorf("error rate %v, want 1/11", er)
	}
	if s.LastError() != "refused" || len(s.History()) != 11 {
		t.Errorf("last error %q history %d", s.LastError(), len(s.History()))
	}
}

func TestCheckerSyncKeepsStateAndStops(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	before := runtime.NumGoroutine()
	c := NewChecker(discard(), nil, 0)
	a := httpSpec(addrOf(t, srv.URL))
	a.Interval, a.Timeout = 20*time.Millisecond, 10*time.Millisecond
	b := a
	b.HTTP.Path = "/other"
	states := c.Sync([]Spec{a, b, a})
	if c.Running() != 2 || len(states) != 2 {
		t.Fatalf("running %d states %d, want 2 and 2 (identical specs share a probe)", c.Running(), len(states))
	}
	deadline := time.Now().Add(2 * time.Second)
	for !(states[a].Probed() && states[b].Probed()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	again := c.Sync([]Spec{a})
	if again[a] != states[a] {
		t.Error("an unchanged spec got a new state")
	}
	if c.Running() != 1 {
		t.Errorf("running %d after removing one, want 1", c.Running())
	}
	c.Stop()
	c.Stop()
	deadline = time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Stop, %d before", n, before)
	}
}

func TestSpecCheck(t *testing.T) {
	good := Spec{Kind: KindHTTP, Addr: netip.MustParseAddrPort("127.0.0.1:80"), Interval: time.Second, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2, HTTP: HTTPSpec{Path: "/"}}
	bad := []func(*Spec){
		func(s *Spec) { s.Kind = "icmp" },
		func(s *Spec) { s.Timeout = s.Interval },
		func(s *Spec) { s.Rise = 0 },
		func(s *Spec) { s.HTTP.Expect = "99" },
		func(s *Spec) { s.HTTP.Expect = "300-200" },
		func(s *Spec) { s.HTTP.BodyRegexp = "(" },
		func(s *Spec) { s.HTTP.Path = "health" },
		func(s *Spec) { s.Addr = netip.AddrPortFrom(s.Addr.Addr(), 0) },
	}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for i, mod := range bad {
		s := good
		mod(&s)
		if s.Check() == nil {
			t.Errorf("case %d: %+v accepted", i, s)
		}
	}
}

// BenchmarkStateRead is what the query path pays to read a backend's
// health and live signals: no locks, no allocations.
func BenchmarkStateRead(b *testing.B) {
	s := newState(Spec{Kind: KindTCP, Rise: 1, Fall: 1}, time.Now())
	s.record(Result{OK: true, Duration: time.Millisecond, Load: 0.5, HasLoad: true}, (Result{OK: true, Duration: time.Millisecond, Load: 0.5, HasLoad: true}).OK, time.Now())
	var slot Slot
	b.ReportAllocs()
	var sink float64
	for b.Loop() {
		if Serving(s, &slot) {
			l, _ := s.Load()
			sink += float64(s.RTT()) + s.ErrorRate() + l
		}
	}
	_ = sink
}

func TestStateReadDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation budgets are not checked under the race detector")
	}
	s := newState(Spec{Kind: KindTCP, Rise: 1, Fall: 1}, time.Now())
	var slot Slot
	allocs := testing.AllocsPerRun(1000, func() {
		if Serving(s, &slot) {
			s.Load()
			s.RTT()
			s.ErrorRate()
		}
	})
	if allocs != 0 {
		t.Errorf("reading health allocates %v times, budget 0", allocs)
	}
}

func TestMedianRTTIgnoresOneSlowProbe(t *testing.T) {
	s := newState(Spec{Kind: KindTCP, Rise: 1, Fall: 1}, time.Now())
	for range 8 {
		s.record(Result{OK: true, Duration: time.Millisecond}, (Result{OK: true, Duration: time.Millisecond}).OK, time.Now())
	}
	s.record(Result{OK: true, Duration: 30 * time.Millisecond}, (Result{OK: true, Duration: 30 * time.Millisecond}).OK, time.Now())
	s.record(Result{Reason: "refused"}, (Result{Reason: "refused"}).OK, time.Now())
	s.record(Result{OK: true, Duration: time.Millisecond}, (Result{OK: true, Duration: time.Millisecond}).OK, time.Now())
	if m := s.MedianRTT(); m != time.Millisecond {
		t.Errorf("median %v after one slow probe among fast ones, want 1ms (the moving average says %v)", m, s.RTT())
	}
}

func TestMedianRTTFollowsARealChange(t *testing.T) {
	s := newState(Spec{Kind: KindTCP, Rise: 1, Fall: 1}, time.Now())
	for range 5 {
		s.record(Result{OK: true, Duration: time.Millisecond}, (Result{OK: true, Duration: time.Millisecond}).OK, time.Now())
	}
	for range 2 {
		s.record(Result{OK: true, Duration: 40 * time.Millisecond}, (Result{OK: true, Duration: 40 * time.Millisecond}).OK, time.Now())
	}
	if m := s.MedianRTT(); m != 40*time.Millisecond {
		t.Errorf("median %v after two slow probes, want 40ms", m)
	}
}
