package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// notWritableDir returns a folder that exists and in which this process
// cannot create files: a read-only one for a normal user; as root, who
// ignores permission bits, /sys.
func notWritableDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(d, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(d, 0o700) })
	if writable(d) != nil {
		return d
	}
	if fi, err := os.Stat("/sys"); err == nil && fi.IsDir() && writable("/sys") != nil {
		return "/sys"
	}
	t.Skip("no folder this process cannot write to")
	return ""
}

func TestCheckStateDir(t *testing.T) {
	roDir := notWritableDir(t)
	cases := []struct {
		name  string
		state func(dir string) string // the main file's [state] and [admin] part
		code  int
		lines []string // regular expressions for stderr, in order; nil: none
	}{
		{"explicit, exists", func(dir string) string {
			os.Mkdir(filepath.Join(dir, "st"), 0o700)
			return "[state]\ndir = \"st\"\n"
		}, 0, nil},
		{"explicit, missing", func(string) string { return "\n[state]\n  dir = \"nope\"\n" }, 1, []string{
			`^.*/gslb\.toml:8:3: \[state\] dir ".*/nope": does not exist$`,
		}},
		{"explicit, a file", func(dir string) string {
			os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
			return "[state]\ndir = \"f\"\n"
		}, 1, []string{`^.*/gslb\.toml:7:1: \[state\] dir ".*/f": not a directory$`}},
		{"explicit, not writable", func(string) string { return "[state]\ndir = \"" + roDir + "\"\n" }, 1, []string{
			`^.*/gslb\.toml:7:1: \[state\] dir "` + regexp.QuoteMeta(roDir) + `": not writable: permission denied$`,
		}},
		// The default, a "state" folder beside the main file, need not
		// exist: serve creates it.
		{"default", func(string) string { return "" }, 0, nil},
		{"deprecated state_file", func(string) string { return "[admin]\nstate_file = \"admin.toml\"\n" }, 0, []string{
			`^.*/gslb\.toml:7:1: warning: \[admin\] state_file is deprecated: set \[state\] dir to a folder and move the file into it as admin-overrides\.toml \(docs/state\.md\)$`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"zones/example.test.toml": zoneTOML})
			os.WriteFile(filepath.Join(dir, "gslb.toml"), []byte(mainTOML+"\n"+c.state(dir)), 0o644)
			var stdout, stderr bytes.Buffer
			code := run([]string{"check", "-config", filepath.Join(dir, "gslb.toml")}, &stdout, &stderr)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.code, stderr.String())
			}
			if c.lines == nil {
				if stderr.Len() > 0 {
					t.Errorf("stderr: %s", stderr.String())
				}
				return
			}
			matchStderrLines(t, stderr.String(), c.lines)
		})
	}
}

func TestCheckStateDirFlag(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML + "[state]\ndir = \"nope\"\n", "zones/example.test.toml": zoneTOML})
	var stdout, stderr bytes.Buffer
	// The flag overrides the key: the missing folder it names is not looked at.
	if code := run([]string{"check", "-config", filepath.Join(dir, "gslb.toml"), "-state-dir", t.TempDir()}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	missing := filepath.Join(dir, "missing")
	if code := run([]string{"check", "-config", filepath.Join(dir, "gslb.toml"), "-state-dir", missing}, &stdout, &stderr); code != 1 ||
		strings.TrimSpace(stderr.String()) != `-state-dir "`+missing+`": does not exist` {
		t.Errorf("exit %d: %q", code, stderr.String())
	}
}

