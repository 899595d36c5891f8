package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/audit"
)

const (
	regToken   = "api-registration-token-0123456789"
	otherToken = "other-registration-token-0123456789"
	regAdmin   = "registration-test-admin-token-0123"
)

// regLab is a gslb with two services that take registrations (api, with
// an http check every 200 ms; lease, without a check) and one that does
// not, and its registration tokens.
type regLab struct {
	dir, config string
	s           *server
}

func newRegLab(t *testing.T) *regLab {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), regAdmin+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "registration.tokens"), "# service token\napi.example.test "+regToken+"\nlease.example.test. "+otherToken+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "zones", "example.test.toml"), fmt.Sprintf(`origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.api]
ttl = 5
registration = true
max_registered = 3
check = { type = "http", port = 9, interval = %q, timeout = %q, rise = 1, fall = 1 }
backends = [{ name = "static", address = "192.0.2.1", check = { type = "none" } }]
[services.lease]
ttl = 5
registration = true
backends = [{ name = "static", address = "192.0.2.2" }]
[services.closed]
backends = [{ name = "static", address = "192.0.2.3" }]
`, interval, timeout), 0o644)
	l := &regLab{dir: dir, config: filepath.Join(dir, "gslb.toml")}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, l.config, `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
[admin]
token_file = "token"
registration_tokens_file = "registration.tokens"
[state]
dir = "state"
`, 0o644)
	l.s = startGSLB(t, "-config", l.config)
	return l
}

func (l *regLab) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, l.s.http+path, strings.NewReader(body))
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

// answers is every A record the server gives for name, sorted, joined.
func (l *regLab) answers(t *testing.T, name string) string {
	r := query(t, l.s.addr, name, dns.TypeA)
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return strings.Join(out, " ")
}

// backends is how many backends the API lists for a service.
func (l *regLab) backends(t *testing.T, service string) int {
	_, body := l.do(t, "GET", "/api/v1/backends", "", "")
	return strings.Count(body, `"service": "`+service+`"`)
}

// listenOn serves "ok" over HTTP on ip and returns the port.
func listenOn(t *testing.T, ip string) (uint16, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return uint16(p), func() { srv.Close() }
}

