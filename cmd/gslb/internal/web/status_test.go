package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/dnsserver"
	"github.com/gslb/gslb/geo"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
	"github.com/miekg/dns"
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

// TestStatusSchema: /api/v1/status has exactly the fields docs/api.md
// documents, with every optional part filled: probe history from a real
// checker, an override with expiry, answer shares, a reload error.
func TestStatusSchema(t *testing.T) {
	readme, err := os.ReadFile("../../../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- status-schema -->\\s*```json\\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("docs/api.md has no status schema block (<!-- status-schema --> then ```json)")
	}
	var doc any
	if err := json.Unmarshal(m[1], &doc); err != nil {
		t.Fatalf("the status example in docs/api.md is not JSON: %v", err)
	}
	want := map[string]bool{}
	schemaKeys("", doc, want)

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	addr := strings.TrimPrefix(backend.URL, "http://")
	// The zone signed: its status has the dnssec part.
	key, err := dnssec.Generate("example.test.", dns.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := key.WriteBIND(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fmt.Sprintf("[geo]\ndatabase = %q\n", mustAbs(t, geoDB)),
		fmt.Sprintf("[services.www]\nmembers = \"least_load\"\nbackends = [{ name = \"one\", address = \"192.0.2.1\", check = { type = \"http\", address = %q, interval = \"200ms\", timeout = \"100ms\" } }]\n[dnssec]\nkey = %q\n", addr, keyFile),
		func(d *Deps) {
			d.Geo = openGeo(t)
			d.LastReloadError = func() string { return "zones/x.toml:1:1: test" }
			d.Answers = zones.NewAnswerCounts()
		})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	checker := health.NewChecker(log, nil, 10)
	defer checker.Stop()
	steering := zones.NewSteering()
	checker.SyncBind(f.snap.Specs(), func(states map[health.Spec]*health.State) {
		f.snap.Bind(states, f.admin, steering, nil)
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
	// One step of the law: the backend's steering factors are shown.
	steering.Step(f.snap, time.Now(), time.Second)
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
		t.Errorf("/api/v1/status does not match docs/api.md:\n documented but absent: %v\n present but undocumented: %v", missing, extra)
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
		`data-banner="down"`,
		`<strong>1 backend down: failing health checks</strong>`,
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

// fakeClock is a clock that tests move; the HTTP handlers read it from
// their own goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// shareFixture is a fixture whose answers are counted and whose clock is
// fake, started (as New starts it) at t0.
type shareFixture struct {
	*fixture
	answers *zones.AnswerCounts
	clock   *fakeClock
	t0      time.Time
}

func newShareFixture(t *testing.T, services string) *shareFixture {
	t.Helper()
	answers := zones.NewAnswerCounts()
	f := &shareFixture{
		fixture: newFixture(t, "", services, func(d *Deps) { d.Answers = answers }),
		answers: answers,
		t0:      time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
	}
	f.snap.BindAnswers(answers)
	f.clock = &fakeClock{t: f.t0}
	f.web.now = f.clock.now
	f.web.recent.start(f.t0)
	return f
}

// ask sends n queries for www.example.test A.
func (f *shareFixture) ask(n int) {
	var buf [512]byte
	q := []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x04test\x00\x00\x01\x00\x01")
	for range n {
		f.h.Serve(q, netip.MustParseAddrPort("192.0.2.53:5353"), dnsserver.UDP, buf[:0])
	}
}

// drainTwo drains backend two, or ends its drain.
func (f *shareFixture) drainTwo(t *testing.T, drain bool) {
	t.Helper()
	var o *health.Override
	if drain {
		o = &health.Override{State: health.AdminDrain}
	}
	if err := f.admin.Set("www.example.test/two", o, "test"); err != nil {
		t.Fatal(err)
	}
}

// reload swaps in the configuration of services, as the binary's reload
// does: the answer counters are kept, by name.
func (f *shareFixture) reload(t *testing.T, services string) {
	t.Helper()
	write(t, filepath.Join(f.dir, "zones", "example.test.toml"), zoneHead+services)
	snap, err := zones.Load(zones.OSFiles(), filepath.Join(f.dir, "gslb.toml"))
	if err != nil {
		t.Fatal(err)
	}
	states := map[health.Spec]*health.State{}
	for _, s := range snap.Specs() {
		states[s] = health.StartState(s)
	}
	snap.Bind(states, f.admin, nil, nil)
	snap.BindAnswers(f.answers)
	f.snap = snap
	f.h.Swap(snap)
}

// shares reads GET /api/v1/backends and returns each backend's share by
// name, as "0.50" or "null".
func (f *shareFixture) shares(t *testing.T) map[string]string {
	t.Helper()
	code, body := f.do(t, "GET", "/api/v1/backends", "", "")
	if code != http.StatusOK {
		t.Fatalf("/api/v1/backends: %d %s", code, body)
	}
	var doc struct {
		Backends []struct {
			Name        string   `json:"name"`
			AnswerShare *float64 `json:"answer_share"`
		} `json:"backends"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, b := range doc.Backends {
		out[b.Name] = "null"
		if b.AnswerShare != nil {
			out[b.Name] = fmt.Sprintf("%.2f", *b.AnswerShare)
		}
	}
	return out
}

// runTo moves the clock to t0+at, sampling at every whole second on the
// way as Run does (unless run is false: no Run).
func (f *shareFixture) runTo(at time.Duration, run bool) {
	now := f.clock.now()
	end := f.t0.Add(at)
	for tick := now.Truncate(answerEvery).Add(answerEvery); run && !tick.After(end); tick = tick.Add(answerEvery) {
		f.clock.set(tick)
		f.web.sampleAnswers(tick)
	}
	f.clock.set(end)
}

const oneTwo = `[services.www]
backends = [{ name = "one", address = "192.0.2.1" }, { name = "two", address = "192.0.2.2" }]
`

// shareStep is one step of a share test, at t0+at: n answers (with
// backend two drained if alone: one alone answers), a reload to services,
// or a read of the shares that must be want.
type shareStep struct {
	at       time.Duration
	ask      int
	alone    bool
	services string
	want     map[string]string
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// TestAnswerShares: a backend's share is of its service's answers of the
// last minute, between the sample of a minute ago (of start, in the first
// minute) and the live counters, whenever the API is read. Every answer
// of www names all its serving backends.
func TestAnswerShares(t *testing.T) {
	for _, c := range []struct {
		name  string
		noRun bool // nothing samples: New's start alone
		steps []shareStep
	}{
		{name: "no answer yet", steps: []shareStep{
			{at: sec(0.1), want: map[string]string{"one": "null", "two": "null"}},
			{at: sec(5), want: map[string]string{"one": "null", "two": "null"}},
		}},
		{name: "answers before the first read count", steps: []shareStep{
			{at: sec(0.5), ask: 3, alone: true},
			{at: sec(1.5), want: map[string]string{"one": "1.00", "two": "0.00"}},
			{at: sec(2.5), ask: 1},
			// Since start: one was in 4 answers, two in 1.
			{at: sec(3), want: map[string]string{"one": "0.80", "two": "0.20"}},
		}},
		{name: "answers of the last partial second count", steps: []shareStep{
			{at: sec(0.5), ask: 2, alone: true},
			{at: sec(10.2), ask: 2},
			{at: sec(10.7), want: map[string]string{"one": "0.67", "two": "0.33"}},
		}},
		{name: "answers older than a minute drop out", steps: []shareStep{
			{at: sec(0.5), ask: 5, alone: true},
			{at: sec(30.5), ask: 1},
			{at: sec(59.9), want: map[string]string{"one": "0.86", "two": "0.14"}},
			// The first answers are more than 60 s old.
			{at: sec(61), want: map[string]string{"one": "0.50", "two": "0.50"}},
			{at: sec(90), want: map[string]string{"one": "0.50", "two": "0.50"}},
			{at: sec(91), want: map[string]string{"one": "null", "two": "null"}},
			{at: sec(95.5), ask: 1, alone: true},
			{at: sec(96), want: map[string]string{"one": "1.00", "two": "0.00"}},
		}},
		{name: "without Run, shares are since start", noRun: true, steps: []shareStep{
			{at: sec(0.5), ask: 2, alone: true},
			{at: sec(100), want: map[string]string{"one": "1.00", "two": "0.00"}},
			{at: sec(200), ask: 2},
			{at: sec(300), want: map[string]string{"one": "0.67", "two": "0.33"}},
		}},
		{name: "a backend added by a reload", steps: []shareStep{
			{at: sec(0.5), ask: 4},
			{at: sec(10.3), services: `[services.www]
backends = [{ name = "one", address = "192.0.2.1" }, { name = "three", address = "192.0.2.3" }]
`},
			// Counted since start, where every counter was zero: three's
			// first answer counts; two is gone.
			{at: sec(10.5), ask: 1},
			{at: sec(11.5), want: map[string]string{"one": "0.83", "three": "0.17"}},
			{at: sec(40.5), ask: 2},
			// A minute after start, three is not in the sample of a minute
			// ago (at 9 s): it counts from its first sample (at 11 s).
			{at: sec(69), want: map[string]string{"one": "0.60", "three": "0.40"}},
			{at: sec(71), want: map[string]string{"one": "0.50", "three": "0.50"}},
			// two comes back, its counter (4, from start) with it: no
			// sample has it yet, so nothing of it counts before its first.
			{at: sec(80.3), services: oneTwo},
			{at: sec(80.5), ask: 1},
			{at: sec(80.8), want: map[string]string{"one": "1.00", "two": "0.00"}},
			{at: sec(85.5), ask: 1},
			{at: sec(86), want: map[string]string{"one": "0.80", "two": "0.20"}},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newShareFixture(t, oneTwo)
			for _, st := range c.steps {
				f.runTo(st.at, !c.noRun)
				switch {
				case st.services != "":
					f.reload(t, st.services)
				case st.ask > 0:
					f.drainTwo(t, st.alone)
					f.ask(st.ask)
				default:
					if got := f.shares(t); !maps.Equal(got, st.want) {
						t.Errorf("at %v: shares %v, want %v", st.at, got, st.want)
					}
				}
			}
			if n := len(f.web.recent.samples); c.noRun && n != 1 {
				t.Errorf("without Run, %d samples, want New's one: reads must not sample", n)
			}
		})
	}
}

// TestAnswerSharesPolled: reading the API every 1.1 s for two minutes
// does not shrink the window: at every read, the shares are those of the
// answers of the last minute, to the second (from the first sample no
// older than 60 s; from start in the first minute), counted here apart.
func TestAnswerSharesPolled(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	type answer struct {
		at    time.Duration
		alone bool
	}
	var answers []answer
	next := sec(0.5) // one answer a second, at the half second
	read := sec(1.1)
	for read <= 2*time.Minute {
		for ; next < read; next += time.Second {
			f.runTo(next, true)
			alone := next < 40*time.Second // two drained for the first 40 s
			f.drainTwo(t, alone)
			f.ask(1)
			answers = append(answers, answer{next, alone})
		}
		f.runTo(read, true)
		from := time.Duration(0)
		if read > answerWindow {
			from = (read - answerWindow + time.Second - 1).Truncate(time.Second)
		}
		one, two := 0, 0
		for _, a := range answers {
			if a.at >= from {
				one++
				if !a.alone {
					two++
				}
			}
		}
		want := map[string]string{"one": fmt.Sprintf("%.2f", float64(one)/float64(one+two)), "two": fmt.Sprintf("%.2f", float64(two)/float64(one+two))}
		if got := f.shares(t); !maps.Equal(got, want) {
			t.Fatalf("read at %v: shares %v, want %v (answers since %v)", read, got, want, from)
		}
		read += sec(1.1)
	}
	if n := len(f.web.recent.samples); n != answerSamples {
		t.Errorf("%d samples kept, want %d", n, answerSamples)
	}
}

// TestRunSamples: Run samples on its ticker of one second, at the tick's
// time, until its context ends; reads take no sample.
func TestRunSamples(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	tick := make(chan time.Time)
	var every time.Duration
	stopped := false
	f.web.ticker = func(d time.Duration) (<-chan time.Time, func()) {
		every = d
		return tick, func() { stopped = true }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.web.Run(ctx); close(done) }()
	f.ask(2)
	tick <- f.t0.Add(time.Second)
	tick <- f.t0.Add(2 * time.Second)
	cancel()
	<-done
	if every != answerEvery || !stopped {
		t.Errorf("Run's ticker: every %v, stopped %v; want %v, stopped", every, stopped, answerEvery)
	}
	var at []time.Duration
	var ones []uint64
	for _, smp := range f.web.recent.samples {
		at = append(at, smp.at.Sub(f.t0))
		n, _ := smp.counts.get(answerKey{"www.example.test.", "default", "one"})
		ones = append(ones, n)
	}
	if want := []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(at, want) {
		t.Errorf("samples at %v, want %v", at, want)
	}
	if want := []uint64{0, 2, 2}; !slices.Equal(ones, want) {
		t.Errorf("one's counts %v, want %v", ones, want)
	}
	f.ask(1) // after the last sample: counted live
	if got, want := f.shares(t), map[string]string{"one": "0.50", "two": "0.50"}; !maps.Equal(got, want) {
		t.Errorf("shares %v, want %v", got, want)
	}
	f.web.status()
	if n := len(f.web.recent.samples); n != 3 {
		t.Errorf("%d samples after reads, want 3", n)
	}
}

// TestAnswerSamplesBounded: at most a minute of samples is kept, each of
// the counters of the snapshot in use: a backend a reload removed leaves
// them as they are replaced.
func TestAnswerSamplesBounded(t *testing.T) {
	f := newShareFixture(t, oneTwo)
	f.ask(1)
	f.runTo(10*time.Second, true)
	f.reload(t, "[services.www]\nbackends = [{ name = \"one\", address = \"192.0.2.1\" }]\n")
	f.runTo(5*time.Minute, true)
	if n := len(f.web.recent.samples); n != answerSamples {
		t.Errorf("%d samples, want %d", n, answerSamples)
	}
	for _, smp := range f.web.recent.samples {
		if len(smp.counts.n) != 1 || len(smp.counts.lay.keys) != 1 {
			t.Fatalf("sample at %v has counters %v, want one's alone", smp.at.Sub(f.t0), smp.counts.lay.keys)
		}
	}
}

// TestAnswerSharesBeforeNew: answers counted before New (by counters that
// started at zero with the process) count, as given at start.
func TestAnswerSharesBeforeNew(t *testing.T) {
	answers := zones.NewAnswerCounts()
	var buf [512]byte
	q := []byte("\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x04test\x00\x00\x01\x00\x01")
	f := newFixture(t, "", oneTwo, func(d *Deps) {
		d.Answers = answers
		d.Handler.Snapshot().BindAnswers(answers)
		if err := d.Admin.Set("www.example.test/two", &health.Override{State: health.AdminDrain}, "test"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			d.Handler.Serve(q, netip.MustParseAddrPort("192.0.2.53:5353"), dnsserver.UDP, buf[:0])
		}
	})
	if err := f.admin.Set("www.example.test/two", nil, "test"); err != nil {
		t.Fatal(err)
	}
	f.h.Serve(q, netip.MustParseAddrPort("192.0.2.53:5353"), dnsserver.UDP, buf[:0])
	sf := &shareFixture{fixture: f, answers: answers}
	if got, want := sf.shares(t), map[string]string{"one": "0.80", "two": "0.20"}; !maps.Equal(got, want) {
		t.Errorf("shares %v, want %v", got, want)
	}
}
