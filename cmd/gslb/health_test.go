package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// testApp is the server assembled as `gslb serve` assembles it, in process:
// configuration, health checker, admin store, DNS on a loopback port and
// the HTTP API on an httptest server.
type testApp struct {
	*app
	dns    string
	api    *httptest.Server
	srv    *dnsserver.Server
	cancel context.CancelFunc
	logs   syncBuffer
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startApp(t *testing.T, configFile string, token string) *testApp {
	t.Helper()
	ta := startAppWatching(t, configFile, token, true)
	// As a deployment waits for /readyz: every check has reported once,
	// so no backend is pending its first result (at most 5 s).
	for deadline := time.Now().Add(5 * time.Second); ta.notReady() != "" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return ta
}

// startAppWatching is startApp, with the file watcher or without it (for
// tests that call reload themselves and count what it does).
func startAppWatching(t *testing.T, configFile string, token string, watch bool) *testApp {
	t.Helper()
	snap, err := zones.Load(zones.OSFiles(), configFile)
	if err != nil {
		t.Fatal(err)
	}
	ta := &testApp{}
	var w io.Writer = &ta.logs
	if testing.Verbose() {
		w = io.MultiWriter(w, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	a, err := newApp(log, configFile, snap, appOptions{token: token})
	if err != nil {
		t.Fatal(err)
	}
	a.prepare(snap)
	srv := dnsserver.NewServer(a.h, []string{"127.0.0.1:0"}, dnsserver.Limits{}, log)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	registerTCPMetrics(a.reg, srv)
	a.listening.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	if watch {
		a.background(ctx)
	}
	ta.app, ta.dns, ta.api, ta.srv, ta.cancel = a, srv.Addrs()[0].String(), httptest.NewServer(a.web), srv, cancel
	t.Cleanup(ta.stop)
	return ta
}

func (ta *testApp) stop() {
	ta.cancel()
	ta.api.Close()
	ta.srv.Shutdown(context.Background())
	ta.checker.Stop()
	ta.scraper.Stop()
}

// answers returns the sorted addresses the server answers for name.
func answers(t *testing.T, addr, name string, qtype uint16) ([]string, *dns.Msg) {
	t.Helper()
	r := query(t, addr, name, qtype)
	var out []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		case *dns.CNAME:
			out = append(out, "CNAME "+v.Target)
		}
	}
	sort.Strings(out)
	return out, r
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// backend is a real HTTP server on loopback that can be killed and
// restored on the same port.
type backend struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func newBackend(t *testing.T) *backend {
	b := &backend{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.kill)
	return b
}

func (b *backend) serve(ln net.Listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go b.srv.Serve(ln)
}

func (b *backend) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) restore() {
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("restore %s: %v", b.addr, err)
	}
	b.serve(ln)
}

const (
	interval = 200 * time.Millisecond
	timeout  = 100 * time.Millisecond
)

func healthConfig(t *testing.T, services string, admin string) string {
	t.Helper()
	dir := writeFiles(t, map[string]string{
		"gslb.toml": `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
` + admin,
		"zones/example.test.toml": `origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
` + services,
	})
	return filepath.Join(dir, "gslb.toml")
}

func checkTOML(kind, addr string) string {
	return fmt.Sprintf(`{ type = %q, address = %q, interval = %q, timeout = %q, rise = 2, fall = 2 }`, kind, addr, interval, timeout)
}

