package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

const geoDB = "../../../../testdata/geoip/GeoIP2-City-Test.mmdb"

// openGeo opens the test City database for the status's geoip part.
func openGeo(t *testing.T) *geo.Locator {
	t.Helper()
	l, err := geo.NewLocator(geo.Source{Path: geoDB}, geo.Source{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// schemaKeys lists every key path of a JSON document, arrays as "[]".
func schemaKeys(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := prefix + "." + k
			out[p] = true
			schemaKeys(p, e, out)
		}
	case []any:
		for _, e := range x {
			schemaKeys(prefix+"[]", e, out)
		}
	}
}

// TestStatusSchema: /api/v1/status has exactly the fields README.md
// documents, with every optional part filled: probe history from a real
// checker, an override with expiry, answer shares, a reload error.
func TestStatusSchema(t *testing.T) {
	readme, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- status-schema -->\\s*```json\\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no status schema block (<!-- status-schema --> then ```json)")
	}
	var doc any
	if err := json.Unmarshal(m[1], &doc); err != nil {
		t.Fatalf("the README's status example is not JSON: %v", err)
	}
	want := map[string]bool{}
	schemaKeys("", doc, want)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	f := newFixture(t, fmt.Sprintf("[geo]\ndatabase = %q\n", mustAbs(t, geoDB)),
		fmt.Sprintf("[services.www]\nbackends = [{ name = \"one\", address = \"192.0.2.1\", check = { type = \"http\", address = %q, interval = \"200ms\", timeout = \"100ms\" } }]\n", addr),
		func(d *Deps) {
			d.Geo = openGeo(t)
			d.LastReloadError = func() string { return "zones/x.toml:1:1: test" }
			d.Answers = zones.NewAnswerCounts()
		})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	checker := health.NewChecker(log, nil, 10)
	defer checker.Stop()
	checker.SyncBind(f.snap.Specs(), func(states map[health.Spec]*health.State) {
		f.snap.Bind(states, f.admin, nil, nil)
		f.snap.BindAnswers(f.web.deps.Answers)
	})
	b := f.snap.Services()[0].Backends[0]
	deadline := time.Now().Add(5 * time.Second)
	for len(b.State().History()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no probe result in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.admin.Set(b.ID, &health.Override{State: "up", Reason: "test", Expires: time.Now().Add(time.Hour)}, "test"); err != nil {
		t.Fatal(err)
	}
	// One answer counted: the share is 1, not null.
	var buf [512]byte
	q := []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x04test\x00\x00\x01\x00\x01")
	f.h.Serve(q, netip.MustParseAddrPort("192.0.2.53:5353"), dnsserver.UDP, buf[:0])

	code, body := f.do(t, "GET", "/api/v1/status", "", "")
	if code != http.StatusOK {
		t.Fatalf("status: %d %s", code, body)
	}
	var got any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	schemaKeys("", got, have)
	var missing, extra []string
	for k := range want {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	for k := range have {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 {
		t.Errorf("/api/v1/status does not match README.md:\n documented but absent: %v\n present but undocumented: %v", missing, extra)
	}
	if !strings.Contains(body, `"answer_share": 1`) {
		t.Errorf("the answered backend has no share of 1:\n%s", body)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestStatusGolden pins the whole status document of a configuration with
// two services, pools, an override and a GeoIP database. Times and RTTs
// vary from run to run and are replaced before comparing; so are the
// configuration hash and the temporary folder. go test -update rewrites testdata/status.golden.
func TestStatusGolden(t *testing.T) {
	f := newFixture(t, fmt.Sprintf("[geo]\ndatabase = %q\n", mustAbs(t, geoDB)), twoBackends+`[services.api]
ttl = 20
policy = "failover"
members = "weighted"
when_all_down = "nodata"
backends = [
  { name = "a1", address = "198.51.100.1", weight = 3 },
  { name = "a2", address = "198.51.100.2", weight = 1 },
  { name = "b1", address = "2001:db8::1" },
]
pools = [
  { name = "primary", backends = ["a1", "a2"] },
  { name = "backup", backends = ["b1"] },
]
`, func(d *Deps) {
		d.Geo = openGeo(t)
		d.LastReloadError = func() string { return "gslb.toml:3:1: unknown key \"zonez\"" }
	})
	set := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	o := &health.Override{State: health.AdminDrain, Reason: "kernel upgrade", Expires: set.Add(100 * 365 * 24 * time.Hour), Set: set}
	if err := f.admin.Set("api.example.test/a2", o, "api 192.0.2.9:4242"); err != nil {
		t.Fatal(err)
	}
	code, body := f.do(t, "GET", "/api/v1/status", "", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	golden(t, "status.golden", normalizeStatus(body, f.dir))
}

// volatileTime and volatileSeconds match the values of the status that
// change from run to run: times of loading, probing and now, and measured
// durations. volatileHash matches the configuration hash, which the zones
// package defines (and its tests pin): a change of its hashing is not a
// change of the status.
var (
	volatileTime    = regexp.MustCompile(`"(now|loaded_at|since|last_probe|at)": "[^"]+"`)
	volatileSeconds = regexp.MustCompile(`"(rtt_seconds|duration_seconds)": [-+.0-9eE]+`)
	volatileHash    = regexp.MustCompile(`"hash": "[0-9a-f]+"`)
)

// normalizeStatus replaces the volatile values of a status document and
// the temporary folder, keeping the API's bytes otherwise: the golden file
// shows the document as clients get it, in its field order.
func normalizeStatus(body, dir string) []byte {
	body = strings.ReplaceAll(body, dir, "$DIR")
	body = volatileTime.ReplaceAllString(body, `"$1": "<time>"`)
	body = volatileSeconds.ReplaceAllString(body, `"$1": "<seconds>"`)
	body = volatileHash.ReplaceAllString(body, `"hash": "<hash>"`)
	return []byte(body)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after a wanted change):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the lines that differ between want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

func TestStatusPageEscapes(t *testing.T) {
	f := newFixture(t, "", twoBackends, func(d *Deps) {
		d.LastReloadError = func() string { return `zones/<script>alert(1)</script>.toml:1:1: "bad"` }
	})
	code, s := f.do(t, "GET", "/", "", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, s)
	}
	for _, want := range []string{
		`data-backend="www.example.test/two" data-state="DOWN"`,
		`data-backend="www.example.test/one" data-state="UP"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`The last reload failed`,
		`<svg class="spark"`,
		`1 backend(s) out of service`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(s, "<script>") {
		t.Error("the status page prints a reload error unescaped")
	}
	if code, _ := f.do(t, "GET", "/nope", "", ""); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
}

// TestAnswerShares: a backend's share is of the answers between the oldest
// sample kept and now, not of all answers since start.
func TestAnswerShares(t *testing.T) {
	answers := zones.NewAnswerCounts()
	f := newFixture(t, "", `[services.www]
backends = [{ name = "one", address = "192.0.2.1" }, { name = "two", address = "192.0.2.2" }]
`, func(d *Deps) { d.Answers = answers })
	f.snap.BindAnswers(answers)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.web.now = func() time.Time { return now }
	ask := func(n int) {
		var buf [512]byte
		q := []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x04test\x00\x00\x01\x00\x01")
		for range n {
			f.h.Serve(q, netip.MustParseAddrPort("192.0.2.53:5353"), dnsserver.UDP, buf[:0])
		}
	}
	share := func(id string) string {
		for _, svc := range f.web.status().Services {
			for _, b := range svc.Backends {
				if b.ID == id {
					if b.AnswerShare == nil {
						return "null"
					}
					return fmt.Sprintf("%.2f", *b.AnswerShare)
				}
			}
		}
		t.Fatalf("no backend %s", id)
		return ""
	}
	if s := share("www.example.test/one"); s != "null" {
		t.Errorf("before any answer: share %s, want null", s)
	}
	ask(2) // both backends in both answers
	now = now.Add(recentEvery)
	f.web.sampleAnswers()
	if err := f.admin.Set("www.example.test/two", &health.Override{State: health.AdminDrain}, "test"); err != nil {
		t.Fatal(err)
	}
	ask(3) // one alone
	now = now.Add(recentEvery)
	// Since the first sample (taken by the first read, before any answer):
	// one was in 5 answers, two in 2.
	if one, two := share("www.example.test/one"), share("www.example.test/two"); one != "0.71" || two != "0.29" {
		t.Errorf("shares since the first sample: one %s, two %s; want 0.71 and 0.29", one, two)
	}
	// Once samples older than the window are dropped, only the recent
	// answers count: one answered alone.
	for range recentSamples {
		now = now.Add(recentEvery)
		f.web.sampleAnswers()
	}
	ask(4)
	now = now.Add(2 * time.Second)
	if one, two := share("www.example.test/one"), share("www.example.test/two"); one != "1.00" || two != "0.00" {
		t.Errorf("shares of the last minute: one %s, two %s; want 1.00 and 0.00", one, two)
	}
}
