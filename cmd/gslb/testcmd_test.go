package main

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// exampleTests is the bundled example's test file.
var exampleTests = filepath.Join("example", "tests", "gslb.example.com.test.toml")

// TestBundledExampleTests runs the bundled example's policy tests, as an
// operator would: gslb test FILE.
func TestBundledExampleTests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", exampleTests}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "ok\t20 case(s) passed") {
		t.Errorf("summary: %q", stdout.String())
	}
	// The same seed, the same draws: the output of -v repeats exactly.
	var a, b bytes.Buffer
	run([]string{"test", "-v", exampleTests}, &a, &stderr)
	run([]string{"test", exampleTests, "-v"}, &b, &stderr)
	if strip := func(s string) string { return s[:strings.LastIndex(s, "ok\t")] }; strip(a.String()) != strip(b.String()) {
		t.Errorf("two runs differ:\n%s\n%s", a.String(), b.String())
	}
}

// brokenTests are cases whose expectations are wrong on purpose.
const brokenTests = `[[case]]
name = "right"
query = "www.gslb.example.com"
client = "175.16.199.7"
[case.expect]
answers = ["203.0.113.10"]

[[case]]
name = "wrong pool"
query = "www.gslb.example.com"
client = "175.16.199.7"
[case.expect]
answers = ["192.0.2.10", "203.0.113.10"]
ttl = 60

[[case]]
name = "wrong shares"
query = "api.gslb.example.com"
[case.expect]
shares = { api-1 = 0.2, api-2 = 0.2, api-3 = 0.6 }
draws = 2000

[[case]]
name = "wrong rcode"
query = "nope.gslb.example.com"
[case.expect]
rcode = "NODATA"
`

// TestBrokenExpectation: failing cases print what differs, readably, and
// the run exits 1 with a summary; -junit writes a report that the JUnit
// schema accepts.
func TestBrokenExpectation(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "broken.test.toml")
	writeFile(t, f, brokenTests, 0o644)
	junit := filepath.Join(dir, "junit.xml")
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "-junit", junit, f}, &stdout, &stderr)
	want := `--- FAIL: wrong pool (` + f + ` case 2)
    answers differ:
    - want [192.0.2.10 203.0.113.10]
    + got  [203.0.113.10]
      (missing 192.0.2.10)
    ttl: got 30, want 60
--- FAIL: wrong shares (` + f + ` case 3)
    shares over 2000 draws (seed 1000005) differ by more than 0.020:
    ! 192.0.2.20       want 0.200 got 0.611
      192.0.2.21       want 0.200 got 0.190
    ! 192.0.2.22       want 0.600 got 0.199
--- FAIL: wrong rcode (` + f + ` case 4)
    rcode: got NXDOMAIN, want NODATA
FAIL	3 of 4 case(s) failed (the bundled example (no -config given))
`
	if code != 1 || stdout.String() != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, stdout.String(), want)
	}

	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var rep junitSuites
	if err := xml.Unmarshal(b, &rep); err != nil {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	if rep.Tests != 4 || rep.Failures != 3 || len(rep.Suites) != 1 || len(rep.Suites[0].Cases) != 4 ||
		rep.Suites[0].Cases[0].Failure != nil || rep.Suites[0].Cases[3].Failure.Message != "rcode: got NXDOMAIN, want NODATA" {
		t.Errorf("junit report:\n%s", b)
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("GSLB_CI") != "" {
			t.Fatal("xmllint not installed (.ci/run installs libxml2-utils)")
		}
		t.Skip("xmllint not installed")
	}
	if out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), junit).CombinedOutput(); err != nil {
		t.Errorf("xmllint --schema testdata/junit.xsd: %v\n%s", err, out)
	}
}

// TestBadTestFile: a test file with mistakes is refused with every one
// named, exit 2, before anything runs.
func TestBadTestFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.test.toml")
	writeFile(t, f, `[[case]]
name = "one"
query = "www.gslb.example.com"
helth = { a = "down" }
health = { ap-south-1 = "sideways" }
[case.expect]
rcode = "NOERRROR"

[[case]]
name = "two"
client = "not-an-ip"
[case.expect]
`, 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", f}, &stdout, &stderr)
	for _, want := range []string{
		f + `: unknown key "case.helth"`,
		f + `: case 1 (one): health "ap-south-1" = "sideways": want up, down or pending`,
		f + `: case 1 (one): expect.rcode "NOERRROR": want NOERROR, NODATA, NXDOMAIN, REFERRAL, REFUSED or SERVFAIL`,
		f + `: case 2 (two): query missing (the name asked)`,
		f + `: case 2 (two): client "not-an-ip": want an IP address`,
		f + `: case 2 (two): [case.expect] is empty: a case must expect something`,
	} {
		if !strings.Contains(stderr.String(), want+"\n") {
			t.Errorf("no line %q in:\n%s", want, stderr.String())
		}
	}
	if code != 2 || stdout.Len() > 0 {
		t.Errorf("exit %d, stdout %q", code, stdout.String())
	}
	// A backend that does not exist is a failing case, with a suggestion.
	writeFile(t, f, "[[case]]\nname = \"x\"\nquery = \"api.gslb.example.com\"\nhealth = { api-4 = \"down\" }\n[case.expect]\ncount = 1\n", 0o644)
	stdout.Reset()
	if code := run([]string{"test", f}, &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), `health "api-4": no such backend; did you mean "api-1"?`) {
		t.Errorf("exit %d:\n%s", code, stdout.String())
	}
}
