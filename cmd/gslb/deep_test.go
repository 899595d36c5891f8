package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckDeepFiles runs `gslb check` on a main file and on a zone file
// nested far beyond the depth limit (arrays 100,000 deep, 200 KB; 20,000
// inline tables): each is rejected with an error at the place it goes too
// deep, in under a second and 100 MiB of peak memory, because the position
// scanner stops at level 65 before the TOML library sees the file.
func TestCheckDeepFiles(t *testing.T) {
	arrays := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	tables := strings.Repeat("{ b = ", 20000) + "1" + strings.Repeat(" }", 20000)
	const tooDeep = `nested more than 64 levels deep \(tables, arrays and dotted keys counted together\)`
	cases := []struct {
		name  string
		files map[string]string
		want  string // a regular expression for the error line
	}{
		// [server] x is 2 levels, the array of x none, each element one:
		// the 63rd element, at column 6+62, is level 65.
		{"main file, nested arrays", map[string]string{
			"gslb.toml":               mainTOML + "x = " + arrays + "\n",
			"zones/example.test.toml": zoneTOML,
		}, `^.*/gslb\.toml:5:68: ` + tooDeep + `$`},
		// Each "{ b = " is 6 bytes and one level: the 63rd b, at column
		// 7+62*6, is level 65.
		{"main file, nested inline tables", map[string]string{
			"gslb.toml":               mainTOML + "x = " + tables + "\n",
			"zones/example.test.toml": zoneTOML,
		}, `^.*/gslb\.toml:5:379: ` + tooDeep + `$`},
		// records.a.A is 3 levels: the 62nd element, at column 12+61.
		{"zone file, nested arrays", map[string]string{
			"gslb.toml":               mainTOML,
			"zones/example.test.toml": zoneTOML + "[records]\na = { A = " + arrays + " }\n",
		}, `^.*/zones/example\.test\.toml:10:73: ` + tooDeep + `$`},
		// services.www.x is 3 levels: the 62nd b, at column 7+61*6.
		{"zone file, nested inline tables", map[string]string{
			"gslb.toml":               mainTOML,
			"zones/example.test.toml": zoneTOML + "x = " + tables + "\n",
		}, `^.*/zones/example\.test\.toml:9:373: ` + tooDeep + `$`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, "check", "-config", filepath.Join(dir, "gslb.toml"))
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			wall := time.Since(start)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want 1; stderr:\n%.2000s", err, stderr.String())
			}
			// Maxrss is the child's peak resident set size, in KiB on Linux.
			rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
			t.Logf("%s: %v wall, %.1f MiB peak RSS", c.name, wall.Round(time.Millisecond), float64(rss)/(1<<20))
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 2 || !regexp.MustCompile(c.want).MatchString(lines[0]) || lines[1] != "1 problem(s) found" {
				t.Errorf("stderr:\n%.2000s\nwant a line matching %s and \"1 problem(s) found\"", stderr.String(), c.want)
			}
			if wall > time.Second {
				t.Errorf("took %v, want under 1 s", wall)
			}
			if rss > 100<<20 {
				t.Errorf("peak RSS %.1f MiB, want under 100 MiB", float64(rss)/(1<<20))
			}
		})
	}
}
