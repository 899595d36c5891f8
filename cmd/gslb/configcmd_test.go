package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configRun runs a gslb command line without a default configuration and
// returns its exit status, stdout and stderr.
func configRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runEnv(&env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

// TestConfigOut: the effective bundled example, written into a folder,
// passes gslb check, and is its own effective configuration byte for
// byte, printed or written.
func TestConfigOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	if code, out, stderr := configRun("config", "-out", dir); code != 0 {
		t.Fatalf("config -out: exit %d\n%s%s", code, out, stderr)
	}
	main := filepath.Join(dir, "gslb.toml")
	zone := filepath.Join(dir, "zones", "gslb.example.com.toml")
	for _, f := range []string{main, zone, filepath.Join(dir, "GeoIP2-City-Test.mmdb"), filepath.Join(dir, "GeoLite2-ASN-Test.mmdb")} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if code, out, stderr := configRun("check", "-config", main); code != 0 || !strings.Contains(out, "ok (1 zone(s), 5 service(s))") {
		t.Fatalf("check of the effective example: exit %d\n%s%s", code, out, stderr)
	}
	text, _ := os.ReadFile(main)
	if want := `database = "` + filepath.Join(dir, "GeoIP2-City-Test.mmdb") + `"`; !strings.Contains(string(text), want) {
		t.Errorf("no %s in\n%s", want, text)
	}

	// Fixed point: written again from the written files.
	dir2 := filepath.Join(t.TempDir(), "again")
	if code, out, stderr := configRun("config", "-config", main, "-out", dir2); code != 0 {
		t.Fatalf("config of the effective config: exit %d\n%s%s", code, out, stderr)
	}
	for _, name := range []string{"gslb.toml", "zones/gslb.example.com.toml"} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, err := os.ReadFile(filepath.Join(dir2, name))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs the second time (%v)", name, err)
		}
	}

	// Printed, the same files follow their headers.
	code, out, stderr := configRun("config", "-config", main)
	if code != 0 {
		t.Fatalf("config: exit %d: %s", code, stderr)
	}
	z, _ := os.ReadFile(zone)
	if want := "# ==> gslb.toml <==\n" + string(text) + "\n# ==> zones/gslb.example.com.toml <==\n" + string(z); out != want {
		t.Errorf("printed:\n%.400s\nwant the written files with their headers", out)
	}
}

// TestConfigAnswersAlike: the effective example explains every service
// and some static names as the example does, for clients around the
// world and both families. Random draws are left out.
func TestConfigAnswersAlike(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := configRun("config", "-out", dir); code != 0 {
		t.Fatal(stderr)
	}
	main := filepath.Join(dir, "gslb.toml")
	names := []string{"www", "api", "edge", "app", "cdn", "mail", "docs", "x.apps", "_sip._udp", "lab", "nope"}
	clients := []string{"175.16.199.1", "81.2.69.160", "2001:480::1", "192.0.2.1", "89.160.20.113"}
	for _, n := range names {
		for _, c := range clients {
			for _, qtype := range []string{"A", "AAAA", "SRV"} {
				q := n + ".gslb.example.com"
				_, want, werr := configRun("explain", "-client", c, q, qtype)
				_, got, gerr := configRun("explain", "-config", main, "-client", c, q, qtype)
				if want, got = withoutDraws(want+werr), withoutDraws(got+gerr); want != got {
					t.Errorf("explain %s %s from %s:\nexample:\n%s\neffective:\n%s", q, qtype, c, want, got)
				}
			}
		}
	}
}

// withoutDraws drops the answer records of an explanation that drew at
// random: each run draws anew.
func withoutDraws(s string) string {
	if !strings.Contains(s, "random draw") {
		return s
	}
	var out []string
	answer := false
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "answer:") {
			answer = true
		} else if answer && strings.HasPrefix(l, "  ") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestConfigRefuses: -out does not replace files without -force, and
// writes nothing then; bad command lines exit 2, a bad configuration 1.
func TestConfigRefuses(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "zones", "gslb.example.com.toml")
	if err := os.MkdirAll(filepath.Dir(zone), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zone, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := configRun("config", "-out", dir)
	if code != 1 || !strings.Contains(stderr, zone+" exists (-force replaces it)") || !strings.Contains(stderr, "nothing written") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "gslb.toml")); err == nil {
		t.Error("gslb.toml written although a file was refused")
	}
	if code, _, stderr := configRun("config", "-out", dir, "-force"); code != 0 {
		t.Errorf("-force: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(zone); string(b) == "mine" {
		t.Error("-force did not replace the zone file")
	}

	if code, _, _ := configRun("config", "extra"); code != 2 {
		t.Errorf("an argument: exit %d", code)
	}
	if code, _, _ := configRun("config", "-force"); code != 2 {
		t.Errorf("-force without -out: exit %d", code)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("zones = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := configRun("config", "-config", bad); code != 1 || !strings.Contains(stderr, "problem(s) found") {
		t.Errorf("a bad configuration: exit %d: %s", code, stderr)
	}
}