func TestBackendFailover(t *testing.T) {
	b1, b2 := newBackend(t), newBackend(t)
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
backends = [
  { name = "one", address = "192.0.2.1", check = %s },
  { name = "two", address = "192.0.2.2", check = %s },
]
`, checkTOML("http", b1.addr), checkTOML("tcp", b2.addr)), "")
	ta := startApp(t, conf, "")
	waitFor(t, "first probes", 2*time.Second, func() bool { return ta.notReady() == "" })
	if got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA); len(got) != 2 {
		t.Fatalf("both up: %v", got)
	}
	bound := 2*interval + timeout + interval // fall × interval + timeout, plus one interval of slack
	for _, c := range []struct {
		b    *backend
		ip   string
		kind string
	}{{b1, "192.0.2.1", "http"}, {b2, "192.0.2.2", "tcp"}} {
		killed := time.Now()
		c.b.kill()
		waitFor(t, c.kind+" backend to leave the answers", 5*time.Second, func() bool {
			got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA)
			return !has(got, c.ip)
		})
		gone := time.Since(killed)
		t.Logf("%s backend killed: gone from DNS answers after %v (bound %v)", c.kind, gone.Round(time.Millisecond), bound)
		if gone > bound {
			t.Errorf("%s backend left after %v, more than fall×interval+timeout+interval = %v", c.kind, gone, bound)
		}
		restored := time.Now()
		c.b.restore()
		waitFor(t, c.kind+" backend to come back", 5*time.Second, func() bool {
			got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA)
			return has(got, c.ip)
		})
		back := time.Since(restored)
		t.Logf("%s backend restored: back in DNS answers after %v (rise 2 × interval %v)", c.kind, back.Round(time.Millisecond), interval)
		if back < interval || back > 3*interval+timeout {
			t.Errorf("%s backend came back after %v; want about rise × interval", c.kind, back)
		}
	}
}

func TestFlappingBackendNeverReturns(t *testing.T) {
	var healthy atomic.Bool
	var probes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		// Alternate on every probe.
		healthy.Store(!healthy.Load())
	}))
	defer srv.Close()
	stable := newBackend(t)
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
backends = [
  { name = "flappy", address = "192.0.2.1", check = %s },
  { name = "stable", address = "192.0.2.2", check = %s },
]
`, strings.Replace(checkTOML("http", strings.TrimPrefix(srv.URL, "http://")), "rise = 2", `rise = 2, start = "down"`, 1), checkTOML("http", stable.addr)), "")
	ta := startApp(t, conf, "")
	deadline := time.Now().Add(15 * interval)
	for time.Now().Before(deadline) {
		got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA)
		if has(got, "192.0.2.1") {
			t.Fatalf("the flapping backend was answered after %d probes", probes.Load())
		}
		time.Sleep(interval / 4)
	}
	t.Logf("flapping backend: %d alternating probes, never answered", probes.Load())
	if probes.Load() < 10 {
		t.Errorf("only %d probes ran", probes.Load())
	}
}

