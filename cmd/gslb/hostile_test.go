package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// liveZone is the zone of TestHostileFilesLive: a first and a last name,
// so that a half-written file would lose the last one.
func liveZone(addr string) string {
	var b strings.Builder
	b.WriteString("origin = \"live.test.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"127.0.0.1\" }\nfirst = { A = \"" + addr + "\" }\n")
	for i := 0; i < 2000; i++ {
		b.WriteString("filler" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i) + " = { TXT = \"padding padding padding\" }\n")
	}
	b.WriteString("last = { A = \"" + addr + "\" }\n")
	return b.String()
}

// TestHostileFilesLive: while the server answers 300 queries a second, a
// FIFO and a 60 KB file of nested arrays are dropped into its zones
// folder, and then the zone file is rewritten in place in two halves 400
// ms apart. Not one query fails or gets NXDOMAIN, the log names each bad
// file with its position, and a later good edit is applied (issue 18).
func TestHostileFilesLive(t *testing.T) {
	dir := t.TempDir()
	zdir := filepath.Join(dir, "zones")
	zfile := filepath.Join(zdir, "live.toml")
	writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n[server]\ndns = [\"127.0.0.1:0\"]\nhttp = \"\"\n", 0o644)
	writeFile(t, zfile, liveZone("192.0.2.1"), 0o644)
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))

	var asked, failed atomic.Int64
	var lastFail atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &dns.Client{Timeout: time.Second}
		tick := time.NewTicker(time.Second / 300)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			name := "first.live.test."
			if i%2 == 1 {
				name = "last.live.test."
			}
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			asked.Add(1)
			r, _, err := c.Exchange(m, s.addr)
			if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				failed.Add(1)
				lastFail.Store(name + ": " + func() string {
					if err != nil {
						return err.Error()
					}
					return dns.RcodeToString[r.Rcode]
				}())
			}
		}
	}()
	logged := func(what, sub string) {
		t.Helper()
		waitFor(t, what, 15*time.Second, func() bool { return strings.Contains(s.logText(), sub) })
	}

	if err := syscall.Mkfifo(filepath.Join(zdir, "fifo.toml"), 0o644); err != nil {
		t.Fatal(err)
	}
	logged("the FIFO rejected", "fifo.toml: cannot read zone file: a named pipe, not a regular file")
	nested := "a = " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n"
	writeFile(t, filepath.Join(zdir, "nested.toml"), nested, 0o644)
	logged("the nested file rejected with its position", "nested.toml:1:")
	os.Remove(filepath.Join(zdir, "fifo.toml"))
	os.Remove(filepath.Join(zdir, "nested.toml"))

	// Rewritten in place, in two halves 400 ms apart: never loaded half.
	full := liveZone("192.0.2.2")
	f, err := os.OpenFile(zfile, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// Cut at a line: the first half alone is a valid zone without "last".
	half := strings.LastIndex(full[:len(full)/2], "\n") + 1
	f.WriteString(full[:half])
	f.Sync()
	time.Sleep(400 * time.Millisecond)
	f.WriteString(full[half:])
	f.Close()
	waitFor(t, "the good edit answered", 15*time.Second, func() bool {
		return firstA(query(t, s.addr, "last.live.test.", dns.TypeA)) == "192.0.2.2"
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d queries failed (last: %v)\n%s", n, asked.Load(), lastFail.Load(), s.logText())
	}
	if asked.Load() < 600 {
		t.Errorf("only %d queries asked", asked.Load())
	}
	t.Logf("%d queries, %d failed", asked.Load(), failed.Load())
}

// TestHostileOtherFiles: a GeoIP database, admin state file or token file
// that is a FIFO or a symlink to /dev/zero makes gslb check fail at once
// with the reason, instead of hanging or filling memory (issue 18).
func TestHostileOtherFiles(t *testing.T) {
	for _, c := range []struct {
		name, conf, file, want string
	}{
		{"GeoIP database a FIFO", "[geo]\ndatabase = \"geo.mmdb\"\n", "geo.mmdb", "a named pipe, not a regular file"},
		{"GeoIP database /dev/zero", "[geo]\ndatabase = \"geo.mmdb\"\n", "geo.mmdb", "a symlink to /dev/zero, a character device, not a regular file"},
		{"token file a FIFO", "[admin]\ntoken_file = \"token\"\n", "token", "a named pipe, not a regular file"},
		{"state file /dev/zero", "[state]\ndir = \"state\"\n", "state/admin-overrides.toml", "a symlink to /dev/zero, a character device, not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
			writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n"+c.conf, 0o644)
			p := filepath.Join(dir, c.file)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if strings.Contains(c.want, "/dev/zero") {
				os.Symlink("/dev/zero", p)
			} else if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "check", "-config", filepath.Join(dir, "gslb.toml"))
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("gslb check hangs")
			}
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("check: %v\n%s\nwant %q", err, out, c.want)
			}
		})
	}
}
