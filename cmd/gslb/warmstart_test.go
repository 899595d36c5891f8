package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWarmStart: steering saved by one process (here written as a
// previous one left it: both backends in service for an hour) is
// restored by the next, so the backends are not slow-started again; a
// cold start ramps them. At SIGTERM the server saves it (issue 14).
func TestWarmStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), `origin = "ex.test."
ns = ["ns1"]
[soa]
rname = "h"
[records]
ns1 = { A = "127.0.0.1" }
[services.www]
members = "weighted"
ttl = 30
backends = [{ name = "a", address = "192.0.2.1" }, { name = "b", address = "192.0.2.2" }]
`, 0o644)
	conf := filepath.Join(dir, "gslb.toml")
	writeFile(t, conf, "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n[state]\ndir = \"state\"\n", 0o644)
	os.MkdirAll(filepath.Join(dir, "state"), 0o700)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	ramp := func(s *server, name string) float64 {
		var b struct {
			Steering *struct {
				Ramp float64 `json:"ramp"`
			} `json:"steering"`
		}
		var r float64 = -1
		waitFor(t, "a steering step", 5*time.Second, func() bool {
			resp, err := hc.Get(s.http + "/api/v1/backends/www.ex.test/" + name)
			if err != nil {
				return false
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if json.Unmarshal(body, &b) != nil || b.Steering == nil {
				return false
			}
			r = b.Steering.Ramp
			return true
		})
		return r
	}
	// Cold: the backends ramp.
	s := startGSLB(t, "-config", conf)
	// A process start is not a backend coming into service: no ramp.
	if r := ramp(s, "a"); r != 1 {
		t.Errorf("cold start: ramp %v, want 1 (no slow start at process start)", r)
	}
	// Stopping saves the steering.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	b, err := os.ReadFile(filepath.Join(dir, "state", "steering.json"))
	if err != nil || !strings.Contains(string(b), `"www.ex.test/a"`) {
		t.Fatalf("steering.json after SIGTERM: %v %s", err, b)
	}
	// As a process would have left it in which a had come into service
	// 10 s before it stopped, b an hour before.
	hour := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	recent := time.Now().Add(-10 * time.Second).UTC().Format(time.RFC3339)
	writeFile(t, filepath.Join(dir, "state", "steering.json"), fmt.Sprintf(`{"saved_at": %q, "backends": {
  "www.ex.test/a": {"since": %q, "multiplier": 0.2, "law": {"Share": 0.5}},
  "www.ex.test/b": {"since": %q, "multiplier": 1, "law": {"Share": 0.5}}}}`, time.Now().Add(-5*time.Second).UTC().Format(time.RFC3339), recent, hour), 0o600)
	s = startGSLB(t, "-config", conf)
	if r := ramp(s, "a"); r >= 1 {
		t.Errorf("warm start: a's ramp %v, want it to go on ramping (< 1)", r)
	}
	if r := ramp(s, "b"); r != 1 {
		t.Errorf("warm start: b's ramp %v, want 1 (in service for an hour)", r)
	}
	if !strings.Contains(s.logText(), "warm start: steering restored") || !strings.Contains(s.logText(), "backends=2") {
		t.Errorf("no warm start line in the log:\n%s", s.logText())
	}
	// Saved too long ago (an outage, not a restart): cold.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
	writeFile(t, filepath.Join(dir, "state", "steering.json"), fmt.Sprintf(`{"saved_at": %q, "backends": {
  "www.ex.test/a": {"since": %q, "multiplier": 0.2, "law": {"Share": 0.5}}}}`, time.Now().Add(-20*time.Minute).UTC().Format(time.RFC3339), recent), 0o600)
	s = startGSLB(t, "-config", conf)
	if r := ramp(s, "a"); r != 1 {
		t.Errorf("stale warm start used: ramp %v, want 1 (a cold start)", r)
	}
	if !strings.Contains(s.logText(), "warm start: not used") {
		t.Errorf("no 'not used' line:\n%s", s.logText())
	}
}