func TestHangingBackendsDelayNothing(t *testing.T) {
	// 50 backends accept TCP and never answer HTTP: their probes each cost
	// a timeout, while a healthy backend's probes keep their schedule and
	// DNS answers keep their latency.
	var lines []string
	for i := range 50 {
		addr := hangingListener(t)
		lines = append(lines, fmt.Sprintf(`  { name = "hang%d", address = "192.0.2.%d", check = %s },`, i, 100+i, checkTOML("http", addr)))
	}
	good := newBackend(t)
	conf := healthConfig(t, fmt.Sprintf("[services.www]\nbackends = [\n  { name = \"good\", address = \"192.0.2.1\", check = %s },\n%s\n]\n", checkTOML("http", good.addr), strings.Join(lines, "\n")), "")
	ta := startApp(t, conf, "")
	time.Sleep(10 * interval)
	var h []health.Sample
	for _, b := range ta.h.Snapshot().Services()[0].Backends {
		if b.Name == "good" {
			h = b.State().History()
		}
	}
	if len(h) < 7 {
		t.Fatalf("the healthy backend was probed %d times in %v, want about 10", len(h), 10*interval)
	}
	var worst time.Duration
	for i := 1; i < len(h); i++ {
		gap := h[i].At.Sub(h[i-1].At)
		worst = max(worst, gap)
		if !h[i].OK {
			t.Errorf("healthy backend probe failed: %s", h[i].Reason)
		}
	}
	if worst > interval+interval/2 {
		t.Errorf("worst gap between probes of the healthy backend %v; interval %v", worst, interval)
	}
	// DNS latency while the hanging probes run.
	var lat []time.Duration
	for range 200 {
		start := time.Now()
		got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA)
		lat = append(lat, time.Since(start))
		if len(got) != 1 || got[0] != "192.0.2.1" {
			t.Fatalf("answers %v, want only the healthy backend", got)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("50 hanging backends: healthy probed %d times in %v, worst gap %v; DNS latency p50 %v p99 %v (loopback, Go client)",
		len(h), 10*interval, worst.Round(time.Millisecond), lat[len(lat)/2], lat[len(lat)*99/100])
	if p99 := lat[len(lat)*99/100]; p99 > 20*time.Millisecond {
		t.Errorf("DNS p99 latency %v while probes hang", p99)
	}
}

func TestReloadKeepsHealth(t *testing.T) {
	up, down := newBackend(t), newBackend(t)
	down.kill()
	var removedHits atomic.Int32
	removedSrv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { removedHits.Add(1) }))
	defer removedSrv.Close()
	svc := func(ttl int, withRemoved bool) string {
		s := fmt.Sprintf(`[services.www]
ttl = %d
backends = [
  { name = "up", address = "192.0.2.1", check = %s },
  { name = "down", address = "192.0.2.2", check = %s },
`, ttl, checkTOML("http", up.addr), checkTOML("http", down.addr))
		if withRemoved {
			s += fmt.Sprintf("  { name = \"gone\", address = \"192.0.2.3\", check = %s },\n", checkTOML("http", strings.TrimPrefix(removedSrv.URL, "http://")))
		}
		return s + "]\n"
	}
	conf := healthConfig(t, svc(30, true), "")
	zoneFile := filepath.Join(filepath.Dir(conf), "zones", "example.test.toml")
	ta := startApp(t, conf, "")
	waitFor(t, "the dead backend to go down", 3*time.Second, func() bool {
		got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA)
		return len(got) == 2 && !has(got, "192.0.2.2")
	})
	upState := ta.h.Snapshot().Services()[0].Backends[0].State()
	succBefore, _ := upState.Consecutive()

	// An unrelated change (the TTL) and a removed backend.
	zone, _ := os.ReadFile(zoneFile)
	newZone := strings.Replace(string(zone), svc(30, true), svc(60, false), 1)
	if err := os.WriteFile(zoneFile, []byte(newZone), 0o644); err != nil {
		t.Fatal(err)
	}
	ta.reload("test")
	got, r := answers(t, ta.dns, "www.example.test.", dns.TypeA)
	if r.Answer[0].Header().Ttl != 60 {
		t.Fatalf("reload not applied: %v", r)
	}
	if len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("right after the reload: %v; want the up backend only (no re-rise, no flap)", got)
	}
	b := ta.h.Snapshot().Services()[0].Backends[0]
	if b.State() != upState {
		t.Error("the unchanged backend got a new health state")
	}
	if succ, _ := upState.Consecutive(); succ < succBefore {
		t.Errorf("consecutive successes went from %d to %d: the state was reset", succBefore, succ)
	}
	hits := removedHits.Load()
	time.Sleep(3 * interval)
	if removedHits.Load() != hits {
		t.Errorf("the removed backend was probed %d more times after the reload", removedHits.Load()-hits)
	}
	if ta.checker.Running() != 2 {
		t.Errorf("%d probes running, want 2", ta.checker.Running())
	}
}