func TestResolveState(t *testing.T) {
	dir := writeFiles(t, map[string]string{"zones/example.test.toml": zoneTOML})
	cases := []struct {
		name, state, flag string
		wantDir, wantFrom string
		wantAdmin         string
	}{
		{"default", "", "", "state", "default", "state/admin-overrides.toml"},
		{"key", "[state]\ndir = \"var\"\n", "", "var", "[state] dir", "var/admin-overrides.toml"},
		{"flag over key", "[state]\ndir = \"var\"\n", "/srv/gslb", "/srv/gslb", "-state-dir", "/srv/gslb/admin-overrides.toml"},
		{"legacy file alone", "[admin]\nstate_file = \"admin.toml\"\n", "", "", "none ([admin] state_file set)", "admin.toml"},
		{"legacy file and key", "[admin]\nstate_file = \"admin.toml\"\n[state]\ndir = \"var\"\n", "", "var", "[state] dir", "admin.toml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(dir, "gslb.toml")
			os.WriteFile(conf, []byte(mainTOML+c.state), 0o644)
			snap, err := loadConfig(conf)
			if err != nil {
				t.Fatal(err)
			}
			s := resolveState(conf, c.flag, snap.Config)
			abs := func(p string) string {
				if p == "" || filepath.IsAbs(p) {
					return p
				}
				return filepath.Join(dir, p)
			}
			if s.Dir != abs(c.wantDir) || s.From != c.wantFrom || s.AdminFile != abs(c.wantAdmin) {
				t.Errorf("got %+v, want dir %q from %q, admin file %q", s, abs(c.wantDir), c.wantFrom, abs(c.wantAdmin))
			}
		})
	}
	// The bundled example is in the binary: nothing beside it to write to.
	snap, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if s := resolveState("", "", snap.Config); s.Dir != "" || s.AdminFile != "" || s.From != "none (bundled example)" {
		t.Errorf("bundled example: %+v", s)
	}
}

// TestVerifyDefault: a default folder that cannot be created is reported
// with the way out; check shows it as a warning (serve starts without it).
func TestVerifyDefault(t *testing.T) {
	ro := notWritableDir(t)
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	snap, err := loadConfig(filepath.Join(dir, "gslb.toml"))
	if err != nil {
		t.Fatal(err)
	}
	s := stateDir{Dir: filepath.Join(ro, "state"), From: "default"}
	// Root is refused /sys with EPERM, others a read-only folder with EACCES.
	want := "^" + regexp.QuoteMeta(snap.Config.File+`: state directory "`+s.Dir+`" (the default, beside the main file): `) + "%s" +
		regexp.QuoteMeta("; set [state] dir to a writable folder, such as /var/lib/gslb") + "$"
	denied := "(permission denied|operation not permitted)"
	if err := s.verify(snap.Config, false); err == nil || !regexp.MustCompile(fmt.Sprintf(want, "does not exist and cannot be created: "+denied)).MatchString(err.Error()) {
		t.Errorf("check: %v", err)
	}
	if err := s.verify(snap.Config, true); err == nil || !regexp.MustCompile(fmt.Sprintf(want, "cannot create it: "+denied)).MatchString(err.Error()) {
		t.Errorf("serve: %v", err)
	}
}

// TestServeStateDir: serve creates the default state folder and keeps the
// overrides in it, and refuses to start with a named folder it cannot use.
func TestServeStateDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	s := startGSLB(t, "-config", filepath.Join(dir, "gslb.toml"))
	state := filepath.Join(dir, "state")
	if fi, err := os.Stat(state); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("default state folder: %v %v", fi, err)
	}
	waitFor(t, "the start-up line", 5*time.Second, func() bool {
		return strings.Contains(s.logText(), `state_dir="`+state+` (default)" admin_state_file=`+filepath.Join(state, "admin-overrides.toml"))
	})

	bad := writeFiles(t, map[string]string{"gslb.toml": mainTOML + "[state]\ndir = \"gone\"\n", "zones/example.test.toml": zoneTOML})
	out, err := exec.Command(binary, "serve", "-config", filepath.Join(bad, "gslb.toml")).CombinedOutput()
	if err == nil || !regexp.MustCompile(`(?m)^gslb serve: .*/gslb\.toml:6:1: \[state\] dir ".*/gone": does not exist$`).Match(out) {
		t.Errorf("serve with a missing state dir: %v\n%s", err, out)
	}
}

func TestServeBundledExampleStateless(t *testing.T) {
	s := startGSLB(t, "-dns-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
	waitFor(t, "the start-up line", 5*time.Second, func() bool { return strings.Contains(s.logText(), "gslb started") })
	log := s.logText()
	if !strings.Contains(log, `msg="admin overrides are not persisted: no state directory" state_dir="none (bundled example)"`) {
		t.Errorf("the log does not say that overrides are not kept:\n%s", log)
	}
}

// TestStateLayout: docs/state.md, the one description of the state
// directory, has a row for every file gslb writes there.
func TestStateLayout(t *testing.T) {
	doc, err := os.ReadFile("../../docs/state.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range stateFiles {
		if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(f) + "` \\|").Match(doc) {
			t.Errorf("docs/state.md has no layout row for %s", f)
		}
	}
}
