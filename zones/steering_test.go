package zones

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones/steer"
	"github.com/prometheus/client_golang/prometheus"
)

const steeringZone = `origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.api]
ttl = 10
members = "least_load"
backends = [
  { name = "a", address = "192.0.2.1" },
  { name = "b", address = "192.0.2.2" },
  { name = "c", address = "192.0.2.3" },
]
[services.web]
ttl = 10
members = "weighted"
slow_start = { window = "100s", min_weight_percent = 10, aggression = 2 }
backends = [
  { name = "a", address = "192.0.2.11", weight = 2 },
  { name = "b", address = "192.0.2.12" },
]
`

// steeringFixture binds a zone to up health states, an admin store and a
// Steering whose signals the test sets.
type steeringFixture struct {
	snap  *Snapshot
	admin *health.Admin
	st    *Steering
	sig   map[string]steer.Signals
}

func newSteeringFixture(t *testing.T, zone string) *steeringFixture {
	t.Helper()
	s, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(zone)}}), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	f := &steeringFixture{snap: s, st: NewSteering(), sig: map[string]steer.Signals{}}
	f.st.MarkRunning() // every backend comes into service at its first step
	f.st.Signals = func(b *Backend, now time.Time) steer.Signals { return f.sig[b.ID] }
	states := map[health.Spec]*health.State{}
	for _, sp := range s.Specs() {
		states[sp] = health.StartState(sp)
	}
	f.admin = health.NewAdmin("", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Bind(states, f.admin, f.st, nil)
	return f
}

func (f *steeringFixture) backend(t *testing.T, id string) *Backend {
	t.Helper()
	for _, svc := range f.snap.Services() {
		for _, b := range svc.Backends {
			if b.ID == id {
				return b
			}
		}
	}
	t.Fatalf("no backend %s", id)
	return nil
}

// TestSteeringLeastLoad: with a, b and c reporting loads that follow
// their shares over capacities 2:2:1, least_load moves the effective
// weights to 40/40/20 %.
func TestSteeringLeastLoad(t *testing.T) {
	f := newSteeringFixture(t, steeringZone)
	svc := f.backend(t, "api.example.com/a")
	caps := map[string]float64{"api.example.com/a": 2, "api.example.com/b": 2, "api.example.com/c": 1}
	now := time.Unix(1_000_000, 0)
	ids := []string{"api.example.com/a", "api.example.com/b", "api.example.com/c"}
	for range 120 {
		total := 0.0
		for _, id := range ids {
			total += f.backend(t, id).EffectiveWeight()
		}
		for _, id := range ids {
			share := f.backend(t, id).EffectiveWeight() / total
			f.sig[id] = steer.Signals{Load: 0.9 * 5 * share / caps[id], HasLoad: true}
		}
		f.st.Step(f.snap, now, time.Second)
		now = now.Add(time.Second)
	}
	total := 0.0
	for _, id := range ids {
		total += f.backend(t, id).EffectiveWeight()
	}
	want := map[string]float64{"api.example.com/a": 0.4, "api.example.com/b": 0.4, "api.example.com/c": 0.2}
	for _, id := range ids {
		got := f.backend(t, id).EffectiveWeight() / total
		if math.Abs(got-want[id]) > 0.01 {
			t.Errorf("%s: share %.3f, want %.2f", id, got, want[id])
		}
	}
	fa, ok := svc.Factors()
	if !ok || fa.Law != steer.LeastLoad || !fa.Signals.HasLoad || fa.Ramp != 1 || fa.At.IsZero() {
		t.Errorf("factors of a: %+v %v", fa, ok)
	}
}

