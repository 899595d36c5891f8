package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

// binary is the gslb binary built for the tests that run it as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gslb-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gslb")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	// No goroutine may outlive the tests: an app's watcher, tickers,
	// probes and listeners all stop with it.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

const mainTOML = `zones = ["zones"]
[server]
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
`

const zoneTOML = `origin = "example.test."
ns = ["ns1"]
[soa]
rname = "hostmaster"
[records]
ns1 = { A = "127.0.0.1" }
[services.www]
backends = [{ address = "192.0.2.1" }]
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCheck(t *testing.T) {
	broken := strings.Replace(zoneTOML, `[records]`, `[records]
a = { A = "192.0.2.256" }
b = { A = "192.0.2.1", CNAME = "a" }`, 1) + "tll = 60\n"
	cases := []struct {
		name  string
		files map[string]string
		code  int
		lines []string // regular expressions, in order
	}{
		{"valid", map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML}, 0, nil},
		{"three errors", map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": broken}, 1, []string{
			`^.*/zones/example\.test\.toml:6:7: records\.a\.A: "192\.0\.2\.256" is not an IP address$`,
			`^.*/zones/example\.test\.toml:7:24: records\.b: a CNAME cannot stand beside other data \(A\)`,
			`^.*/zones/example\.test\.toml:11:1: unknown key "services\.www\.tll"; did you mean "ttl"\?$`,
			`^3 problem\(s\) found$`,
		}},
		{"unreadable", map[string]string{"gslb.toml": `zones = ["nope.toml"]`}, 1, []string{`^.*/nope\.toml: cannot read zone file: no such file or directory$`, `^1 problem`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			var stdout, stderr bytes.Buffer
			code := run([]string{"check", "-config", filepath.Join(dir, "gslb.toml")}, &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.code, stderr.String())
			}
			if c.lines == nil {
				if stderr.Len() > 0 || !strings.Contains(stdout.String(), "ok (1 zone(s), 1 service(s))") {
					t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
				}
				return
			}
			matchStderrLines(t, stderr.String(), c.lines)
		})
	}
}

// matchStderrLines checks that stderr has one line per pattern in lines,
// each matching its regular expression.
func matchStderrLines(t *testing.T, stderr string, lines []string) {
	t.Helper()
	got := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(got) != len(lines) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(lines), stderr)
	}
	for i, re := range lines {
		if !regexp.MustCompile(re).MatchString(got[i]) {
			t.Errorf("line %d: %q does not match %q", i+1, got[i], re)
		}
	}
}

func TestCheckBundledExample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestUsage: -h, -help and --help print the command's usage on stdout
// with its flags and exit statuses, and exit 0; a bad flag exits 2 with a
// hint on stderr.
func TestUsage(t *testing.T) {
	for _, c := range commands() {
		for _, h := range []string{"-h", "-help", "--help"} {
			var stdout, stderr bytes.Buffer
			if code := run([]string{c.name, h}, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
				t.Errorf("%s %s: exit %d, stderr %q", c.name, h, code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "Usage: gslb "+c.name) || !strings.Contains(stdout.String(), "Exit status:") {
				t.Errorf("%s %s: no usage with exit statuses:\n%s", c.name, h, stdout.String())
			}
		}
		var stdout, stderr bytes.Buffer
		if code := run([]string{c.name, "-no-such-flag"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-no-such-flag") {
			t.Errorf("%s -no-such-flag: exit %d, stderr %q", c.name, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if run([]string{"--help"}, &stdout, &stderr) != 0 || !strings.Contains(stdout.String(), "gslb serve [-config FILE]") {
		t.Errorf("--help: %q", stdout.String())
	}
	stdout.Reset()
	if run([]string{"version"}, &stdout, &stderr) != 0 || !strings.HasPrefix(stdout.String(), "gslb ") {
		t.Errorf("version: %q", stdout.String())
	}
}

// server is a running gslb process.
type server struct {
	cmd  *exec.Cmd
	addr string
	http string // the HTTP side's URL, "" without one
	mu   sync.Mutex
	log  bytes.Buffer
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startGSLB runs the binary and waits for the line that says where it
// listens.
func startGSLB(t *testing.T, args ...string) *server {
	t.Helper()
	return startServer(t, exec.Command(binary, append([]string{"serve"}, args...)...))
}

// startServer runs cmd, a gslb serve (perhaps through a wrapper such as
// ip netns exec), and waits for the line that says where it listens.
func startServer(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	return startServerOwned(t, t, cmd)
}

// startServerOwned is startServer for a server that outlives the subtest
// t that starts it: owner's end stops it.
func startServerOwned(t, owner *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{cmd: cmd}
	stdout, _ := s.cmd.StdoutPipe()
	stderr, _ := s.cmd.StderrPipe()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b := bufio.NewReader(stderr)
		for {
			line, err := b.ReadString('\n')
			s.mu.Lock()
			s.log.WriteString(line)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	owner.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`answers DNS on ([^ ,]+)(?:.*HTTP on (https?://[^ ]+)/)?`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case m := <-ready:
		s.addr, s.http = m[1], m[2]
	case <-time.After(10 * time.Second):
		t.Fatalf("gslb did not start:\n%s", s.logText())
	}
	return s
}

