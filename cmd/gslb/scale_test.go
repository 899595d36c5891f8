package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestScaleWebhooks: a pool whose load rises gets a scale_out webhook,
// signed; a registered backend joins it; when the load falls the pool
// gets scale_in after the stabilisation window, never two events within
// the cooldown.
func TestScaleWebhooks(t *testing.T) {
	const secret = "scale-webhook-secret-0123456789"
	type got struct {
		ev  webhookEvent
		at  time.Time
		sig bool
	}
	var mu sync.Mutex
	var events []got
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev webhookEvent
		json.Unmarshal(b, &ev)
		mu.Lock()
		events = append(events, got{ev, time.Now(), r.Header.Get("X-Gslb-Signature") == sign([]byte(secret), b) && r.Header.Get("X-Gslb-Delivery") == ev.ID})
		mu.Unlock()
	}))
	defer recv.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), regAdmin+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "registration.tokens"), "api.example.test "+regToken+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "webhook.secret"), secret+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "zones", "example.test.toml"), fmt.Sprintf(`origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.api]
ttl = 5
members = "weighted"
registration = true
scale = { low = 0.5, high = 0.75, min = 1, max = 4, cooldown = "2s", stabilization = "3s", warmup = "100ms", webhooks = [%q] }
backends = [{ name = "static", address = "192.0.2.1" }]
`, recv.URL+"/scale"), 0o644)
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	l := &regLab{dir: dir, config: filepath.Join(dir, "gslb.toml")}
	writeFile(t, l.config, `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
[admin]
token_file = "token"
registration_tokens_file = "registration.tokens"
[webhooks]
secret_file = "webhook.secret"
[state]
dir = "state"
`, 0o644)
	l.s = startGSLB(t, "-config", l.config)
	report := func(backend string, u float64) {
		if code, body := l.do(t, "POST", "/api/v1/backends/api.example.test/"+backend+"/report", regAdmin, fmt.Sprintf(`{"utilization": %g, "ttl": "60s"}`, u)); code/100 != 2 {
			t.Fatalf("report: %d %s", code, body)
		}
	}
	wait := func(n int) got {
		t.Helper()
		waitFor(t, fmt.Sprintf("%d webhooks", n), 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(events) >= n })
		mu.Lock()
		defer mu.Unlock()
		return events[n-1]
	}
	start := time.Now()
	report("static", 0.9)
	e := wait(1)
	if e.ev.Type != "scale_out" || e.ev.From != 1 || e.ev.To != 2 || !e.sig || e.ev.Utilization == nil || *e.ev.Utilization != 0.9 {
		t.Fatalf("first webhook: %+v", e)
	}
	fmt.Printf("scale: load 0.9 on one backend (band 0.5-0.75): scale_out 1 -> 2 webhook %v after the report\n", e.at.Sub(start).Round(time.Millisecond))
	// The autoscaler starts web-1, which registers and reports its load.
	for range 2 {
		if code, body := l.do(t, "PUT", "/api/v1/backends/api.example.test/web-1", regToken, `{"address": "127.0.0.41", "lease_ttl": "30s"}`); code/100 != 2 {
			t.Fatalf("register: %d %s", code, body)
		}
	}
	waitFor(t, "web-1 answered", 3*time.Second, func() bool { return strings.Contains(l.answers(t, "api.example.test."), "127.0.0.41") })
	report("web-1", 0.6)
	report("static", 0.6)
	// In the band: nothing for a while.
	time.Sleep(3 * time.Second)
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 1 {
		t.Errorf("%d webhooks in the band, want none after the first", n-1)
	}
	// The load falls: scale_in after the stabilisation window.
	fell := time.Now()
	report("web-1", 0.1)
	report("static", 0.1)
	e = wait(2)
	if e.ev.Type != "scale_in" || e.ev.From != 2 || e.ev.To != 1 || !e.sig {
		t.Fatalf("second webhook: %+v", e)
	}
	if d := e.at.Sub(fell); d < 3*time.Second {
		t.Errorf("scale_in %v after the load fell, before the 3 s stabilisation window", d)
	}
	fmt.Printf("scale: load 0.1 on both: scale_in 2 -> 1 webhook %v after the load fell (stabilisation 3 s)\n", e.at.Sub(fell).Round(time.Millisecond))
	_, metrics := l.do(t, "GET", "/metrics", "", "")
	for _, want := range []string{
		`gslb_pool_desired_backends{pool="default",service="api.example.test"} 1`,
		`gslb_pool_backends{pool="default",service="api.example.test"} 2`,
		`gslb_scale_events_total{action="scale_out",pool="default",service="api.example.test"} 1`,
		`gslb_scale_events_total{action="scale_in",pool="default",service="api.example.test"} 1`,
		`gslb_pool_scale_recommendation{pool="default",recommendation="scale_in",service="api.example.test"} 1`,
		`gslb_webhook_deliveries_total{result="delivered"} 2`,
		`gslb_registered_backends{service="api.example.test"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