// TestSteeringNoRampAtStart: the backends of the configuration the
// process starts with are not ramped at their first step (they were in
// service before it started); one a reload adds is.
func TestSteeringNoRampAtStart(t *testing.T) {
	load := func(zone string) *Snapshot {
		s, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(zone)}}), "gslb.toml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	bind := func(s *Snapshot, st *Steering) {
		states := map[health.Spec]*health.State{}
		for _, sp := range s.Specs() {
			states[sp] = health.StartState(sp)
		}
		s.Bind(states, nil, st, nil)
	}
	st := NewSteering()
	first := load(steeringZone)
	bind(first, st)
	now := time.Unix(1_000_000, 0)
	st.Step(first, now, time.Second)
	var a *Backend
	for _, svc := range first.Services() {
		for _, b := range svc.Backends {
			if b.ID == "web.example.com/a" {
				a = b
			}
		}
	}
	if a.EffectiveWeight() != 2 {
		t.Fatalf("a backend present at start: weight %v at its first step, want 2 (no ramp)", a.EffectiveWeight())
	}
	next := load(strings.Replace(steeringZone, `{ name = "b", address = "192.0.2.12" },`, `{ name = "b", address = "192.0.2.12" },
  { name = "n", address = "192.0.2.13" },`, 1))
	bind(next, st)
	// Before its first step too: not its full weight for a second.
	for _, svc := range next.Services() {
		for _, b := range svc.Backends {
			if b.ID == "web.example.com/n" && b.EffectiveWeight() != 0.1 {
				t.Errorf("a backend a reload added: weight %v before its first step, want 0.1 (the ramp's start)", b.EffectiveWeight())
			}
		}
	}
	st.Step(next, now.Add(time.Second), time.Second)
	for _, svc := range next.Services() {
		for _, b := range svc.Backends {
			if b.ID == "web.example.com/n" && b.EffectiveWeight() != 0.1 {
				t.Errorf("a backend a reload added: weight %v at its first step, want 0.1 (ramping)", b.EffectiveWeight())
			}
			if b.ID == "web.example.com/a" && b.EffectiveWeight() != 2 {
				t.Errorf("a: weight %v after the reload, want 2", b.EffectiveWeight())
			}
		}
	}
}

// TestSteeringSlowStart: a backend that comes back into service ramps as
// weight × max(10 %, (t/100 s)^(1/2)), exactly, at every step; the other
// keeps its weight.
func TestSteeringSlowStart(t *testing.T) {
	f := newSteeringFixture(t, steeringZone)
	a, b := f.backend(t, "web.example.com/a"), f.backend(t, "web.example.com/b")
	now := time.Unix(1_000_000, 0)
	f.st.Step(f.snap, now, time.Second)
	// At the first step every backend came into service: all ramp alike.
	if a.EffectiveWeight() != 2*0.1 || b.EffectiveWeight() != 0.1 {
		t.Fatalf("first step: %v %v", a.EffectiveWeight(), b.EffectiveWeight())
	}
	now = now.Add(200 * time.Second)
	f.st.Step(f.snap, now, time.Second)
	if a.EffectiveWeight() != 2 || b.EffectiveWeight() != 1 {
		t.Fatalf("after the window: %v %v", a.EffectiveWeight(), b.EffectiveWeight())
	}
	if err := f.admin.Set(a.ID, &health.Override{State: health.AdminDrain}, "test"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	f.st.Step(f.snap, now, time.Second)
	f.admin.Set(a.ID, nil, "test")
	back := now.Add(time.Second)
	ss := steer.SlowStart{Window: 100 * time.Second, MinWeightPercent: 10, Aggression: 2}
	for s := 0; s <= 110; s++ {
		now = back.Add(time.Duration(s) * time.Second)
		f.st.Step(f.snap, now, time.Second)
		want := 2 * ss.Factor(time.Duration(s)*time.Second)
		if got := a.EffectiveWeight(); math.Abs(got-want) > 1e-12 {
			t.Fatalf("%d s after its return: weight %v, want %v", s, got, want)
		}
		if b.EffectiveWeight() != 1 {
			t.Fatalf("the other backend's weight moved: %v", b.EffectiveWeight())
		}
	}
}

func TestSteeringConfigErrors(t *testing.T) {
	base := `origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.api]
`
	one := "backends = [{ address = \"192.0.2.1\" }]\n"
	cases := []struct{ name, zone, want string }{
		{"steering without a law", "members = \"weighted\"\nsteering = { floor = 0.1 }\n" + one, `services.api.steering: members = "weighted" has no control law`},
		{"watermarks crossed", "members = \"shed\"\nsteering = { low = 0.9, high = 0.5 }\n" + one, `watermarks low 0.9, high 0.5`},
		{"floor out of range", "members = \"least_load\"\nsteering = { floor = 2 }\n" + one, `floor`},
		{"bad tolerance", "members = \"fastest\"\nsteering = { rtt_tolerance = \"fast\" }\n" + one, `rtt_tolerance: "fast"`},
		{"slow start on all", "members = \"all\"\nslow_start = { window = \"10s\" }\n" + one, `no weights to ramp`},
		{"aggression", "members = \"weighted\"\nslow_start = { aggression = 0 }\n" + one, `aggression`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(base + c.zone)}}), "gslb.toml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
	// adaptive picks its law from the checks.
	s, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(base + "members = \"adaptive\"\nsteering = { rtt_tolerance = \"25%\" }\n" + one)}}), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.Services()[0].Law; p.Law != steer.Fastest || p.ToleranceRatio != 0.25 {
		t.Errorf("adaptive without load: %+v", p)
	}
}

