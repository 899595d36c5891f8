package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
	"github.com/miekg/dns"
)

// page fetches a page of the status page and fails on anything but 200.
func (f *fixture) page(t testing.TB, path string) string {
	t.Helper()
	resp, err := http.Get(f.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("GET %s: CSP %q", path, csp)
	}
	return string(body)
}

// rowOfPage is the <tr> of a backend in a status page.
func rowOfPage(t *testing.T, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr class="[^"]*" data-backend="` + regexp.QuoteMeta(id) + `".*?</tr>`).FindString(page)
	if m == "" {
		t.Fatalf("no row of %s in the page", id)
	}
	return m
}

// TestStatusPageDownHasNoShare: a backend that answered and then went
// down shows "not serving", not its share of the last minute as if it
// still served (issue 17 bug 4).
func TestStatusPageDownHasNoShare(t *testing.T) {
	f := newShareFixture(t, twoBackends)
	// two starts down: forced up, it answers; the override gone, it is
	// DOWN with half of the last minute's answers.
	if err := f.admin.Set("www.example.test/two", &health.Override{State: health.AdminUp}, "test"); err != nil {
		t.Fatal(err)
	}
	f.ask(4)
	if err := f.admin.Set("www.example.test/two", nil, "test"); err != nil {
		t.Fatal(err)
	}
	if got := f.shares(t)["two"]; got != "0.50" {
		t.Fatalf("the API's share of two is %s, want 0.50 (the last minute's, as documented)", got)
	}
	page := f.page(t, "/")
	row := rowOfPage(t, page, "www.example.test/two")
	if !strings.Contains(row, `data-state="DOWN"`) || !strings.Contains(row, ">not serving</td>") {
		t.Errorf("the DOWN backend's row does not say not serving:\n%s", row)
	}
	if regexp.MustCompile(`>\d+%</td>\s*<td class="wide lasterr"`).MatchString(row) {
		t.Errorf("the DOWN backend's row shows an answer share:\n%s", row)
	}
	if one := rowOfPage(t, page, "www.example.test/one"); !strings.Contains(one, `title="share of the service&#39;s answers in the last minute">50%</td>`) {
		t.Errorf("the serving backend's row lacks its share of 50%%:\n%s", one)
	}
}

// TestStatusPageBanner: red when a backend is hard down, yellow when
// backends are only drained, none when every backend serves.
func TestStatusPageBanner(t *testing.T) {
	f := newFixture(t, "", oneTwo, nil)
	if page := f.page(t, "/"); strings.Contains(page, "data-banner=") {
		t.Errorf("a banner while every backend serves:\n%s", page)
	}
	if err := f.admin.Set("www.example.test/two", &health.Override{State: health.AdminDrain, Reason: "kernel upgrade"}, "test"); err != nil {
		t.Fatal(err)
	}
	page := f.page(t, "/")
	for _, want := range []string{
		`data-banner="warn"`,
		`<strong>1 backend drained or forced down</strong>`,
		`<a href="/#svc-www.example.test">www.example.test</a>: 1 of 2 serving (1 drained or forced down)`,
		`<span class="badge warn">DRAINED</span>`,
		`data-backend="www.example.test/two" data-state="DRAINED"`,
		`>kernel upgrade</div>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("drained: the page lacks %q", want)
		}
	}
	f = newFixture(t, "", twoBackends, nil)
	page = f.page(t, "/")
	for _, want := range []string{
		`data-banner="down"`,
		`<strong>1 backend down: failing health checks</strong>`,
		`<title>gslb status (1 down)</title>`,
		`<span class="badge down">DEGRADED</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("hard down: the page lacks %q", want)
		}
	}
}

