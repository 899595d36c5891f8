package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// ctlZone has a service with two pools, a pool and a backend sharing a
// name, and a second zone with a service of the same short name.
const ctlZone = `origin = "ex.test."
ns = ["ns1"]
[soa]
rname = "hostmaster.ex.test."
[records]
ns1 = { A = "127.0.0.1" }
[services.www]
policy = "failover"
backends = [
  { name = "eu-1", address = "192.0.2.1" },
  { name = "eu-2", address = "192.0.2.2" },
  { name = "us-1", address = "192.0.2.3" },
  { name = "us", address = "192.0.2.4" },
]
pools = [ { name = "eu", backends = ["eu-1", "eu-2"] }, { name = "us", backends = ["us-1", "us"] } ]
[services.api]
backends = [{ name = "a", address = "192.0.2.9" }]
`

const ctlZone2 = `origin = "other.test."
ns = ["ns1"]
[soa]
rname = "hostmaster.other.test."
[records]
ns1 = { A = "127.0.0.1" }
[services.api]
backends = [{ name = "a", address = "192.0.2.10" }]
`

// ctlServer starts the gslb binary on a configuration with an admin
// token, and returns it with the path of its configuration.
func ctlServer(t *testing.T) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), "ctl-test-token-ctl-test-token-0123\n", 0o600)
	writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n[admin]\ntoken_file = \"token\"\n", 0o644)
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	writeFile(t, filepath.Join(dir, "zones", "other.test.toml"), ctlZone2, 0o644)
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))
	if s.http == "" {
		t.Fatalf("no HTTP address in the start-up line:\n%s", s.logText())
	}
	return s, filepath.Join(dir, "gslb.toml")
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// ctlRun runs the gslb binary's ctl against s with the token of config.
func ctlRun(t *testing.T, s *server, config string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"ctl", "-server", s.http, "-token-file", filepath.Join(filepath.Dir(config), "token")}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// answerSet is the sorted addresses of a query's A records.
func answerSet(t *testing.T, s *server, name string) string {
	t.Helper()
	var out []string
	for _, rr := range query(t, s.addr, name, dns.TypeA).Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestCtlDrainPool drains a whole pool of a running server with gslb ctl
// (flags after the target, as an operator types them), sees the answers
// move to the next pool, and undrains it.
func TestCtlDrainPool(t *testing.T) {
	s, config := ctlServer(t)
	if got := answerSet(t, s, "www.ex.test."); got != "192.0.2.1 192.0.2.2" {
		t.Fatalf("before the drain: %q", got)
	}
	out, errOut, code := ctlRun(t, s, config, "drain", "www/pool:eu", "-reason", "maintenance", "-for", "1h")
	if code != 0 {
		t.Fatalf("drain: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "pool eu of www.ex.test: drained (2 backend(s))") {
		t.Errorf("drain printed:\n%s", out)
	}
	if got := answerSet(t, s, "www.ex.test."); got != "192.0.2.3 192.0.2.4" {
		t.Errorf("after draining pool eu: %q, want the us pool", got)
	}
	out, _, _ = ctlRun(t, s, config, "backends", "www.ex.test")
	for _, want := range []string{`www.ex.test/eu-1\s+192.0.2.1\s+up\s+drain \(maintenance\) until \S+\s+no`, `www.ex.test/us-1\s+192.0.2.3\s+up\s+-\s+yes`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("backends: no line like %q in\n%s", want, out)
		}
	}
	out, _, _ = ctlRun(t, s, config, "status")
	if !regexp.MustCompile(`www.ex.test\s+failover/all\s+2/4\s+degraded: 2 with an admin override`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	if out, errOut, code = ctlRun(t, s, config, "undrain", "www/eu"); code != 0 || !strings.Contains(out, "pool eu of www.ex.test: override cleared (2 backend(s))") {
		t.Fatalf("undrain www/eu: exit %d\n%s%s", code, out, errOut)
	}
	if got := answerSet(t, s, "www.ex.test."); got != "192.0.2.1 192.0.2.2" {
		t.Errorf("after undrain: %q", got)
	}
}

// TestCtlTargets: targets that are wrong or ambiguous get a clear error
// and exit 2, and nothing is changed.
func TestCtlTargets(t *testing.T) {
	s, config := ctlServer(t)
	for _, c := range []struct {
		target, want string
	}{
		{"wwx/eu", `no service "wwx"; did you mean "www"?`},
		{"www/ue", `www.ex.test has no backend or pool "ue"; did you mean "eu"?`},
		{"www/us", `"us" is both a backend and a pool of www.ex.test: write www/backend:us or www/pool:us`},
		{"api", `"api" is a service in several zones: write one of api.ex.test, api.other.test`},
		{"www/team:eu", `"www/team:eu": write SERVICE/pool:NAME or SERVICE/backend:NAME`},
	} {
		_, errOut, code := ctlRun(t, s, config, "drain", c.target)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("drain %s: exit %d, stderr %q, want 2 and %q", c.target, code, errOut, c.want)
		}
	}
	if out, _, _ := ctlRun(t, s, config, "backends"); strings.Contains(out, "drain") {
		t.Errorf("a refused target changed something:\n%s", out)
	}
	// One backend of a pool and its name sharing the pool's: backend:us.
	if out, errOut, code := ctlRun(t, s, config, "force-down", "www/backend:us"); code != 0 || !strings.Contains(out, "backend www.ex.test/us: forced down (1 backend(s))") {
		t.Errorf("force-down www/backend:us: exit %d\n%s%s", code, out, errOut)
	}
	// The whole service of the other zone, by its full name.
	if out, errOut, code := ctlRun(t, s, config, "drain", "api.other.test."); code != 0 || !strings.Contains(out, "service api.other.test: drained (1 backend(s))") {
		t.Errorf("drain api.other.test.: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCtlReload: gslb ctl reload loads the files again and says what it
// rejected, with every problem; the server keeps serving.
func TestCtlReload(t *testing.T) {
	s, config := ctlServer(t)
	zone := filepath.Join(filepath.Dir(config), "zones", "ex.test.toml")
	writeFile(t, zone, ctlZone+"[services.bad]\nmemebers = \"all\"\n", 0o644)
	_, errOut, code := ctlRun(t, s, config, "reload")
	line := strings.Count(ctlZone, "\n") + 2
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf(`ex.test.toml:%d:1: unknown key "services.bad.memebers"; did you mean "members"?`, line)) || !strings.Contains(errOut, "reload rejected") {
		t.Errorf("reload of a broken zone: exit %d, stderr:\n%s", code, errOut)
	}
	writeFile(t, zone, ctlZone, 0o644)
	out, errOut, code := ctlRun(t, s, config, "reload")
	if code != 0 || !strings.HasPrefix(out, "reloaded: serving configuration ") {
		t.Errorf("reload: exit %d\n%s%s", code, out, errOut)
	}
	// Without a token the write API refuses, and ctl says why.
	cmd := exec.Command(binary, "ctl", "-server", s.http, "-config", config, "-token-file", "", "reload")
	cmd.Env = append(os.Environ(), "GSLB_TOKEN=wrong-token-wrong-token-wrong")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "401 Unauthorized: missing or wrong bearer token") {
		t.Errorf("reload with a wrong token: %v\n%s", err, b)
	}
}
