package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gslb/gslb/cmd/gslb/internal/web"
	"github.com/gslb/gslb/health"
)

// update rewrites the golden files: go test ./cmd/gslb/... -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestExplainGolden pins the text of `gslb explain` on the bundled example,
// one question per policy whose answer does not depend on chance (weighted,
// round robin and adaptive picks do): a located client, ECS with its scope,
// a sticky pick, a CNAME, NXDOMAIN, a name outside every zone, and NODATA
// asked with the flags after the name. Without
// -server every check is in its start state, so nothing varies between
// runs. go test -update rewrites testdata/explain.golden.
func TestExplainGolden(t *testing.T) {
	questions := [][]string{
		{"-client", "175.16.199.7", "www.gslb.example.com"},
		{"-client", "127.0.0.1", "-ecs", "2a02:cfc0::/32", "www.gslb.example.com", "AAAA"},
		{"-client", "192.0.2.1", "www.gslb.example.com"},
		{"-client", "198.51.100.7", "app.gslb.example.com"},
		{"-client", "192.0.2.1", "docs.gslb.example.com"},
		{"-client", "192.0.2.1", "nope.gslb.example.com"},
		{"-client", "192.0.2.1", "example.org"},
		{"mail.gslb.example.com", "TXT", "-client", "192.0.2.1"},
	}
	var out bytes.Buffer
	for _, q := range questions {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"explain"}, q...), &stdout, &stderr)
		fmt.Fprintf(&out, "$ gslb explain %s\n%s", strings.Join(q, " "), stdout.String())
		if code != 0 || stderr.Len() > 0 {
			fmt.Fprintf(&out, "exit %d, stderr: %s", code, stderr.String())
		}
		out.WriteString("\n")
	}
	golden(t, "explain.golden", out.Bytes())
}

// TestExplainErrors: a bad question is a usage error, with the reason.
func TestExplainErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-client", "nope", "www.gslb.example.com"}, `gslb explain: -client "nope": want an IP address`},
		{[]string{"-client", "192.0.2.1", "-ecs", "10.0.0.0/33", "www.gslb.example.com"}, `gslb explain: -ecs "10.0.0.0/33": want a subnet such as 192.0.2.0/24`},
		{[]string{"-client", "192.0.2.1", "www.gslb.example.com", "BOGUS"}, `gslb explain: "BOGUS" is not a record type`},
		{[]string{"www.gslb.example.com"}, "gslb explain: -client IP is needed: the address of the resolver (or client) asking, e.g. -client 192.0.2.1\nRun \"gslb explain -h\" for its usage."},
		{[]string{"-client", "192.0.2.1"}, "gslb explain: a name to explain is needed: gslb explain -client IP NAME [TYPE]\nRun \"gslb explain -h\" for its usage."},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"explain"}, c.args...), &stdout, &stderr); code != 2 || strings.TrimSpace(stderr.String()) != c.want {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it after a wanted change)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestExplainServer: with -server, gslb explain prints what the running
// server's explain endpoint says, with its live health.
func TestExplainServer(t *testing.T) {
	conf := healthConfig(t, "[services.www]\nbackends = [{ name = \"one\", address = \"192.0.2.1\" }, { name = \"two\", address = \"192.0.2.2\" }]\n", "")
	ta := startApp(t, conf, "")
	ta.admin.Set("www.example.test/two", &health.Override{State: health.AdminDown, Reason: "test"}, "test")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"explain", "-server", ta.api.URL, "-client", "192.0.2.7", "www.example.test"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var want strings.Builder
	q, _ := web.ParseQuestion("www.example.test", "A", "192.0.2.7", "")
	if err := web.Explain(&want, ta.h, q); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != want.String() {
		t.Errorf("explain -server:\n%s\nwant the server's own explanation:\n%s", stdout.String(), want.String())
	}
	// The live override shows: two is left out.
	if !strings.Contains(stdout.String(), "IN A 192.0.2.1\n") || strings.Contains(stdout.String(), "IN A 192.0.2.2") {
		t.Errorf("explain -server does not follow the override:\n%s", stdout.String())
	}
}

// TestExplainDraw: a weighted answer is marked as one random draw, with
// each member's chance of being answered first.
func TestExplainDraw(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"explain", "api.gslb.example.com", "-client", "192.0.2.1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "  random draw of 1 of 3 by effective weight, chance of being first: api-1 60.0%, api-2 20.0%, api-3 20.0% (each query draws anew: this answer is one draw)\n"
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("no draw line %q in:\n%s", want, stdout.String())
	}
}
