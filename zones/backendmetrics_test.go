package zones

import (
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gslb/gslb/health"
	"github.com/prometheus/client_golang/prometheus"
)

func TestBackendCollector(t *testing.T) {
	fsys := fstest.MapFS{
		"gslb.toml": {Data: []byte(`zones = ["z.toml"]` + "\n")},
		"z.toml": {Data: []byte(`origin = "example.com."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "192.0.2.1" }
[services.www]
backends = [
  { name = "a", address = "192.0.2.10" },
  { name = "b", address = "192.0.2.11" },
  { name = "c", address = "192.0.2.12", check = { type = "tcp", address = "192.0.2.12:80", start = "down" } },
]
`)},
	}
	snap, err := Load(FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	states := map[health.Spec]*health.State{}
	for _, s := range snap.Specs() {
		states[s] = health.StartState(s)
	}
	admin := health.NewAdmin("", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	snap.Bind(states, admin, nil, nil)
	if err := admin.Set("www.example.com/b", &health.Override{State: health.AdminDrain}, "test"); err != nil {
		t.Fatal(err)
	}
	var cur *Snapshot
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBackendCollector(func() *Snapshot { return cur }))
	if got := gather(t, reg); len(got) != 0 {
		t.Errorf("before a snapshot: %v", got)
	}
	cur = snap
	// c's check starts down (start = "down", and no probe runs here): it is
	// neither healthy nor up. b is healthy but drained.
	want := []string{
		`gslb_backend_effective_weight{backend="a",service="www.example.com"} 1`,
		`gslb_backend_effective_weight{backend="b",service="www.example.com"} 1`,
		`gslb_backend_effective_weight{backend="c",service="www.example.com"} 1`,
		`gslb_backend_healthy{backend="a",service="www.example.com"} 1`,
		`gslb_backend_healthy{backend="b",service="www.example.com"} 1`,
		`gslb_backend_healthy{backend="c",service="www.example.com"} 0`,
		`gslb_backend_pending{backend="a",service="www.example.com"} 0`,
		`gslb_backend_pending{backend="b",service="www.example.com"} 0`,
		`gslb_backend_pending{backend="c",service="www.example.com"} 0`,
		`gslb_backend_up{backend="a",service="www.example.com"} 1`,
		`gslb_backend_up{backend="b",service="www.example.com"} 0`,
		`gslb_backend_up{backend="c",service="www.example.com"} 0`,
	}
	if got := gather(t, reg); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// gather returns every series of reg as `name{labels} value`, sorted.
func gather(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fams {
		for _, m := range f.Metric {
			var labels []string
			for _, lp := range m.Label {
				labels = append(labels, lp.GetName()+"=\""+lp.GetValue()+"\"")
			}
			out = append(out, f.GetName()+"{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(m.Gauge.GetValue(), 'g', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}