// TestSteeringMetrics: a steered backend exports its factors; a missing
// load shows as stale.
func TestSteeringMetrics(t *testing.T) {
	f := newSteeringFixture(t, steeringZone)
	f.sig["api.example.com/a"] = steer.Signals{Load: 0.5, HasLoad: true, Latency: 3 * time.Millisecond, HasLatency: true}
	f.st.Step(f.snap, time.Unix(1_000_000, 0), time.Second)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBackendCollector(func() *Snapshot { return f.snap }))
	got := strings.Join(gather(t, reg), "\n")
	for _, want := range []string{
		`gslb_steering_signal{backend="a",service="api.example.com",signal="load"} 0.5`,
		`gslb_steering_signal{backend="a",service="api.example.com",signal="latency"} 0.003`,
		`gslb_steering_signal_stale{backend="a",service="api.example.com",signal="load"} 0`,
		`gslb_steering_signal_stale{backend="b",service="api.example.com",signal="load"} 1`,
		`gslb_steering_share{backend="a",law="least_load",service="api.example.com"} 0.3333333333333333`,
		`gslb_steering_target{backend="a",law="least_load",service="api.example.com"}`,
		`gslb_backend_slow_start_ramp{backend="a",service="web.example.com"} 0.1`,
		`gslb_backend_effective_weight{backend="a",service="web.example.com"} 0.2`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
	if strings.Contains(got, `gslb_steering_signal{backend="b",service="api.example.com",signal="load"}`) {
		t.Error("a missing signal is exported")
	}
}