// TestStatusPageLastError: a backend that failed and is UP again shows
// its last error with its age, not in red; a DOWN one in red (bug 4).
func TestStatusPageLastError(t *testing.T) {
	var calls atomic.Int32
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	f := newFixture(t, "", fmt.Sprintf(`[services.www]
backends = [
  { name = "one", address = "192.0.2.1", check = { type = "http", address = %q, interval = "200ms", timeout = "100ms", rise = 1, fall = 1 } },
  { name = "two", address = "192.0.2.2", check = { type = "tcp", address = "127.0.0.1:1", interval = "200ms", timeout = "100ms", rise = 1, fall = 1 } },
]
`, addr), nil)
	checker := health.NewChecker(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, 10)
	defer checker.Stop()
	checker.SyncBind(f.snap.Specs(), func(states map[health.Spec]*health.State) {
		f.snap.Bind(states, f.admin, nil, nil)
	})
	one, two := f.snap.Services()[0].Backends[0], f.snap.Services()[0].Backends[1]
	deadline := time.Now().Add(5 * time.Second)
	for !one.State().Up() || one.State().LastError() == "" || two.State().LastError() == "" || two.State().Up() {
		if time.Now().After(deadline) {
			t.Fatal("one not up after errors, or two not down, within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	page := f.page(t, "/")
	old := regexp.MustCompile(`<span class="old" title="[^"]+: [^"]*503[^"]*"><b>\d+s ago</b>: `)
	if row := rowOfPage(t, page, "www.example.test/one"); !old.MatchString(row) || strings.Contains(row, `class="err"`) {
		t.Errorf("the UP backend's last error is not shown grey with its age:\n%s", row)
	}
	if row := rowOfPage(t, page, "www.example.test/two"); !strings.Contains(row, `<span class="err" title=`) {
		t.Errorf("the DOWN backend's last error is not red:\n%s", row)
	}
}

// manyServices is a zone of n services of three backends in two pools:
// every seventh with a backend down, every eleventh with one drained
// (drain with f.admin), each with a long HTTP check.
func manyServices(n int) string {
	var b strings.Builder
	for i := range n {
		start := "up"
		if i%7 == 0 {
			start = "down"
		}
		fmt.Fprintf(&b, `[services.svc-%05d]
check = { type = "http", address = "192.0.2.%d:8080", path = "/health/ready/with/a/rather/long/path?verbose=true&service=svc-%05d", start = "up" }
backends = [
  { name = "eu-west-1-%05d", address = "192.0.2.%d" },
  { name = "eu-central-1-%05d", address = "2001:db8::%x", check = { type = "http", address = "192.0.2.%d:8443", path = "/healthz", start = %q } },
  { name = "us-east-1-%05d", address = "198.51.100.%d", weight = 2 },
]
pools = [
  { name = "eu", backends = ["eu-west-1-%05d", "eu-central-1-%05d"] },
  { name = "us", backends = ["us-east-1-%05d"] },
]
`, i, i%250+1, i, i, i%250+1, i, i+1, i%250+1, start, i, i%250+1, i, i, i)
	}
	return b.String()
}

// newLargeFixture is the HTTP side over 10,000 services, with answers
// counted and a full hour of answer history that changes every minute.
func newLargeFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(f.dir, "zones"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneHead + manyServices(10000)} {
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
	answers := zones.NewAnswerCounts()
	f.snap.BindAnswers(answers)
	f.h = dnsserver.NewHandler(f.snap, dnsserver.Identity{}, nil, log)
	f.web = New(Deps{Handler: f.h, Admin: f.admin, Answers: answers, Version: "test"})
	f.http = httptest.NewServer(f.web)
	t.Cleanup(f.http.Close)
	for i, svc := range f.snap.Services() {
		if i%11 == 0 {
			if err := f.admin.Set(svc.Backends[2].ID, &health.Override{State: health.AdminDrain, Reason: "maintenance window of the us-east-1 region"}, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// An hour of minutes, each backend's count different each minute:
	// the chart's paths are as long as they get.
	h := &f.web.recent.hour
	t0 := time.Date(2026, 11, 24, 12, 0, 30, 0, time.UTC)
	h.start(t0)
	counts := map[answerKey]uint64{}
	for m := range historyMinutes + 1 {
		next := map[answerKey]uint64{}
		for _, svc := range f.snap.Services() {
			for _, p := range svc.Pools {
				for j, b := range p.Members {
					k := answerKey{svc.Name, p.Name, b.Name}
					next[k] = counts[k] + uint64((m*7+j*13)%17+1)
				}
			}
		}
		counts = next
		h.observe(t0.Add(time.Duration(m+1)*time.Minute), vecOf(counts))
	}
	return f
}

// worstRows makes every row of v as long as the page prints it: twenty
// failed probes with long reasons, an RTT line of every probe, a long last
// error and check.
func worstRows(v *pageView) {
	long := strings.Repeat("dial tcp 192.0.2.1:8080: connect: connection refused by the peer ", 4)
	var hist []historyJSON
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for i := range 60 {
		hist = append(hist, historyJSON{At: at.Add(time.Duration(i) * time.Second), OK: i%3 != 0, DurationSeconds: float64(i%9+1) / 1000, Reason: long})
	}
	var fails []historyJSON
	for i := range 60 {
		fails = append(fails, historyJSON{At: at, Reason: long + fmt.Sprint(i)})
	}
	for i := range v.Services {
		for j := range v.Services[i].Pools {
			for k := range v.Services[i].Pools[j].Rows {
				r := &v.Services[i].Pools[j].Rows[k]
				r.Probes = probeStrip(fails)
				r.Spark = sparkline(hist)
				r.LastError, r.LastErrorFull, r.LastErrorAge, r.LastErrorClass = shorten(long, maxError), long, "59m ago", "err"
				r.Admin, r.AdminFull = "maintenance window of the us-east-1 region", long
			}
		}
	}
}

// TestStatusPageLarge: with 10,000 services, every page is under 1 MB,
// paginated at 50 services, with working links; even with every row at
// its longest. BenchmarkStatusPage measures the time.
func TestStatusPageLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 10,000 services")
	}
	f := newLargeFixture(t)
	const limit = 1 << 20
	for _, c := range []struct {
		path, first, heading string
	}{
		{"/", "svc-00000.example.test", "Services 1–50 of 10000"},
		{"/?page=2", "svc-00050.example.test", "Services 51–100 of 10000"},
		{"/?page=200", "svc-09950.example.test", "Services 9951–10000 of 10000"},
		{"/?page=9999", "svc-09950.example.test", "Services 9951–10000 of 10000"},
		{"/?page=x", "svc-00000.example.test", "Services 1–50 of 10000"},
	} {
		start := time.Now()
		page := f.page(t, c.path)
		took := time.Since(start)
		t.Logf("%s: %d bytes in %v", c.path, len(page), took)
		if len(page) >= limit {
			t.Errorf("%s: %d bytes, want under 1 MB", c.path, len(page))
		}
		if !strings.Contains(page, c.heading) {
			t.Errorf("%s: no %q", c.path, c.heading)
		}
		if got := strings.Count(page, "<tr data-service="); got != 50 {
			t.Errorf("%s: %d services in the overview, want 50", c.path, got)
		}
		if got := strings.Count(page, `<section class="svc"`); got != 50 {
			t.Errorf("%s: %d service sections, want 50", c.path, got)
		}
		if !strings.Contains(page, `<tr data-service="`+c.first+`"`) {
			t.Errorf("%s: the first service is not %s", c.path, c.first)
		}
	}
	page := f.page(t, "/?page=100")
	for _, want := range []string{
		`<a href="/">1</a>`, `<a href="/?page=99">‹ prev</a>`, `<span class="cur" aria-current="page">100</span>`,
		`<a href="/?page=102">102</a>`, `<a href="/?page=200">200</a>`, `<a href="/?page=101">next ›</a>`,
		// The banner counts every service and names the first ones.
		// 1429 services (every seventh) have a backend down, 910 (every
		// eleventh) one drained, 130 both.
		`<strong>1429 backends down: failing health checks</strong>`, `and 2197 more services`,
		`<a href="/#svc-svc-00000.example.test">`,
		`<svg class="hour"`, `<path class="c0" d="M0 100V`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page 100 lacks %q", want)
		}
	}

	// Every row at its longest: still under 1 MB.
	v := f.web.pageView(1)
	worstRows(&v)
	var buf bytes.Buffer
	if err := statusTemplate.Execute(&buf, v); err != nil {
		t.Fatal(err)
	}
	t.Logf("a page of the longest rows: %d bytes", buf.Len())
	if buf.Len() >= limit {
		t.Errorf("a page of the longest rows is %d bytes, want under 1 MB", buf.Len())
	}
}

// BenchmarkStatusPage serves page 100 of 10,000 services (the budget is
// 200 ms), and renders a page whose rows are all at their longest.
func BenchmarkStatusPage(b *testing.B) {
	f := newLargeFixture(b)
	b.Run("serve", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			w := httptest.NewRecorder()
			f.web.ServeHTTP(w, httptest.NewRequest("GET", "/?page=100", nil))
			n = w.Body.Len()
		}
		b.ReportMetric(float64(n), "bytes/page")
	})
	b.Run("longest", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			v := f.web.pageView(1)
			worstRows(&v)
			var buf bytes.Buffer
			if err := statusTemplate.Execute(&buf, v); err != nil {
				b.Fatal(err)
			}
			n = buf.Len()
		}
		b.ReportMetric(float64(n), "bytes/page")
	})
}

