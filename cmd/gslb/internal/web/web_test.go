package web

import (
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/prometheus/client_golang/prometheus"
)

// update rewrites the golden files: go test ./cmd/gslb/... -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testToken = "0123456789abcdef0123"

// mainTOML starts the main file of the test configurations; a test's extra
// settings follow it.
const mainTOML = `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
`

// zoneHead starts the test zone; services follow it.
const zoneHead = `origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
`

// fixture is the HTTP side over a configuration loaded from zone text in
// a temporary folder, with every backend in its check's start state (no
// probe runs) unless the test starts a checker.
type fixture struct {
	dir   string
	snap  *zones.Snapshot
	h     *dnsserver.Handler
	admin *health.Admin
	web   *Server
	http  *httptest.Server
}

// newFixture loads gslb.toml (mainTOML plus extra) and a zone of zoneHead
// plus services, then builds the HTTP side; deps adjusts the dependencies
// before New.
func newFixture(t *testing.T, extra, services string, deps func(*Deps)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	write(t, filepath.Join(f.dir, "gslb.toml"), mainTOML+extra)
	write(t, filepath.Join(f.dir, "zones", "example.test.toml"), zoneHead+services)
	var err error
	if f.snap, err = zones.Load(zones.OSFiles(), filepath.Join(f.dir, "gslb.toml")); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	states := map[health.Spec]*health.State{}
	for _, s := range f.snap.Specs() {
		states[s] = health.StartState(s)
	}
	f.admin = health.NewAdmin("", 0, log)
	f.snap.Bind(states, f.admin, nil, nil)
	f.h = dnsserver.NewHandler(f.snap, dnsserver.Identity{}, nil, log)
	d := Deps{Handler: f.h, Admin: f.admin, Token: testToken, Version: "test"}
	if deps != nil {
		deps(&d)
	}
	f.web = New(d)
	f.http = httptest.NewServer(f.web)
	t.Cleanup(f.http.Close)
	return f
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// do sends a request and returns the status code and body.
func (f *fixture) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const twoBackends = `[services.www]
backends = [
  { name = "one", address = "192.0.2.1" },
  { name = "two", address = "192.0.2.2", check = { type = "tcp", address = "192.0.2.2:80", start = "down" } },
]
`

func TestHealthzReadyz(t *testing.T) {
	why := "DNS listeners not bound yet"
	f := newFixture(t, "", twoBackends, func(d *Deps) { d.Ready = func() string { return why } })
	if code, body := f.do(t, "GET", "/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := f.do(t, "GET", "/readyz", "", ""); code != http.StatusServiceUnavailable || body != why+"\n" {
		t.Errorf("/readyz not ready: %d %q, want 503 with the reason", code, body)
	}
	why = ""
	if code, body := f.do(t, "GET", "/readyz", "", ""); code != 200 || body != "ready\n" {
		t.Errorf("/readyz ready: %d %q", code, body)
	}
	// No Ready function: a loaded snapshot is ready.
	g := newFixture(t, "", twoBackends, nil)
	if code, _ := g.do(t, "GET", "/readyz", "", ""); code != 200 {
		t.Errorf("/readyz without Ready: %d", code)
	}
}

func TestMetricsMount(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(zones.NewBackendCollector(func() *zones.Snapshot { return nil }))
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "gslb_test_total", Help: "A test counter."})
	c.Add(3)
	reg.MustRegister(c)
	f := newFixture(t, "", twoBackends, func(d *Deps) { d.Gatherer = reg })
	code, body := f.do(t, "GET", "/metrics", "", "")
	if code != 200 || !strings.Contains(body, "gslb_test_total 3\n") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	// Without a gatherer there is no /metrics.
	g := newFixture(t, "", twoBackends, nil)
	if code, _ := g.do(t, "GET", "/metrics", "", ""); code != http.StatusNotFound {
		t.Errorf("/metrics without a gatherer: %d, want 404", code)
	}
}