func TestWhenAllDown(t *testing.T) {
	dead := newBackend(t)
	dead.kill()
	cases := []struct {
		policy string
		extra  string
		qtype  uint16
		want   []string
		rcode  int
	}{
		{"serve_all", "", dns.TypeA, []string{"192.0.2.1", "192.0.2.2"}, dns.RcodeSuccess},
		{"nodata", "", dns.TypeA, nil, dns.RcodeSuccess},
		{"fallback", `fallback = ["198.51.100.1", "2001:db8::99"]`, dns.TypeA, []string{"198.51.100.1"}, dns.RcodeSuccess},
		{"fallback", `fallback = ["198.51.100.1", "2001:db8::99"]`, dns.TypeAAAA, []string{"2001:db8::99"}, dns.RcodeSuccess},
		{"fallback", `fallback_cname = "sorry.example.net."`, dns.TypeA, []string{"CNAME sorry.example.net."}, dns.RcodeSuccess},
	}
	for _, c := range cases {
		t.Run(c.policy+"/"+dns.TypeToString[c.qtype], func(t *testing.T) {
			conf := healthConfig(t, fmt.Sprintf(`[services.www]
when_all_down = %q
%s
check = %s
backends = [{ name = "a", address = "192.0.2.1" }, { name = "b", address = "192.0.2.2" }, { name = "c", address = "2001:db8::1" }]
`, c.policy, c.extra, checkTOML("http", dead.addr)), "")
			ta := startApp(t, conf, "")
			waitFor(t, "all backends down", 3*time.Second, func() bool { return ta.h.Snapshot().Services()[0].AllDown() })
			got, r := answers(t, ta.dns, "www.example.test.", c.qtype)
			if r.Rcode != c.rcode || strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("answers %v rcode %s; want %v", got, dns.RcodeToString[r.Rcode], c.want)
			}
			if c.want == nil && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("nodata without SOA: %v", r)
			}
			wantLog := fmt.Sprintf(`msg="every backend of the service is out of service" service=www.example.test family=IPv4 when_all_down=%s`, c.policy)
			waitFor(t, "the all-down log line", 2*time.Second, func() bool { return strings.Contains(ta.logs.String(), wantLog) })
			body := scrape(t, ta)
			want := fmt.Sprintf(`gslb_all_down_answers_total{policy=%q,service="www.example.test"}`, c.policy)
			if !strings.Contains(body, want) || strings.Contains(body, want+" 0\n") {
				t.Errorf("metric %s not counted:\n%s", want, grep(body, "all_down"))
			}
		})
	}
}