// TestHourChart: each backend's path is the area under the cumulative
// share, minute by minute; minutes without answers stay blank; the
// legend has the hour's shares, the most first.
func TestHourChart(t *testing.T) {
	var a, b [historyMinutes]uint32
	a[historyMinutes-2], b[historyMinutes-2] = 1, 3 // a 25 %, b 75 %
	a[historyMinutes-1] = 4                         // a alone
	svg, legend, more := hourChart("www.example.test", []string{"a", "b"}, [][historyMinutes]uint32{a, b}, 2)
	for _, want := range []string{
		`aria-label="www.example.test: answers of the last hour by backend: a 62%, b 38% (counted for the last 2 min, since gslb started)"`,
		`<rect class="bg" x="580" width="20" height="100"/>`,
		// b, drawn first, reaches the top where anything answered.
		`<path class="c1" d="M0 100H580V0H600V100Z"/>`,
		// a covers it up to 25 %, then the whole last minute.
		`<path class="c0" d="M0 100H580V75H590V0H600V100Z"/>`,
	} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %s:\n%s", want, svg)
		}
	}
	if got := fmt.Sprint(legend, more); got != "[{c0 a 62%} {c1 b 38%}] 0" {
		t.Errorf("legend %s", got)
	}
	if svg, legend, _ := hourChart("x", []string{"a"}, make([][historyMinutes]uint32, 1), historyMinutes); strings.Contains(string(svg), "<path") || len(legend) != 0 {
		t.Errorf("no answers: %s %v", svg, legend)
	}
}

