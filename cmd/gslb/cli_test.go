package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConfigDefault: without -config, commands read the default file when
// it exists, else the bundled example, and check says which it checked.
func TestConfigDefault(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "gslb.toml")
	missing := filepath.Join(dir, "missing.toml")
	writeFile(t, def, "zones = [\"zones\"]\n", 0o644)
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), ctlZone, 0o644)
	for _, c := range []struct {
		name, defaultConfig, flag string
		path, stdout              string
	}{
		{"flag wins", def, "other.toml", "other.toml", ""},
		{"default exists", def, "", def, def + " (the default; -config names another): ok (1 zone(s), 2 service(s))\n"},
		{"no default", missing, "", "", "the bundled example (no -config given and no " + missing + "): ok (1 zone(s), 5 service(s))\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdout: &stdout, stderr: &stderr, defaultConfig: c.defaultConfig, getenv: func(string) string { return "" }}
			if got := e.configFrom(c.flag).path; got != c.path {
				t.Errorf("config %q, want %q", got, c.path)
			}
			if c.stdout == "" {
				return
			}
			if code := runEnv(e, []string{"check"}); code != 0 {
				t.Fatalf("check: exit %d: %s", code, stderr.String())
			}
			// The bundled example's pending-start note follows the first line.
			if first, _, _ := strings.Cut(stdout.String(), "\n"); first+"\n" != c.stdout {
				t.Errorf("check said %q, want %q", first, c.stdout)
			}
		})
	}
}

// TestInterspersed: flags may follow the arguments; "--" ends them.
func TestInterspersed(t *testing.T) {
	for _, c := range []struct {
		args   []string
		pos    []string
		client string
	}{
		{[]string{"-client", "192.0.2.1", "www", "AAAA"}, []string{"www", "AAAA"}, "192.0.2.1"},
		{[]string{"www", "-client", "192.0.2.1", "AAAA"}, []string{"www", "AAAA"}, "192.0.2.1"},
		{[]string{"www", "AAAA", "-client=192.0.2.1"}, []string{"www", "AAAA"}, "192.0.2.1"},
		{[]string{"-client", "192.0.2.1", "--", "-www"}, []string{"-www"}, "192.0.2.1"},
		{[]string{"www", "--", "-client", "x"}, []string{"www", "-client", "x"}, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		client := fs.String("client", "", "")
		pos, err := parseInterspersed(fs, c.args)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || *client != c.client {
			t.Errorf("%q: %q client %q err %v, want %q client %q", c.args, pos, *client, err, c.pos, c.client)
		}
	}
}

// TestManPage: docs/gslb.1 is what "gslb help man" prints (go test
// -update rewrites it), and groff reads it without a warning.
func TestManPage(t *testing.T) {
	var out, stderr bytes.Buffer
	if code := run([]string{"help", "man"}, &out, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	path := filepath.Join("..", "..", "docs", "gslb.1")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/gslb -run TestManPage -update writes it)", err)
	}
	if !bytes.Equal(want, out.Bytes()) {
		t.Errorf("%s is not what gslb help man prints: go test ./cmd/gslb -run TestManPage -update", path)
	}
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("GSLB_CI") != "" {
			t.Fatal("groff not installed (.ci/run installs groff-base)")
		}
		t.Skip("groff not installed")
	}
	cmd := exec.Command(groff, "-man", "-ww", "-z", "-rCHECKSTYLE=3", path)
	b, err := cmd.CombinedOutput()
	if err != nil || len(b) > 0 {
		t.Errorf("groff -man -ww: %v\n%s", err, b)
	}
	text, err := exec.Command(groff, "-man", "-Tutf8", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SYNOPSIS", "gslb ctl", "Exit status", "/etc/gslb/gslb.toml", "-token-file"} {
		if !strings.Contains(stripOverstrike(string(text)), want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}

// stripOverstrike removes groff's bold and underline overstrikes and
// turns its hyphens into ASCII.
func stripOverstrike(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i := 0; i < len(r); i++ {
		if i+1 < len(r) && r[i+1] == '\b' {
			i++
			continue
		}
		switch r[i] {
		case '\u2010', '\u2212':
			b.WriteRune('-')
		default:
			b.WriteRune(r[i])
		}
	}
	return b.String()
}

// TestBashCompletion sources the completion script in a real bash and
// completes commands, flags, subcommands and files.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	var script, stderr bytes.Buffer
	if code := run([]string{"help", "bash"}, &script, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "gslb.bash")
	writeFile(t, f, script.String(), 0o644)
	writeFile(t, filepath.Join(dir, "site.toml"), "", 0o644)
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{"gslb", "c"}, "check ctl config cluster"},
		{[]string{"gslb", "check", "-c"}, "-config"},
		{[]string{"gslb", "ctl", "dr"}, "drain"},
		{[]string{"gslb", "ctl", "-t"}, "-token-file"},
		{[]string{"gslb", "serve", "-config", "si"}, "site.toml"},
		{[]string{"gslb", "help", "m"}, "man"},
	} {
		words := strings.Join(c.words, " ")
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", `source "$1"; COMP_WORDS=($2); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _gslb; echo "${COMPREPLY[*]}"`, "bash", f, words)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != c.want {
			t.Errorf("complete %q: %q (%v), want %q", words, out, err, c.want)
		}
	}
}

// TestCheckWarns: check prints a setting that does nothing as a warning
// with its position, and still passes.
func TestCheckWarns(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gslb.toml"), "zones = [\"zones\"]\n", 0o644)
	writeFile(t, filepath.Join(dir, "zones", "ex.test.toml"), strings.Replace(ctlZone, `{ name = "eu-1", address = "192.0.2.1" }`, `{ name = "eu-1", address = "192.0.2.1", weight = 5 }`, 1), 0o644)
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "-config", filepath.Join(dir, "gslb.toml")}, &stdout, &stderr)
	want := filepath.Join(dir, "zones", "ex.test.toml") + `:10:43: warning: services.www.backends[0].weight: weight 5 does nothing with members = "all"`
	if code != 0 || !strings.HasPrefix(stderr.String(), want) {
		t.Errorf("exit %d, stderr %q, want 0 and %q", code, stderr.String(), want)
	}
}