// TestMetricsSignals: a backend's load and latency come from its own
// Prometheus metrics, scraped for real: the utilisation gauge as it is,
// or connections over capacity; the latency as a histogram quantile.
func TestMetricsSignals(t *testing.T) {
	var step atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := step.Add(1)
		fmt.Fprintf(w, "# TYPE app_utilization gauge\napp_utilization 0.42\n# TYPE app_active_requests gauge\napp_active_requests 7\n")
		fmt.Fprintf(w, "# TYPE app_request_duration_seconds histogram\n")
		// Every scrape adds 10 observations at or below 0.1 s and 10 at
		// or below 0.2 s.
		fmt.Fprintf(w, "app_request_duration_seconds_bucket{le=\"0.1\"} %d\napp_request_duration_seconds_bucket{le=\"0.2\"} %d\napp_request_duration_seconds_bucket{le=\"+Inf\"} %d\napp_request_duration_seconds_sum 0\napp_request_duration_seconds_count %d\n", 10*n, 20*n, 20*n, 20*n)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	zone := fmt.Sprintf(`origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.api]
members = "adaptive"
metrics = { address = %q, interval = "100ms", utilization = "app_utilization", latency = "app_request_duration_seconds", quantile = 0.5 }
backends = [
  { name = "a", address = "192.0.2.1" },
  { name = "b", address = "192.0.2.2", metrics = { utilization = "", connections = "app_active_requests", capacity = 10 } },
]
`, addr)
	s, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(zone)}}), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	if law := s.Services()[0].Law.Law; law != steer.LeastLoad {
		t.Errorf("adaptive with metrics that give a load: law %q, want least_load", law)
	}
	sc := health.NewScraper(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, 4)
	defer sc.Stop()
	if n := len(s.ScrapeSpecs()); n != 2 {
		t.Fatalf("%d scrape specs, want 2 (the backends' series differ)", n)
	}
	s.BindScrapes(sc.Sync(s.ScrapeSpecs()))
	a, b := s.Services()[0].Backends[0], s.Services()[0].Backends[1]
	deadline := time.Now().Add(5 * time.Second)
	var sa, sb steer.Signals
	for time.Now().Before(deadline) {
		sa, sb = ProbeSignals(a, time.Now()), ProbeSignals(b, time.Now())
		if sa.HasLoad && sb.HasLoad && sa.HasLatency {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sa.HasLoad || sa.Load != 0.42 {
		t.Errorf("a: load %v %v, want the utilisation 0.42", sa.Load, sa.HasLoad)
	}
	if !sb.HasLoad || math.Abs(sb.Load-0.7) > 1e-12 {
		t.Errorf("b: load %v %v, want 7 connections / capacity 10", sb.Load, sb.HasLoad)
	}
	if !sa.HasLatency || sa.Latency != 100*time.Millisecond {
		t.Errorf("a: latency %v %v, want the median 100ms", sa.Latency, sa.HasLatency)
	}
	// Stale: three intervals after the last scrape, nothing.
	sc.Stop()
	if st := ProbeSignals(a, time.Now().Add(time.Second)); st.HasLoad || st.HasLatency {
		t.Errorf("a second after the scrapes stopped: %+v, want no signal (stale)", st)
	}
}

func TestMetricsConfigErrors(t *testing.T) {
	base := `origin = "example.com."
ns = ["ns.example.net."]
[soa]
rname = "hostmaster"
[services.api]
members = "least_load"
backends = [{ address = "192.0.2.1" }]
`
	cases := []struct{ name, metrics, want string }{
		{"no port", `metrics = { utilization = "u" }`, "metrics need a port"},
		{"bad selector", `metrics = { port = 9464, utilization = "u{a=b}" }`, "services.api.metrics.utilization"},
		{"no capacity", `metrics = { port = 9464, connections = "c" }`, "capacity"},
		{"nothing to read", `metrics = { port = 9464 }`, "at least one of utilization"},
		{"bad scheme", `metrics = { port = 9464, scheme = "ftp", utilization = "u" }`, `scheme "ftp"`},
		{"quantile", `metrics = { port = 9464, latency = "l", quantile = 1.5 }`, "quantile"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(FSFiles(fstest.MapFS{"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")}, "z.toml": {Data: []byte(strings.Replace(base, "backends", c.metrics+"\nbackends", 1))}}), "gslb.toml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
}

// TestLiveSignalsReports: a pushed report's load stands in for the
// backend's until it expires; then the signal is missing (neutral).
func TestLiveSignalsReports(t *testing.T) {
	f := newSteeringFixture(t, steeringZone)
	b := f.backend(t, "api.example.com/a")
	reports := health.NewReports(10)
	now := time.Unix(1_000_000, 0)
	if err := reports.Set(b.ID, health.Report{Utilization: math.NaN(), Connections: 30, RequestRate: math.NaN(), Capacity: 40, At: now, Expires: now.Add(30 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	src := LiveSignals(reports)
	if s := src(b, now.Add(10*time.Second)); !s.HasLoad || s.Load != 0.75 {
		t.Errorf("with a report of 30 connections of 40: %+v", s)
	}
	if s := src(b, now.Add(31*time.Second)); s.HasLoad {
		t.Errorf("after the report expired: %+v, want no load", s)
	}
}

// TestSteeringFollowsFleet: a member that follows its fleet's coordinator
// answers with the coordinator's weights (at once through Follow, and at
// its steps), publishes none of its own, and when the coordinator goes
// it carries on from the adopted shares: its first own step moves no
// share by more than the law's MaxChange.
func TestSteeringFollowsFleet(t *testing.T) {
	lead := newSteeringFixture(t, steeringZone)
	follow := newSteeringFixture(t, steeringZone)
	ids := []string{"api.example.com/a", "api.example.com/b", "api.example.com/c"}
	var shared map[string]FleetWeight
	follow.st.Fleet = func(id string) (FleetWeight, bool) {
		w, ok := shared[id]
		return w, ok
	}
	now := time.Unix(1_000_000, 0)
	for i := range 30 {
		for j, id := range ids {
			// The leader sees c loaded; the follower sees nothing.
			lead.sig[id] = steer.Signals{Load: 0.3 + 0.3*float64(j), HasLoad: true}
		}
		lead.st.Step(lead.snap, now, time.Second)
		shared = map[string]FleetWeight{}
		for _, w := range lead.st.Weights() {
			w.From, w.At = "ns1", now
			shared[w.ID] = w
		}
		if i == 29 {
			follow.st.Follow() // as a frame arrives, before the follower's step
			for _, id := range ids {
				if got, want := follow.backend(t, id).EffectiveWeight(), lead.backend(t, id).EffectiveWeight(); got != want {
					t.Errorf("after Follow, %s: weight %v, the coordinator's %v", id, got, want)
				}
			}
		}
		follow.st.Step(follow.snap, now, time.Second)
		now = now.Add(time.Second)
	}
	if got := len(lead.st.Weights()); got != 5 {
		t.Errorf("the coordinator publishes %d weights, want 5 (3 least_load, 2 slow start)", got)
	}
	if got := follow.st.Weights(); len(got) != 0 {
		t.Errorf("a follower publishes %v", got)
	}
	before := map[string]float64{}
	for _, id := range ids {
		lb, fb := lead.backend(t, id), follow.backend(t, id)
		if lb.EffectiveWeight() != fb.EffectiveWeight() {
			t.Errorf("%s: weight %v, the coordinator's %v", id, fb.EffectiveWeight(), lb.EffectiveWeight())
		}
		f, ok := fb.Factors()
		if !ok || f.Fleet != "ns1" || !f.FleetAt.Equal(now.Add(-time.Second)) {
			t.Errorf("%s: factors %+v", id, f)
		}
		before[id] = f.Smoothed.Share
	}
	if lead.backend(t, "api.example.com/c").EffectiveWeight() >= lead.backend(t, "api.example.com/a").EffectiveWeight() {
		t.Fatal("the coordinator's law did not move c below a")
	}
	// The coordinator goes: the follower steers from the adopted shares.
	shared = nil
	follow.st.Step(follow.snap, now, time.Second)
	maxChange := follow.snap.Services()[0].Law.MaxChange
	for _, svc := range follow.snap.Services() {
		if svc.Law.Law != "" {
			maxChange = svc.Law.MaxChange
		}
	}
	for _, id := range ids {
		f, _ := follow.backend(t, id).Factors()
		if f.Fleet != "" {
			t.Errorf("%s still follows the fleet: %+v", id, f)
		}
		if d := math.Abs(f.Smoothed.Share - before[id]); d > maxChange+1e-9 {
			t.Errorf("%s: share %.4f after %.4f, a jump of %.4f (max change %.4f)", id, f.Smoothed.Share, before[id], d, maxChange)
		}
	}
}
