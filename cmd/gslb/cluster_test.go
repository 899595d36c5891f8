package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePorts returns n loopback ports free for both TCP and UDP (as
// memberlist needs), found by binding both and letting go.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		out = append(out, port)
	}
	return out
}

// member is one gslb instance of a test fleet.
type member struct {
	name, config, state string
	s                   *server
}

// testFleet writes the files of n instances sharing one zone (a service
// with one probed backend), each with its own main file, state directory
// and gossip port, all joining the first.
func testFleet(t *testing.T, n int, backendAddr string) []*member {
	t.Helper()
	ports := freePorts(t, n)
	token := "fleet-admin-token-0123456789"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), token+"\n", 0o600)
	zone := fmt.Sprintf(`origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.www]
ttl = 5
backends = [
  { name = "one", address = "192.0.2.1", check = %s },
  { name = "two", address = "192.0.2.2", check = %s },
]
`, checkTOML("http", backendAddr), checkTOML("http", backendAddr))
	writeFile(t, filepath.Join(dir, "zones", "example.test.toml"), zone, 0o644)
	var out []*member
	for i := range n {
		m := &member{name: fmt.Sprintf("ns%d", i+1), state: filepath.Join(dir, fmt.Sprintf("state%d", i+1))}
		m.config = filepath.Join(dir, m.name+".toml")
		if err := os.Mkdir(m.state, 0o700); err != nil {
			t.Fatal(err)
		}
		main := fmt.Sprintf(`zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
[admin]
token_file = "token"
[state]
dir = %q
[cluster]
name = %q
bind = "127.0.0.1:%d"
insecure = true
profile = "local"
join = ["127.0.0.1:%d"]
`, m.state, m.name, ports[i], ports[0])
		writeFile(t, m.config, main, 0o644)
		out = append(out, m)
	}
	return out
}

func (m *member) start(t *testing.T) {
	t.Helper()
	m.s = startGSLB(t, "-config", m.config)
}

// stop stops the instance as a service manager does (SIGTERM) and waits.
func (m *member) stop(t *testing.T) {
	t.Helper()
	m.s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- m.s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not stop:\n%s", m.name, m.s.logText())
	}
}

func (m *member) api(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, m.s.http+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer fleet-admin-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// adminState is a backend's admin state on m ("" for none).
func (m *member) adminState(t *testing.T, backend string) string {
	t.Helper()
	_, b := m.api(t, "GET", "/api/v1/backends/www.example.test/"+backend, "")
	var v struct {
		Admin *struct {
			State string `json:"state"`
		} `json:"admin"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v: %s", m.name, err, b)
	}
	if v.Admin == nil {
		return ""
	}
	return v.Admin.State
}

// waitState polls m every 2 ms (finer than waitFor's 20 ms: the time it
// returns is the figure reported) until backend's admin state is want and
// returns how long that took from since.
func (m *member) waitState(t *testing.T, backend, want string, since time.Time) time.Duration {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for m.adminState(t, backend) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s still not %q after 5 s:\n%s", m.name, backend, want, m.s.logText())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(since)
}

// waitMembers waits until every instance sees n members alive.
func waitMembers(t *testing.T, fleet []*member, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, m := range fleet {
		for {
			_, b := m.api(t, "GET", "/api/v1/cluster", "")
			var st struct {
				Members []struct {
					State string `json:"state"`
				} `json:"members"`
			}
			json.Unmarshal(b, &st)
			alive := 0
			for _, p := range st.Members {
				if p.State == "alive" {
					alive++
				}
			}
			if alive == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d members alive, want %d: %s", m.name, alive, n, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestClusterAdminState: three gslb processes on loopback. A drain set
// through one instance's API is in effect on the two others (measured
// over 20 tries, the writer taking turns), and so is its clear; an
// expiry is honoured by all three; the whole fleet restarted keeps a
// drain.
func TestClusterAdminState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	b := newBackend(t)
	fleet := testFleet(t, 3, b.addr)
	for _, m := range fleet {
		m.start(t)
	}
	waitMembers(t, fleet, 3)

	var took []time.Duration
	for i := range 20 {
		w := fleet[i%3]
		start := time.Now()
		if code, body := w.api(t, "PUT", "/api/v1/backends/www.example.test/one/admin", `{"state":"drain","reason":"try"}`); code != 200 {
			t.Fatalf("PUT on %s: %d %s", w.name, code, body)
		}
		var worst time.Duration
		for _, m := range fleet {
			if m != w {
				worst = max(worst, m.waitState(t, "one", "drain", start))
			}
		}
		took = append(took, worst)
		clear := time.Now()
		if code, body := fleet[(i+1)%3].api(t, "DELETE", "/api/v1/backends/www.example.test/one/admin", ""); code != 200 {
			t.Fatalf("DELETE: %d %s", code, body)
		}
		for _, m := range fleet {
			m.waitState(t, "one", "", clear)
		}
	}
	slices.Sort(took)
	t.Logf("drain in effect on the two other instances after: median %v, max %v (20 tries)", took[10].Round(time.Millisecond), took[19].Round(time.Millisecond))
	fmt.Printf("cluster drain propagation over 20 tries: median %v, max %v\n", took[10].Round(time.Millisecond), took[19].Round(time.Millisecond))
	if took[19] > time.Second {
		t.Errorf("a drain took %v to reach every instance, want at most 1 s", took[19])
	}

	// Expiry: set on one, cleared by every one at the same instant.
	exp := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	if code, body := fleet[0].api(t, "PUT", "/api/v1/backends/www.example.test/two/admin", fmt.Sprintf(`{"state":"down","expires":%q}`, exp.Format(time.RFC3339))); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	for _, m := range fleet {
		m.waitState(t, "two", "down", time.Now())
	}
	var late []time.Duration
	for _, m := range fleet {
		m.waitState(t, "two", "", time.Now())
		late = append(late, time.Since(exp))
	}
	t.Logf("expiry honoured after the expiry by: %v", late)
	fmt.Printf("cluster expiry honoured after the instant by %v on the three instances\n", late)
	for i, d := range late {
		if d < 0 || d > time.Second {
			t.Errorf("%s cleared the override %v after its expiry, want within 1 s", fleet[i].name, d)
		}
	}

	// The whole fleet restarted keeps a drain.
	if code, body := fleet[1].api(t, "PUT", "/api/v1/backends/www.example.test/two/admin", `{"state":"drain","reason":"kept"}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	for _, m := range fleet {
		m.waitState(t, "two", "drain", time.Now())
	}
	for _, m := range fleet {
		m.stop(t)
	}
	for _, m := range fleet {
		m.start(t)
	}
	waitMembers(t, fleet, 3)
	for _, m := range fleet {
		if s := m.adminState(t, "two"); s != "drain" {
			t.Errorf("%s after the restart of the fleet: %q, want the drain", m.name, s)
		}
	}
}