// TestRegistrationRejects: every bad registration gets a clear 4xx and
// changes nothing.
func TestRegistrationRejects(t *testing.T) {
	l := newRegLab(t)
	good := `{"address": "127.0.0.31", "check": {"port": 8080}}`
	cases := []struct {
		name, method, path, token, body string
		code                            int
		err                             string
	}{
		{"no token", "PUT", "/api/v1/backends/api.example.test/w1", "", good, 401, "missing or wrong bearer token: want a registration token of service api.example.test"},
		{"wrong token", "PUT", "/api/v1/backends/api.example.test/w1", "not-a-token-at-all-0123", good, 401, "missing or wrong bearer token"},
		{"another service's token", "PUT", "/api/v1/backends/api.example.test/w1", otherToken, good, 401, "missing or wrong bearer token"},
		{"the admin token", "PUT", "/api/v1/backends/api.example.test/w1", regAdmin, good, 403, "the admin token cannot register backends"},
		{"unknown service", "PUT", "/api/v1/backends/nope.example.test/w1", regToken, good, 404, "no such service"},
		{"service without registration", "PUT", "/api/v1/backends/closed.example.test/w1", regToken, good, 403, "service closed.example.test does not take registrations (registration = true in its zone file)"},
		{"empty body", "PUT", "/api/v1/backends/api.example.test/w1", regToken, "", 400, "empty body: want a JSON object with at least address"},
		{"malformed", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": `, 400, "body: unexpected EOF"},
		{"unknown field", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "policy": "geo"}`, 400, `body: json: unknown field "policy"`},
		{"two objects", "PUT", "/api/v1/backends/api.example.test/w1", regToken, good + good, 400, "body: one JSON object, not several"},
		{"oversized", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "pool": "` + strings.Repeat("x", 20000) + `"}`, 413, "request body larger than 16 KiB"},
		{"no address", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"weight": 2}`, 400, "address: missing"},
		{"bad address", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "10.0.0.300"}`, 400, `address "10.0.0.300": not an IP address`},
		{"multicast", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "224.0.0.1"}`, 400, "address 224.0.0.1: an unspecified, multicast or link-local address cannot be answered"},
		{"bad name", "PUT", "/api/v1/backends/api.example.test/w%201", regToken, good, 400, `name "w 1": use 1 to 64 letters, digits, '.', '_' or '-'`},
		{"a configured backend's name", "PUT", "/api/v1/backends/api.example.test/static", regToken, good, 409, `name "static" is a configured backend of the service`},
		{"negative weight", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "weight": -1}`, 400, "weight -1: want 0..1000000 (0: standby)"},
		{"unknown pool", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "pool": "eu"}`, 400, `pool "eu": the service has no such pool`},
		{"short lease", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "lease_ttl": "1s"}`, 400, "lease_ttl 1s: want 5s..1h0m0s"},
		{"bad lease", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "lease_ttl": "soon"}`, 400, `lease_ttl "soon": not a duration`},
		{"bad check port", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "check": {"port": 70000}}`, 400, "check.port 70000: want 1..65535"},
		{"bad check path", "PUT", "/api/v1/backends/api.example.test/w1", regToken, `{"address": "127.0.0.31", "check": {"path": "health"}}`, 400, `check.path "health" must start with /`},
		{"deregister unknown", "DELETE", "/api/v1/backends/api.example.test/w1", regToken, "", 404, "no such registered backend"},
		{"deregister without token", "DELETE", "/api/v1/backends/api.example.test/static", "", "", 401, "missing or wrong bearer token"},
		{"drain a configured backend", "POST", "/api/v1/backends/api.example.test/static/drain", regToken, "", 404, "no such registered backend"},
	}
	for _, c := range cases {
		code, body := l.do(t, c.method, c.path, c.token, c.body)
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal([]byte(body), &e)
		if code != c.code || !strings.Contains(e.Error, c.err) {
			t.Errorf("%s: %d %s, want %d %q", c.name, code, strings.TrimSpace(body), c.code, c.err)
		}
	}
	if n := l.backends(t, "api.example.test"); n != 1 {
		t.Errorf("after the rejected registrations api has %d backends, want 1", n)
	}
	// A flood beyond max_registered = 3.
	codes := map[int]int{}
	for i := range 20 {
		code, _ := l.do(t, "PUT", fmt.Sprintf("/api/v1/backends/api.example.test/f%d", i), regToken, fmt.Sprintf(`{"address": "127.0.1.%d"}`, i+1))
		codes[code]++
	}
	if codes[201] != 3 || codes[429] != 17 {
		t.Errorf("20 registrations with max_registered 3: %v, want 3 × 201 and 17 × 429", codes)
	}
	waitFor(t, "the three registered in the API", 5*time.Second, func() bool { return l.backends(t, "api.example.test") == 4 })
}

