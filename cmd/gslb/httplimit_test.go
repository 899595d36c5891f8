package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// holder is a Python process that opens n TCP connections to addr from
// the loopback addresses 127.0.0.first.. (every 200 connections one
// more), keeps them idle, says how many it opened, and closes them when
// its input closes. Three of them hold more connections than one process
// may have files (20,000 here).
const holder = `
import resource, socket, sys
addr, port, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# Room for n sockets: up to the hard limit, or beyond it as root.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
for want in ((n + 100, max(hard, n + 100)), (min(n + 100, hard), hard)):
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, want)
        break
    except (ValueError, OSError):
        pass
socks, fails = [], 0
for i in range(n):
    s = socket.socket()
    try:
        s.bind(("127.0.0.%d" % (first + i // 200), 0))
        s.connect((addr, port))
        socks.append(s)
    except OSError:
        fails += 1
        s.close()
print("opened %d failed %d" % (len(socks), fails), flush=True)
sys.stdin.read()
`

// TestHTTPConnectionCaps: 21,000 idle HTTP connections from 105 client
// addresses, more than the server may have open files, leave DNS over
// TCP answered, because the HTTP side keeps to [http] max_connections
// and max_connections_per_client; the refused ones are counted (issue 18).
func TestHTTPConnectionCaps(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"127.0.0.1:0\"\n", 0o644)
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(s.http, "http://"))
	var stops []io.WriteCloser
	opened := 0
	for i := 0; i < 3; i++ {
		cmd := exec.Command("python3", "-c", holder, host, port, "7000", fmt.Sprint(2+i*35))
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stops = append(stops, in)
		t.Cleanup(func() { in.Close(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			t.Fatalf("holder %d: %v", i, err)
		}
		var o, f int
		fmt.Sscanf(line, "opened %d failed %d", &o, &f)
		opened += o
	}
	t.Logf("%d idle HTTP connections opened", opened)
	if opened < 20000 {
		t.Fatalf("only %d connections opened", opened)
	}
	// DNS over TCP is answered.
	m := new(dns.Msg)
	m.SetQuestion("www.ex.test.", dns.TypeA)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 3 * time.Second}).Exchange(m, s.addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("DNS over TCP with 21,000 HTTP connections open: %v %v", r, err)
	}
	// The caps refused most of them, and say so.
	for _, c := range stops {
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var body []byte
	waitFor(t, "the HTTP side to take connections again", 10*time.Second, func() bool {
		resp, err := hc.Get(s.http + "/metrics")
		if err != nil {
			return false
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return true
	})
	m2 := regexp.MustCompile(`gslb_http_connections_refused_total (\d+)`).FindSubmatch(body)
	if m2 == nil {
		t.Fatal("no gslb_http_connections_refused_total")
	}
	var refused int
	fmt.Sscan(string(m2[1]), &refused)
	// 105 clients of 200: each gets 64 at most, 1,024 in all.
	if refused < opened-1024 {
		t.Errorf("%d refused of %d, want at least %d", refused, opened, opened-1024)
	}
	t.Logf("%d refused", refused)
}
