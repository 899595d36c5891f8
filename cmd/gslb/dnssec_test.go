package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSSECCommands: gslb dnssec keygen writes a key that gslb check and
// serve take; gslb dnssec ds prints the DS of the DNSKEY that the server
// answers; dig +dnssec gets signed answers and compact denial; a private
// key others can read fails the check; bad command lines are usage
// errors.
func TestDNSSECCommands(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML})
	zdir := filepath.Join(dir, "zones")
	os.MkdirAll(zdir, 0o755)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"dnssec", "keygen", "-dir", zdir, "-algorithm", "ed25519", "Example.Test"}, &stdout, &stderr); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr.String())
	}
	m := regexp.MustCompile(`(?m)^key = "(Kexample\.test\.\+015\+\d{5})"$`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("keygen printed no key line:\n%s", stdout.String())
	}
	base := m[1]
	if fi, err := os.Stat(filepath.Join(zdir, base+".private")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", fi, err)
	}
	zone := zoneTOML + "[services.www6]\nbackends = [{ address = \"2001:db8::1\" }]\n[dnssec]\nkey = \"" + base + "\"\n"
	os.WriteFile(filepath.Join(zdir, "example.test.toml"), []byte(zone), 0o644)
	config := filepath.Join(dir, "gslb.toml")
	stdout.Reset()
	if code := run([]string{"check", "-config", config}, &stdout, &stderr); code != 0 {
		t.Fatalf("check: exit %d: %s", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"dnssec", "ds", "-config", config, "example.test"}, &stdout, &stderr); code != 0 {
		t.Fatalf("ds: exit %d: %s", code, stderr.String())
	}
	var ds *dns.DS
	for _, line := range strings.Split(stdout.String(), "\n") {
		if rr, err := dns.NewRR(line); err == nil && rr != nil {
			if d, ok := rr.(*dns.DS); ok {
				ds = d
			}
		}
	}
	if ds == nil || ds.DigestType != dns.SHA256 || ds.Algorithm != dns.ED25519 {
		t.Fatalf("ds printed no SHA-256 DS:\n%s", stdout.String())
	}

	s := startGSLB(t, "-config", config)
	host, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	dig := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dig", append([]string{"@" + host, "-p", port, "+dnssec", "+norec", "+time=2", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// The DNSKEY the server answers is the one the DS stands for.
	q := new(dns.Msg)
	q.SetQuestion("example.test.", dns.TypeDNSKEY)
	q.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, s.addr)
	if err != nil {
		t.Fatal(err)
	}
	var keys []dns.RR
	var key *dns.DNSKEY
	var sig *dns.RRSIG
	for _, rr := range r.Answer {
		switch x := rr.(type) {
		case *dns.DNSKEY:
			keys, key = append(keys, x), x
		case *dns.RRSIG:
			sig = x
		}
	}
	if key == nil || sig == nil || !strings.EqualFold(key.ToDS(dns.SHA256).Digest, ds.Digest) || sig.Verify(key, keys) != nil {
		t.Logf("DS %v; served %v; verify %v", ds, key.ToDS(dns.SHA256), sig.Verify(key, keys))
		t.Fatalf("DNSKEY answer does not match the DS or does not verify:\n%v", r)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"www.example.test", "A"}, []string{"status: NOERROR", "flags: qr aa;", "IN\tA\t192.0.2.1", "IN\tRRSIG\tA 15 3 "}},
		{[]string{"nope.example.test", "A"}, []string{"status: NOERROR", "IN\tNSEC\t\\000.nope.example.test. RRSIG NSEC TYPE128", "IN\tRRSIG\tNSEC 15 3 ", "IN\tRRSIG\tSOA 15 2 "}},
		{[]string{"+coflag", "nope.example.test", "A"}, []string{"status: NXDOMAIN", "; EDNS: version: 0, flags: do co;", "TYPE128"}},
		{[]string{"www6.example.test", "A"}, []string{"status: NOERROR", "IN\tNSEC\t\\000.www6.example.test. AAAA RRSIG NSEC"}},
		{[]string{"www.example.test", "A", "+nodnssec"}, []string{"IN\tA\t192.0.2.1"}},
	} {
		out := dig(c.args...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("dig %v lacks %q:\n%s", c.args, w, out)
			}
		}
		if strings.Contains(out, " ad;") || strings.Contains(out, " ad ") {
			t.Errorf("dig %v: AD set:\n%s", c.args, out)
		}
		if slices.Contains(c.args, "+nodnssec") && strings.Contains(out, "RRSIG") {
			t.Errorf("dig %v: signed without DO:\n%s", c.args, out)
		}
	}

	// gslb explain asks a signed zone with DO and says it is signed.
	stdout.Reset()
	if code := run([]string{"explain", "-config", config, "-client", "192.0.2.1", "www.example.test"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "with DO (the zone is signed)") || !strings.Contains(stdout.String(), "signed (DO): ed25519 tag ") ||
		!strings.Contains(stdout.String(), " RRSIG A 15 3 ") {
		t.Errorf("explain of a signed name: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	// A private key others can read: check and reload refuse it.
	os.Chmod(filepath.Join(zdir, base+".private"), 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"check", "-config", config}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "dnssec.key: ") || !strings.Contains(stderr.String(), "the private key is readable by others (mode 0644): chmod 600 it") {
		t.Errorf("check with a readable key: exit %d\n%s", code, stderr.String())
	}
	for _, args := range [][]string{{"dnssec"}, {"dnssec", "sign", "example.test"}, {"dnssec", "keygen", "-algorithm", "rsa", "example.test"}, {"dnssec", "ds", "a..b"}} {
		stderr.Reset()
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, stderr.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"dnssec", "ds", "-config", config, "other.test"}, &stdout, &stderr); code != 1 {
		t.Errorf("ds of a zone not configured: exit %d: %s", code, stderr.String())
	}
}