// TestRegistrationLifecycle: a registered backend is answered after its
// first probe, not before; renewed, it stays; drained, it leaves the
// answers at once and the answer says when caches expire; deregistered,
// it is gone; one whose agent stops renewing is removed when its lease
// runs out, and a restart keeps the registrations whose leases have not.
func TestRegistrationLifecycle(t *testing.T) {
	l := newRegLab(t)
	port, kill := listenOn(t, "127.0.0.21")
	body := fmt.Sprintf(`{"address": "127.0.0.21", "weight": 2, "check": {"port": %d, "path": "/ready"}, "lease_ttl": "10s"}`, port)
	start := time.Now()
	code, resp := l.do(t, "PUT", "/api/v1/backends/api.example.test/web-1", regToken, body)
	if code != 201 || !strings.Contains(resp, `"state": "starting"`) || !strings.Contains(resp, `"lease_ttl_seconds": 10`) {
		t.Fatalf("register: %d %s", code, resp)
	}
	waitFor(t, "web-1 in the answers", 5*time.Second, func() bool { return strings.Contains(l.answers(t, "api.example.test."), "127.0.0.21") })
	fmt.Printf("registration: a registered backend with a check in the answers %v after its registration (check interval %v)\n", time.Since(start).Round(time.Millisecond), interval)
	_, got := l.do(t, "GET", "/api/v1/backends/api.example.test/web-1", "", "")
	for _, want := range []string{`"source": "registered"`, `"state": "serving"`, `"check": "http://127.0.0.21:` + strconv.Itoa(int(port)) + `/ready"`, `"weight": 2`} {
		if !strings.Contains(got, want) {
			t.Errorf("the API's web-1 lacks %s:\n%s", want, got)
		}
	}
	code, resp = l.do(t, "PUT", "/api/v1/backends/api.example.test/web-1", regToken, body)
	if code != 200 || !strings.Contains(resp, `"renewals": 1`) {
		t.Errorf("renew: %d %s", code, resp)
	}

	// Its probe fails (the process is gone): out before its lease ends.
	kill()
	killed := time.Now()
	waitFor(t, "web-1 out after its probe fails", 5*time.Second, func() bool { return !strings.Contains(l.answers(t, "api.example.test."), "127.0.0.21") })
	fmt.Printf("registration: a registered backend killed: out of the answers %v later by its probe (lease 10 s)\n", time.Since(killed).Round(time.Millisecond))

	// A backend without a check: its lease is its health. Starting until
	// its first renewal, then answered; out when the lease runs out.
	lease := `{"address": "127.0.0.22", "lease_ttl": "5s"}`
	if code, resp := l.do(t, "PUT", "/api/v1/backends/lease.example.test/agent-1", otherToken, lease); code != 201 {
		t.Fatalf("register agent-1: %d %s", code, resp)
	}
	time.Sleep(500 * time.Millisecond)
	if a := l.answers(t, "lease.example.test."); strings.Contains(a, "127.0.0.22") {
		t.Errorf("agent-1 answered before its first renewal: %s", a)
	}
	if code, _ := l.do(t, "PUT", "/api/v1/backends/lease.example.test/agent-1", otherToken, lease); code != 200 {
		t.Fatalf("renew agent-1: %d", code)
	}
	renewed := time.Now()
	waitFor(t, "agent-1 answered after its renewal", 2*time.Second, func() bool { return strings.Contains(l.answers(t, "lease.example.test."), "127.0.0.22") })
	waitFor(t, "agent-1 out when its lease runs out", 10*time.Second, func() bool { return !strings.Contains(l.answers(t, "lease.example.test."), "127.0.0.22") })
	gone := time.Since(renewed)
	fmt.Printf("registration: an agent that stops renewing (lease 5 s): out of the answers %v after its last renewal\n", gone.Round(time.Millisecond))
	if gone < 5*time.Second || gone > 6500*time.Millisecond {
		t.Errorf("agent-1 left the answers %v after its last renewal, want within 5 s + 1.5 s", gone)
	}

	// Drain, then deregister.
	for _, n := range []string{"agent-2", "agent-3"} {
		b := fmt.Sprintf(`{"address": "127.0.0.%s", "lease_ttl": "30s"}`, map[string]string{"agent-2": "23", "agent-3": "24"}[n])
		for range 2 { // register and renew: answered
			if code, resp := l.do(t, "PUT", "/api/v1/backends/lease.example.test/"+n, otherToken, b); code/100 != 2 {
				t.Fatalf("%s: %d %s", n, code, resp)
			}
		}
	}
	waitFor(t, "agent-2 and agent-3 answered", 2*time.Second, func() bool {
		return l.answers(t, "lease.example.test.") == "192.0.2.2 127.0.0.23 127.0.0.24"
	})
	before := time.Now()
	code, resp = l.do(t, "POST", "/api/v1/backends/lease.example.test/agent-2/drain", otherToken, "")
	var dr struct {
		State        string    `json:"state"`
		CachesExpire time.Time `json:"caches_expire"`
	}
	json.Unmarshal([]byte(resp), &dr)
	if code != 200 || dr.State != "draining" || dr.CachesExpire.Before(before.Add(5*time.Second-time.Second)) || dr.CachesExpire.After(time.Now().Add(5*time.Second)) {
		t.Errorf("drain: %d %s", code, resp)
	}
	if a := l.answers(t, "lease.example.test."); a != "192.0.2.2 127.0.0.24" {
		t.Errorf("after the drain: %s", a)
	}
	if code, _ := l.do(t, "DELETE", "/api/v1/backends/lease.example.test/agent-2", otherToken, ""); code != 204 {
		t.Errorf("deregister: %d", code)
	}
	waitFor(t, "agent-2 gone from the API", 2*time.Second, func() bool { return l.backends(t, "lease.example.test") == 2 })

	// Deregistered with drain: out of new answers at once, removed when
	// the caches expire (the service's 5 s TTL), no renewal meanwhile.
	b4 := `{"address": "127.0.0.25", "lease_ttl": "30s"}`
	for range 2 {
		if code, resp := l.do(t, "PUT", "/api/v1/backends/lease.example.test/agent-4", otherToken, b4); code/100 != 2 {
			t.Fatalf("agent-4: %d %s", code, resp)
		}
	}
	waitFor(t, "agent-4 answered", 2*time.Second, func() bool { return strings.Contains(l.answers(t, "lease.example.test."), "127.0.0.25") })
	before = time.Now()
	code, resp = l.do(t, "DELETE", "/api/v1/backends/lease.example.test/agent-4", otherToken, `{"drain": true}`)
	var rd struct {
		State        string    `json:"state"`
		CachesExpire time.Time `json:"caches_expire"`
		RemovedAt    time.Time `json:"removed_at"`
	}
	json.Unmarshal([]byte(resp), &rd)
	if code != 202 || rd.State != "draining" || !rd.RemovedAt.Equal(rd.CachesExpire) || rd.RemovedAt.Before(before.Add(4*time.Second)) || rd.RemovedAt.After(time.Now().Add(5*time.Second)) {
		t.Errorf("deregister with drain: %d %s", code, resp)
	}
	if a := l.answers(t, "lease.example.test."); strings.Contains(a, "127.0.0.25") {
		t.Errorf("agent-4 still answered after its deregistration with drain: %s", a)
	}
	if code, resp := l.do(t, "PUT", "/api/v1/backends/lease.example.test/agent-4", otherToken, b4); code != 409 || !strings.Contains(resp, "deregistered with drain") {
		t.Errorf("renewal while it drains: %d %s, want 409", code, resp)
	}
	if _, got := l.do(t, "GET", "/api/v1/backends/lease.example.test/agent-4", "", ""); !strings.Contains(got, `"state": "draining"`) {
		t.Errorf("agent-4 while it drains:\n%s", got)
	}
	for _, q := range []string{"?drain=maybe", ""} {
		body := ""
		if q == "" {
			body = `{"drain": true, "now": 1}`
		}
		if code, resp := l.do(t, "DELETE", "/api/v1/backends/lease.example.test/agent-3"+q, otherToken, body); code != 400 {
			t.Errorf("DELETE%s %s: %d %s, want 400", q, body, code, resp)
		}
	}
	waitFor(t, "agent-4 removed", 8*time.Second, func() bool { return l.backends(t, "lease.example.test") == 2 })
	late := time.Since(rd.RemovedAt)
	fmt.Printf("registration: deregistered with drain: removed %v after the caches expired (removed_at)\n", late.Round(time.Millisecond))
	if late < 0 || late > 1500*time.Millisecond {
		t.Errorf("agent-4 removed %v after removed_at, want within 1.5 s after it", late)
	}

	// The drains of agent-2 and agent-4 stay for goneKeep after them
	// (until every member has compiled them out: clearing them at once
	// would answer them again meanwhile): agent-2 registered again under
	// its name is still drained (clearGoneOverrides is tested alone).
	adm, err := os.ReadFile(filepath.Join(l.dir, "state", "admin-overrides.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if ov, err := health.ParseStateFile("admin-overrides.toml", adm); err != nil || len(ov) != 2 {
		t.Errorf("admin overrides just after the deregistrations: %v %v\n%s", ov, err, adm)
	}
	b2 := `{"address": "127.0.0.23", "lease_ttl": "30s"}`
	for range 2 {
		if code, resp := l.do(t, "PUT", "/api/v1/backends/lease.example.test/agent-2", otherToken, b2); code/100 != 2 {
			t.Fatalf("agent-2 again: %d %s", code, resp)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if a := l.answers(t, "lease.example.test."); strings.Contains(a, "127.0.0.23") {
		t.Errorf("agent-2, registered again within %v of its drain, answered: %s", goneKeep, a)
	}
	if code, _ := l.do(t, "DELETE", "/api/v1/backends/lease.example.test/agent-2?drain=false", regAdmin, ""); code != 204 {
		t.Errorf("deregister agent-2 with the admin token: %d", code)
	}

	// The audit trail: who, what, when, from where; in the API and in
	// the state directory.
	checkRegistrationAudit(t, l)

	// A restart keeps agent-3, whose lease has 25 s left.
	l.s.cmd.Process.Signal(syscall.SIGTERM)
	l.s.cmd.Wait()
	l.s = startGSLB(t, "-config", l.config)
	if !strings.Contains(l.s.logText(), "registered backends restored") {
		t.Errorf("the restart does not say it restored the registrations:\n%s", l.s.logText())
	}
	waitFor(t, "agent-3 answered after the restart", 3*time.Second, func() bool {
		return l.answers(t, "lease.example.test.") == "192.0.2.2 127.0.0.24"
	})
}

// checkRegistrationAudit checks the audit trail of TestRegistrationLifecycle
// for agent-2 and agent-4: the API's, the file's and gslb ctl audit's.
func checkRegistrationAudit(t *testing.T, l *regLab) {
	t.Helper()
	type rec struct{ action, by string }
	want := map[string][]rec{
		"lease.example.test/agent-2": {
			{audit.Registered, "registration token"}, {audit.OverrideSet, "registration token"},
			{audit.Deregistered, "registration token"},
			{audit.Registered, "registration token"}, {audit.Deregistered, "admin token"},
		},
		"lease.example.test/agent-4": {
			{audit.Registered, "registration token"}, {audit.OverrideSet, "registration token"},
			{audit.Retiring, "registration token"}, {audit.Deregistered, "drain end"},
		},
	}
	for id, w := range want {
		_, body := l.do(t, "GET", "/api/v1/audit?backend="+id, "", "")
		var got struct {
			File    string        `json:"file"`
			Records []audit.Entry `json:"records"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("audit of %s: %v\n%s", id, err, body)
		}
		var have []string
		for _, r := range got.Records {
			have = append(have, r.Action+" by "+r.By+" from "+r.From)
		}
		if len(got.Records) != len(w) {
			t.Errorf("audit of %s:\n%s\nwant %v", id, strings.Join(have, "\n"), w)
			continue
		}
		for i, r := range got.Records {
			remote := r.By == "deregistration" || r.By == "drain end"
			if r.Action != w[i].action || !strings.HasPrefix(r.By, w[i].by) || remote == strings.HasPrefix(r.From, "127.0.0.1:") || r.Time.IsZero() {
				t.Errorf("audit of %s, record %d: %s, want %s by %s", id, i, have[i], w[i].action, w[i].by)
			}
		}
		if r := got.Records[0]; r.By != "registration token registration.tokens:3" || r.Detail["address"] == "" || r.Detail["lease"] != "30s" {
			t.Errorf("audit of %s: the registration: %+v", id, r)
		}
		if got.File != filepath.Join(l.dir, "state", "audit.log") {
			t.Errorf("audit file %q", got.File)
		}
	}
	src, err := os.ReadFile(filepath.Join(l.dir, "state", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"lease.example.test/agent-2", "lease.example.test/agent-4"} {
		if n := strings.Count(string(src), `"backend":"`+id+`"`); n != len(want[id]) {
			t.Errorf("audit.log has %d records of %s, want %d", n, id, len(want[id]))
		}
	}
	out, err := exec.Command(binary, "ctl", "-server", l.s.http, "-token-file", filepath.Join(l.dir, "token"), "audit", "lease.example.test/agent-4").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "retiring") || !strings.Contains(string(out), "removed_at=") || strings.Count(string(out), "\n") != 1+len(want["lease.example.test/agent-4"]) {
		t.Errorf("gslb ctl audit: %v\n%s", err, out)
	}
}

// TestClearGoneOverrides: the override of a registered backend gone for
// goneKeep is cleared if it was set before it went; one set later (an
// operator's, for a backend registered again) stays; none goes early.
func TestClearGoneOverrides(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &app{admin: health.NewAdmin("", 0, log), log: log, gone: map[string]time.Time{}}
	at := time.Now()
	for _, id := range []string{"api/old", "api/later", "api/young"} {
		if err := a.admin.Set(id, &health.Override{State: health.AdminDrain}, "test"); err != nil {
			t.Fatal(err)
		}
	}
	a.gone["api/old"] = at
	a.gone["api/later"] = at.Add(-2 * time.Second) // went before its override was set
	a.gone["api/young"] = at.Add(goneKeep / 2)
	a.clearGoneOverrides(at.Add(goneKeep))
	if a.admin.Get("api/old") != nil {
		t.Error("the drain of a backend gone for goneKeep stays")
	}
	if a.admin.Get("api/later") == nil {
		t.Error("an override set after the backend went was cleared")
	}
	if a.admin.Get("api/young") == nil || len(a.gone) != 1 {
		t.Errorf("the drain of a backend gone for less than goneKeep was cleared (%d left to watch)", len(a.gone))
	}
}