func TestBreakable(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9153/healthz":   "http://127.0.0.1:9153<wbr>/healthz",
		"https://a/b?c=1&d=<x>":           "https://a<wbr>/b<wbr>?c=1<wbr>&amp;d=&lt;x&gt;",
		"tcp://192.0.2.1:80":              "tcp://192.0.2.1:80",
		"none":                            "none",
		"dns://192.0.2.53:53/www.example": "dns://192.0.2.53:53<wbr>/www.example",
	} {
		if got := string(breakable(in)); got != want {
			t.Errorf("breakable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStatusPageEmpty: a configuration without services has one page of
// none, and says so.
func TestStatusPageEmpty(t *testing.T) {
	f := newFixture(t, "", "", nil)
	page := f.page(t, "/?page=3")
	if !strings.Contains(page, "Services 0–0 of 0") || strings.Contains(page, `<nav class="pager"`) || strings.Contains(page, "data-banner=") {
		t.Errorf("empty configuration:\n%s", page)
	}
}

// TestFactorsTip: the weight's tooltip says what shaped the effective
// weight (issue 14: factors on the status page).
func TestFactorsTip(t *testing.T) {
	load, lat := 0.42, 0.0123
	for _, c := range []struct {
		f    steeringJSON
		want string
	}{
		{steeringJSON{Law: "least_load", SmoothedLoad: &load, ErrorRate: 0.05, Share: 0.25, Target: 0.3, Ramp: 1},
			"least_load: load 0.42, latency none (neutral), errors 5%, share 25.0% (target 30.0%)"},
		{steeringJSON{Law: "fastest", SmoothedLatency: &lat, Share: 0.5, Target: 0.5, Ramp: 0.4, RampLeftSeconds: 36},
			"fastest: load none (neutral), latency 12.3 ms, errors 0%, share 50.0% (target 50.0%); slow start 40%, 36s left"},
		{steeringJSON{Ramp: 0.5, RampLeftSeconds: 10}, "slow start 50%, 10s left"},
		{steeringJSON{Ramp: 1}, "no law or ramp acting"},
	} {
		if got := factorsTip(&c.f); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// TestStatusPageSigned: a signed zone's line names its keys, with the DS
// for the parent in their tooltip, and when its signatures expire.
func TestStatusPageSigned(t *testing.T) {
	key, err := dnssec.Generate("example.test.", dns.ED25519)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := key.WriteBIND(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "", fmt.Sprintf("[services.www]\nbackends = [{ name = \"one\", address = \"192.0.2.1\" }]\n[dnssec]\nkey = %q\ncds = \"keys\"\n", keyFile), nil)
	code, page := f.do(t, "GET", "/", "", "")
	ds := html.EscapeString(key.DNSKEY.ToDS(dns.SHA256).String())
	if code != 200 || !strings.Contains(page, fmt.Sprintf(`signed: <span title="DS for the parent: %s">ed25519 key %d</span>, signatures to `, ds, key.Tag)) {
		t.Errorf("the status page's zone line lacks the signing:\n%s", page)
	}
	// The status API has the keys, their DS and the CDS mode.
	code, body := f.do(t, "GET", "/api/v1/status", "", "")
	var st struct {
		Zones []struct {
			DNSSEC *struct {
				Keys []struct {
					Tag uint16 `json:"tag"`
					DS  string `json:"ds"`
				} `json:"keys"`
				CDS string `json:"cds"`
			} `json:"dnssec"`
		} `json:"zones"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || len(st.Zones) != 1 || st.Zones[0].DNSSEC == nil {
		t.Fatalf("status: %d %v\n%s", code, err, body)
	}
	if d := st.Zones[0].DNSSEC; d.CDS != "keys" || len(d.Keys) != 1 || d.Keys[0].Tag != key.Tag || d.Keys[0].DS != key.DNSKEY.ToDS(dns.SHA256).String() {
		t.Errorf("status dnssec %+v", d)
	}
}