func scrape(t *testing.T, ta *testApp) string {
	t.Helper()
	resp, err := http.Get(ta.api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestAdminAPI: an override set through the API changes the very next DNS
// answer, is kept in the state directory across a restart, expires, and
// follows a hand edit of its file. (The API's own rules are tested in
// internal/web.)
func TestAdminAPI(t *testing.T) {
	b1, b2 := newBackend(t), newBackend(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	const token = "0123456789abcdef0123"
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	stateDir := filepath.Join(dir, "state")
	os.Mkdir(stateDir, 0o700)
	stateFile := filepath.Join(stateDir, "admin-overrides.toml")
	adminConf := fmt.Sprintf("[admin]\ntoken_file = %q\n[state]\ndir = %q\n", tokenFile, stateDir)
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
backends = [
  { name = "one", address = "192.0.2.1", check = %s },
  { name = "two", address = "192.0.2.2", check = %s },
]
`, checkTOML("http", b1.addr), checkTOML("http", b2.addr)), adminConf)
	tok, err := readToken(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, conf, tok)
	url := ta.api.URL + "/api/v1/backends/www.example.test/one/admin"
	put := func(auth, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	both := []string{"192.0.2.1", "192.0.2.2"}
	if got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA); strings.Join(got, " ") != strings.Join(both, " ") {
		t.Fatalf("before: %v", got)
	}

	for _, auth := range []string{"", "wrong-token-wrong-token"} {
		if code, body := put(auth, `{"state":"drain","reason":"test"}`); code != http.StatusUnauthorized {
			t.Errorf("token %q: status %d %s, want 401", auth, code, body)
		}
	}
	if got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA); len(got) != 2 {
		t.Errorf("a refused request changed the answers: %v", got)
	}
	if code, body := put(token, `{"state":"sideways"}`); code != http.StatusBadRequest {
		t.Errorf("bad state: %d %s", code, body)
	}

	// Drain: the very next answer leaves the backend out.
	if code, body := put(token, `{"state":"drain","reason":"kernel upgrade"}`); code != http.StatusOK {
		t.Fatalf("drain: %d %s", code, body)
	}
	if got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA); len(got) != 1 || got[0] != "192.0.2.2" {
		t.Errorf("after drain: %v, want only 192.0.2.2", got)
	}
	var view struct {
		Serving, Healthy bool
		Admin            *struct{ State, Reason string }
	}
	resp, _ := http.Get(ta.api.URL + "/api/v1/backends/www.example.test/one")
	json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	if view.Serving || view.Admin == nil || view.Admin.State != "drain" || view.Admin.Reason != "kernel upgrade" || !view.Healthy {
		t.Errorf("backend view after drain: %+v", view)
	}
	state, err := os.ReadFile(stateFile)
	if err != nil || !strings.Contains(string(state), "kernel upgrade") {
		t.Fatalf("state file: %v %s", err, state)
	}

	// The state file survives a restart.
	ta.stop()
	ta2 := startApp(t, conf, tok)
	if got, _ := answers(t, ta2.dns, "www.example.test.", dns.TypeA); len(got) != 1 || got[0] != "192.0.2.2" {
		t.Errorf("after restart: %v, want the drain kept", got)
	}

	// An expiring drain clears itself.
	url = ta2.api.URL + "/api/v1/backends/www.example.test/two/admin"
	if code, body := put(token, `{"state":"drain","for":"1s"}`); code != http.StatusOK {
		t.Fatalf("timed drain: %d %s", code, body)
	}
	if got, r := answers(t, ta2.dns, "www.example.test.", dns.TypeA); len(got) != 0 || r.Rcode != dns.RcodeSuccess {
		// Both drained: serve_all stands in for failed health, not for an
		// operator's drain, so nothing is answered (NODATA).
		t.Errorf("both drained: %v", got)
	}
	waitFor(t, "the timed drain to expire", 4*time.Second, func() bool { return ta2.admin.Get("www.example.test/two") == nil })
	if got, _ := answers(t, ta2.dns, "www.example.test.", dns.TypeA); len(got) != 1 || got[0] != "192.0.2.2" {
		t.Errorf("after expiry: %v, want 192.0.2.2 back (one still drained)", got)
	}

	// Editing the state file by hand takes effect too.
	os.WriteFile(stateFile, []byte(""), 0o644)
	waitFor(t, "the emptied state file to clear the drain", 4*time.Second, func() bool {
		got, _ := answers(t, ta2.dns, "www.example.test.", dns.TypeA)
		return len(got) == 2
	})
}

// hangingListener returns the address of a TCP listener that accepts
// connections and never answers on them; listener and connections close
// when the test ends.
func hangingListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // held open, never answered
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestNoAnswersBeforeKnowledge: a backend whose first probe fails (fall =
// 2) is in no answer, neither when present at start nor when a reload adds
// it, and not through when_all_down = serve_all while it is pending. A
// client queries without pause from before the first probe to after the
// backend is known down.
func TestNoAnswersBeforeKnowledge(t *testing.T) {
	good := newBackend(t)
	dead := newBackend(t)
	dead.kill()
	hang := hangingListener(t) // its first result comes after the timeout
	svc := func(extra string) string {
		return fmt.Sprintf(`[services.www]
members = "all"
backends = [
  { name = "good", address = "192.0.2.1", check = %s },
  { name = "dead", address = "192.0.2.2", check = %s },
%s]
[services.lone]
backends = [{ name = "slow", address = "192.0.2.9", check = { type = "http", address = %q, interval = "2s", timeout = "1s" } }]
`, checkTOML("http", good.addr), checkTOML("tcp", dead.addr), extra, hang)
	}
	conf := healthConfig(t, svc(""), "")
	zoneFile := filepath.Join(filepath.Dir(conf), "zones", "example.test.toml")
	ta := startAppWatching(t, conf, "", false)
	lone := backendByID(t, ta, "lone.example.test/slow")
	lonePending := lone.Pending

	// watch queries www and lone without pause until the returned stop
	// is called, which returns every address seen and the query count.
	watch := func() (stop func() (seen map[string]int, queries int)) {
		seen, n := map[string]int{}, 0
		quit, done := make(chan struct{}), make(chan struct{})
		c := &dns.Client{Timeout: time.Second}
		go func() {
			defer close(done)
			for {
				select {
				case <-quit:
					return
				default:
				}
				for _, name := range []string{"www.example.test.", "lone.example.test."} {
					m := new(dns.Msg)
					m.SetQuestion(name, dns.TypeA)
					r, _, err := c.Exchange(m, ta.dns)
					if err != nil {
						continue
					}
					// Pending only ends: pending after the reply means
					// pending while it was made.
					pending := lonePending()
					for _, rr := range r.Answer {
						if a, ok := rr.(*dns.A); ok {
							seen[a.A.String()]++
							if pending && name == "lone.example.test." {
								seen["pending "+a.A.String()]++
							}
						}
					}
					n++
				}
			}
		}()
		var once sync.Once
		stop = func() (map[string]int, int) {
			once.Do(func() { close(quit); <-done })
			return seen, n
		}
		t.Cleanup(func() { stop() })
		return stop
	}
	stop := watch()
	waitFor(t, "the dead backend to be known down", 3*time.Second, func() bool {
		_, fails := backendByID(t, ta, "www.example.test/dead").State().Consecutive()
		return fails >= 2
	})
	if !lone.Pending() {
		t.Fatal("the hanging check already has a result: the serve_all window was not tested")
	}
	waitFor(t, "the hanging check's first result", 3*time.Second, func() bool { return !lone.Pending() })
	seen, n := stop()
	t.Logf("at start: %d queries until both checks were known", n)
	if seen["192.0.2.2"] != 0 {
		t.Errorf("at start: the dead backend was answered %d times in %d queries", seen["192.0.2.2"], n)
	}
	if seen["192.0.2.1"] == 0 {
		t.Errorf("at start: the good backend was never answered in %d queries", n)
	}
	if seen["pending 192.0.2.9"] != 0 {
		t.Errorf("lone's pending backend was answered %d times through serve_all before its first result", seen["pending 192.0.2.9"])
	}
	// Once known down, serve_all answers it (every backend down).
	if got, _ := answers(t, ta.dns, "lone.example.test.", dns.TypeA); strings.Join(got, " ") != "192.0.2.9" {
		t.Errorf("lone after its first (failed) result: %v, want serve_all to answer 192.0.2.9", got)
	}

	// A reload adds a backend with nothing listening.
	dead2 := newBackend(t)
	dead2.kill()
	stop = watch()
	next := svc(fmt.Sprintf(`  { name = "added", address = "192.0.2.3", check = %s },
`, checkTOML("tcp", dead2.addr)))
	if err := os.WriteFile(zoneFile, []byte(strings.Replace(mustRead(t, zoneFile), svc(""), next, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ta.reload("test")
	added := backendByID(t, ta, "www.example.test/added")
	waitFor(t, "the added backend to be known down", 3*time.Second, func() bool {
		_, fails := added.State().Consecutive()
		return fails >= 2
	})
	seen, n = stop()
	if seen["192.0.2.3"] != 0 || seen["192.0.2.2"] != 0 {
		t.Errorf("after the reload: the added dead backend answered %d times, the old dead one %d, in %d queries", seen["192.0.2.3"], seen["192.0.2.2"], n)
	}
	if seen["192.0.2.1"] == 0 {
		t.Errorf("after the reload: the good backend never answered in %d queries", n)
	}
	t.Logf("%d queries; good answered %d times", n, seen["192.0.2.1"])
}

// backendByID returns the backend of the snapshot in use with that ID.
func backendByID(t *testing.T, ta *testApp, id string) *zones.Backend {
	t.Helper()
	for _, svc := range ta.h.Snapshot().Services() {
		for _, b := range svc.Backends {
			if b.ID == id {
				return b
			}
		}
	}
	t.Fatalf("no backend %s", id)
	return nil
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReloadChangedCheckKeepsHealth: a reload that changes a check in
// details (its interval) gives the backend a new probe whose state takes
// over the old health: answered right after the reload, not pending.
// (A backend at a new address with its own check, or with a check at a
// new address, gets nothing from before: zones.InheritHealth.)
func TestReloadChangedCheckKeepsHealth(t *testing.T) {
	good := newBackend(t)
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
backends = [{ name = "good", address = "192.0.2.1", check = %s }]
`, checkTOML("http", good.addr)), "")
	zoneFile := filepath.Join(filepath.Dir(conf), "zones", "example.test.toml")
	ta := startApp(t, conf, "")
	before := backendByID(t, ta, "www.example.test/good").State()
	if !before.Up() {
		t.Fatal("the good backend is not up")
	}
	zone := mustRead(t, zoneFile)
	next := strings.Replace(zone, fmt.Sprintf("interval = %q", interval), `interval = "3s"`, 1)
	if next == zone {
		t.Fatal("the interval was not found in the zone file")
	}
	if err := os.WriteFile(zoneFile, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	ta.reload("test")
	b := backendByID(t, ta, "www.example.test/good")
	if b.State() == before || b.Check.Interval != 3*time.Second {
		t.Fatal("the check did not change")
	}
	if b.Pending() || !b.Serving() {
		t.Errorf("after a reload that changed the interval: pending %v serving %v, want the old health", b.Pending(), b.Serving())
	}
	if got, _ := answers(t, ta.dns, "www.example.test.", dns.TypeA); strings.Join(got, " ") != "192.0.2.1" {
		t.Errorf("right after the reload: %v", got)
	}
}

// TestAdaptiveTTL: with adaptive_ttl, a stable answer has the service's
// TTL; once a backend has begun to fail, the TTL is the time until it
// could be down ((fall − failures) × interval, at least min_ttl); while a
// backend ramps up (slow start) it is min_ttl.
func TestAdaptiveTTL(t *testing.T) {
	good, flaky := newBackend(t), newBackend(t)
	check := func(addr string) string {
		return fmt.Sprintf(`{ type = "http", address = %q, interval = "1s", timeout = "200ms", rise = 1, fall = 5 }`, addr)
	}
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
ttl = 30
adaptive_ttl = true
min_ttl = 1
members = "weighted"
answers = 2
slow_start = { window = "8s" }
backends = [
  { name = "good", address = "192.0.2.1", check = %s },
  { name = "flaky", address = "192.0.2.2", check = %s },
]
`, check(good.addr), check(flaky.addr)), "")
	ta := startApp(t, conf, "")
	ttlOf := func() uint32 {
		_, r := answers(t, ta.dns, "www.example.test.", dns.TypeA)
		if len(r.Answer) == 0 {
			t.Fatalf("no answer: %v", r)
		}
		return r.Answer[0].Header().Ttl
	}
	// Both were there at start: a process start ramps nothing, so the
	// answer is steady from the first step on.
	waitFor(t, "a steering step", 2*time.Second, func() bool { _, ok := backendByID(t, ta, "www.example.test/good").Factors(); return ok })
	if got := ttlOf(); got != 30 {
		t.Errorf("at start: TTL %d, want the service's 30 (nothing ramps)", got)
	}
	flaky.kill()
	fl := backendByID(t, ta, "www.example.test/flaky")
	waitFor(t, "a failed probe", 3*time.Second, func() bool { _, f := fl.State().Consecutive(); return f >= 1 })
	_, f := fl.State().Consecutive()
	got := ttlOf()
	want := uint32(5 - f) // (fall − failures) × 1 s
	if f < 5 && (got > want || got < want-1) {
		resp, err := http.Get(ta.api.URL + "/api/v1/explain?name=www.example.test&type=A")
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		t.Errorf("after %d failures: TTL %d, want about %d\n%s", f, got, want, body)
	}
	t.Logf("after %d failure(s) of 5: TTL %d", f, got)
	// Down, then back: min_ttl while it ramps up again.
	waitFor(t, "flaky to go down", 8*time.Second, func() bool { return !fl.State().Up() })
	flaky.restore()
	waitFor(t, "flaky to come back", 4*time.Second, func() bool { return fl.State().Up() })
	// The ramp lasts 8 s: room for a slow step under the race detector
	// on a loaded machine (a 4 s ramp was missed once in CI).
	waitFor(t, "a steering step", 4*time.Second, func() bool { f, ok := fl.Factors(); return ok && f.Ramp < 1 })
	if got := ttlOf(); got != 1 {
		t.Errorf("while ramping up after its recovery: TTL %d, want min_ttl 1", got)
	}
	waitFor(t, "the ramp to end", 15*time.Second, func() bool { return ttlOf() == 30 })
}