// TestSigningReload: signing turned on, a second key added (a rollover's
// double signatures), the first removed and signing turned off, each by
// editing the zone file and a reload (SIGHUP), while a client asks with
// DO without a pause: no query goes unanswered or fails, and every
// signed answer verifies with the keys of its phase.
func TestSigningReload(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	zdir := filepath.Join(dir, "zones")
	keys := map[uint16]*dns.DNSKEY{}
	var names []string
	var tags []uint16
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"dnssec", "keygen", "-dir", zdir, "example.test"}, &stdout, &stderr); code != 0 {
			t.Fatalf("keygen: exit %d: %s", code, stderr.String())
		}
		m := regexp.MustCompile(`(?m)^key = "(.*)"$`).FindStringSubmatch(stdout.String())
		if m == nil {
			t.Fatalf("keygen printed no key line:\n%s", stdout.String())
		}
		f, err := os.Open(filepath.Join(zdir, m[1]+".key"))
		if err != nil {
			t.Fatal(err)
		}
		rr, err := dns.ReadRR(f, m[1]+".key")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		k := rr.(*dns.DNSKEY)
		keys[k.KeyTag()] = k
		names, tags = append(names, m[1]), append(tags, k.KeyTag())
	}
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))

	type result struct {
		err   error
		rcode int
		tags  []uint16 // of the A RRset's RRSIGs, sorted
		bad   string   // a signature that does not verify
	}
	var mu sync.Mutex
	var results []result
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		c := &dns.Client{Timeout: time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			q := new(dns.Msg)
			q.SetQuestion("www.example.test.", dns.TypeA)
			q.SetEdns0(1232, true)
			r, _, err := c.Exchange(q, s.addr)
			res := result{err: err}
			if err == nil {
				res.rcode = r.Rcode
				var set []dns.RR
				var sigs []*dns.RRSIG
				for _, rr := range r.Answer {
					switch x := rr.(type) {
					case *dns.A:
						set = append(set, x)
					case *dns.RRSIG:
						sigs = append(sigs, x)
					}
				}
				for _, sig := range sigs {
					res.tags = append(res.tags, sig.KeyTag)
					if k := keys[sig.KeyTag]; k == nil || sig.Verify(k, set) != nil {
						res.bad = sig.String()
					}
				}
				slices.Sort(res.tags)
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		}
	}()
	last := func() result {
		mu.Lock()
		defer mu.Unlock()
		if len(results) == 0 {
			return result{}
		}
		return results[len(results)-1]
	}
	t1, t2 := tags[0], tags[1]
	phases := []struct {
		name   string
		dnssec string
		want   []uint16
	}{
		{name: "unsigned"},
		{name: "signing on, one key", dnssec: fmt.Sprintf("key = %q\n", names[0]), want: []uint16{t1}},
		{name: "a second key (double signatures)", dnssec: fmt.Sprintf("keys = [%q, %q]\n", names[0], names[1]), want: sortedTags(t1, t2)},
		{name: "the first key removed", dnssec: fmt.Sprintf("key = %q\n", names[1]), want: []uint16{t2}},
		{name: "signing off", dnssec: fmt.Sprintf("enabled = false\nkey = %q\n", names[1])},
	}
	for i, p := range phases {
		sent := time.Now()
		if i > 0 {
			zone := zoneTOML + "[dnssec]\n" + p.dnssec
			if err := os.WriteFile(filepath.Join(zdir, "example.test.toml"), []byte(zone), 0o644); err != nil {
				t.Fatal(err)
			}
			s.cmd.Process.Signal(syscall.SIGHUP)
		}
		waitFor(t, p.name+": answers signed by "+fmt.Sprint(p.want), 10*time.Second, func() bool {
			r := last()
			return r.err == nil && slices.Equal(r.tags, p.want)
		})
		if i > 0 {
			t.Logf("%s: in effect %v after the SIGHUP", p.name, time.Since(sent).Round(time.Millisecond))
		}
		time.Sleep(300 * time.Millisecond)
	}
	close(stop)
	<-done
	var failed, bad int
	for _, r := range results {
		switch {
		case r.err != nil || r.rcode != dns.RcodeSuccess:
			failed++
			t.Errorf("a query failed: %v, rcode %d", r.err, r.rcode)
		case r.bad != "":
			bad++
			t.Errorf("a signature that does not verify: %s", r.bad)
		}
	}
	t.Logf("%d queries with DO across four reloads: %d failed, %d signatures that do not verify", len(results), failed, bad)
	if len(results) < 100 {
		t.Errorf("only %d queries", len(results))
	}
}

func sortedTags(tags ...uint16) []uint16 {
	slices.Sort(tags)
	return tags
}
