package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeFamilies reads /metrics as Prometheus parses it.
func scrapeFamilies(t *testing.T, ta *testApp) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(ta.api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value returns the value of the series of a family with the labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		for k, v := range labels {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func TestMetricsAfterQueries(t *testing.T) {
	b1 := newBackend(t)
	conf := healthConfig(t, fmt.Sprintf(`[services.www]
members = "weighted"
backends = [
  { name = "one", address = "192.0.2.1", weight = 1, check = %s },
  { name = "two", address = "192.0.2.2", weight = 0, check = %s },
]
`, checkTOML("http", b1.addr), checkTOML("http", b1.addr)), "")
	ta := startApp(t, conf, "")
	waitFor(t, "the first probes", 3*time.Second, func() bool { return ta.notReady() == "" })
	before := scrapeFamilies(t, ta)
	q := func(name string, qtype uint16, n int, tcp bool) {
		for range n {
			m := new(dns.Msg)
			m.SetQuestion(name, qtype)
			c := &dns.Client{Timeout: 2 * time.Second}
			if tcp {
				c.Net = "tcp"
			}
			if _, _, err := c.Exchange(m, ta.dns); err != nil {
				t.Fatal(err)
			}
		}
	}
	q("www.example.test.", dns.TypeA, 10, false)
	q("www.example.test.", dns.TypeA, 4, true)
	q("nope.example.test.", dns.TypeAAAA, 3, false)
	q("example.org.", dns.TypeA, 2, false)
	// A runt: dropped and counted.
	c, _ := net.Dial("udp", ta.dns)
	c.Write([]byte{1, 2, 3})
	c.Close()
	waitFor(t, "the dropped packet to be counted", 2*time.Second, func() bool {
		return value(scrapeFamilies(t, ta), "gslb_dns_dropped_total", nil) == value(before, "gslb_dns_dropped_total", nil)+1
	})
	after := scrapeFamilies(t, ta)
	delta := func(name string, labels map[string]string) float64 {
		return value(after, name, labels) - value(before, name, labels)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gslb_dns_queries_total", map[string]string{"zone": "example.test.", "qtype": "A", "transport": "udp", "rcode": "NOERROR"}, 10},
		{"gslb_dns_queries_total", map[string]string{"zone": "example.test.", "qtype": "A", "transport": "tcp", "rcode": "NOERROR"}, 4},
		{"gslb_dns_queries_total", map[string]string{"zone": "example.test.", "qtype": "AAAA", "transport": "udp", "rcode": "NXDOMAIN"}, 3},
		{"gslb_dns_queries_total", map[string]string{"zone": "none", "qtype": "A", "transport": "udp", "rcode": "REFUSED"}, 2},
		{"gslb_dns_request_duration_seconds", map[string]string{"transport": "udp"}, 15},
		{"gslb_dns_request_duration_seconds", map[string]string{"transport": "tcp"}, 4},
		// Weight 0 is a standby: every answer goes to "one".
		{"gslb_answers_total", map[string]string{"service": "www.example.test", "pool": "default", "backend": "one"}, 14},
		{"gslb_answers_total", map[string]string{"service": "www.example.test", "pool": "default", "backend": "two"}, 0},
		{"gslb_dns_dropped_total", nil, 1},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"gslb_build_info", "gslb_config_info", "gslb_config_reloads_total", "gslb_config_last_reload_success_timestamp_seconds",
		"gslb_backend_up", "gslb_health_probe_duration_seconds", "go_goroutines", "process_resident_memory_bytes"} {
		if after[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
}

func TestReadyz(t *testing.T) {
	// A backend that accepts and never answers: its first probe result
	// comes only after the timeout, so /readyz starts at 503.
	addr := hangingListener(t)
	conf := healthConfig(t, fmt.Sprintf("[services.www]\nbackends = [{ address = \"192.0.2.1\", check = { type = \"http\", address = %q, interval = \"2s\", timeout = \"1s\" } }]\n", addr), "")
	ta := startAppWatching(t, conf, "", true)
	get := func() (int, string) {
		resp, err := http.Get(ta.api.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "first health check") {
		t.Errorf("before the first probe round: %d %q, want 503 with the reason", code, body)
	}
	waitFor(t, "/readyz to turn 200", 5*time.Second, func() bool { code, _ := get(); return code == http.StatusOK })
	if code, _ := get(); code != http.StatusOK {
		t.Errorf("after: %d", code)
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

// TestDeployMetricNames checks that every gslb metric the Grafana
// dashboard and the alert rules in deploy/ query is one the server
// exports, so that a rename cannot leave them silently empty.
func TestDeployMetricNames(t *testing.T) {
	b := newBackend(t)
	conf := healthConfig(t, fmt.Sprintf("[services.www]\nwhen_all_down = \"nodata\"\nmembers = \"least_load\"\nregistration = true\nscale = { min = 1, max = 3 }\nbackends = [{ name = \"one\", address = \"192.0.2.1\", check = %s }]\n", checkTOML("http", b.addr)),
		fmt.Sprintf("[geo]\ndatabase = %q\n[cluster]\ninsecure = true\nbind = \"127.0.0.1:0\"\n", mustAbs(t, "../../testdata/geoip/GeoIP2-City-Test.mmdb")))
	ta := startApp(t, conf, "")
	waitFor(t, "a probe", 2*time.Second, func() bool { return ta.notReady() == "" })
	// The steering series exist once the law has stepped (once a second).
	waitFor(t, "a steering step", 3*time.Second, func() bool {
		_, ok := ta.h.Snapshot().Services()[0].Backends[0].Factors()
		return ok
	})
	// Exercise what creates series lazily.
	query(t, ta.dns, "www.example.test.", dns.TypeA)
	msg := "x"
	ta.lastReloadErr.Store(&msg)
	exported := map[string]bool{}
	for name, f := range scrapeFamilies(t, ta) {
		exported[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		}
	}
	// Series that exist only once something happens.
	// And one that startHTTP's capped listener exports, which the test
	// app's httptest server has not (TestHTTPConnectionCaps scrapes it).
	// And the per-member series of the cluster, which need another member
	// (cluster's own tests have them).
	for _, lazy := range []string{"gslb_health_reported_load_ratio", "gslb_health_transitions_total", "gslb_http_connections_refused_total",
		"gslb_cluster_clock_skew_seconds", "gslb_cluster_config_differs",
		// A pool's utilisation, which needs a load signal.
		"gslb_pool_utilization"} {
		exported[lazy] = true
	}
	names := regexp.MustCompile(`gslb_[a-z0-9_]+`)
	for _, file := range []string{"../../deploy/grafana-dashboard.json", "../../deploy/gslb-alerts.yml"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(file, ".json") {
			var v any
			if err := json.Unmarshal(src, &v); err != nil {
				t.Fatalf("%s is not JSON: %v", file, err)
			}
		}
		for _, n := range names.FindAllString(string(src), -1) {
			if n == "gslb_" || strings.HasPrefix(n, "gslb_overview") {
				continue
			}
			if !exported[n] {
				t.Errorf("%s uses %s, which the server does not export", file, n)
			}
		}
	}
}