func query(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firstA(r *dns.Msg) string {
	if len(r.Answer) == 0 {
		return ""
	}
	if a, ok := r.Answer[0].(*dns.A); ok {
		return a.A.String()
	}
	return ""
}

func TestServeReload(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	zoneFile := filepath.Join(dir, "zones", "example.test.toml")
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))
	if got := firstA(query(t, s.addr, "www.example.test.", dns.TypeA)); got != "192.0.2.1" {
		t.Fatalf("www: %q", got)
	}

	// A broken zone file is rejected with its position; the old data stays.
	broken := strings.Replace(zoneTOML, "192.0.2.1", "192.0.2.999", 1)
	if err := os.WriteFile(zoneFile, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload error in the log", 10*time.Second, func() bool {
		return strings.Contains(s.logText(), "example.test.toml:8:15: services.www.backends[0].address")
	})
	if got := firstA(query(t, s.addr, "www.example.test.", dns.TypeA)); got != "192.0.2.1" {
		t.Fatalf("after a broken change www answers %q, want the old 192.0.2.1", got)
	}

	// Fixing the file loads the new data.
	fixed := strings.Replace(zoneTOML, "192.0.2.1", "192.0.2.2", 1)
	if err := os.WriteFile(zoneFile, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed zone to be answered", 10*time.Second, func() bool {
		return firstA(query(t, s.addr, "www.example.test.", dns.TypeA)) == "192.0.2.2"
	})

	// An editor that writes a new file and renames it over the old one.
	tmp := zoneFile + ".swp"
	os.WriteFile(tmp, []byte(strings.Replace(zoneTOML, "192.0.2.1", "192.0.2.3", 1)), 0o644)
	if err := os.Rename(tmp, zoneFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the renamed zone to be answered", 10*time.Second, func() bool {
		return firstA(query(t, s.addr, "www.example.test.", dns.TypeA)) == "192.0.2.3"
	})

	// SIGHUP reloads too (the watcher has already done so; this must not
	// disturb anything), and SIGTERM stops the process cleanly.
	s.cmd.Process.Signal(syscall.SIGHUP)
	if got := firstA(query(t, s.addr, "www.example.test.", dns.TypeA)); got != "192.0.2.3" {
		t.Fatalf("after SIGHUP: %q", got)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, s.logText())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
}

func TestServeBundledExample(t *testing.T) {
	s := startGSLB(t, "-dns-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0", "-id", "ns9.test")
	// Until the first probe result of its checks, www has no backend to
	// answer (start = "pending"); then they are down (nothing listens on
	// 127.0.0.1:9153 here) and when_all_down = serve_all answers both.
	r := query(t, s.addr, "WwW.GsLb.ExAmPlE.CoM.", dns.TypeA)
	for deadline := time.Now().Add(3 * time.Second); len(r.Answer) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		r = query(t, s.addr, "WwW.GsLb.ExAmPlE.CoM.", dns.TypeA)
	}
	// 127.0.0.1 is in no GeoIP network: the geo default sends it to pool us.
	if !r.Authoritative || len(r.Answer) != 2 || r.Answer[0].Header().Ttl != 30 || r.Answer[0].Header().Name != "WwW.GsLb.ExAmPlE.CoM." {
		t.Errorf("www: %v", r)
	}
	if r := query(t, s.addr, "gslb.example.com.", dns.TypeSOA); !r.Authoritative || len(r.Answer) != 1 {
		t.Errorf("SOA: %v", r)
	}
	if r := query(t, s.addr, "example.org.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("example.org: %v", r)
	}
	m := new(dns.Msg)
	m.SetQuestion("id.server.", dns.TypeTXT)
	m.Question[0].Qclass = dns.ClassCHAOS
	if r, _, err := (&dns.Client{}).Exchange(m, s.addr); err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != "ns9.test" {
		t.Errorf("id.server with -id ns9.test: %v %v", r, err)
	}
}
