package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docCommand is one command a document shows in a ```console block, with
// the output it shows.
type docCommand struct {
	file string
	line int
	cmd  string
	want []string
}

// docCommands reads the ```console blocks of a Markdown file: "$ " lines
// are commands, the lines up to the next command or the block's end are
// their output.
func docCommands(t *testing.T, path string) []docCommand {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docCommand
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case !in && strings.TrimSpace(l) == "```console":
			in = true
		case in && strings.TrimSpace(l) == "```":
			in = false
		case in && strings.HasPrefix(l, "$ "):
			out = append(out, docCommand{file: path, line: n, cmd: strings.TrimPrefix(l, "$ ")})
		case in && len(out) > 0 && out[len(out)-1].line > 0:
			out[len(out)-1].want = append(out[len(out)-1].want, l)
		}
	}
	return out
}

// docLineMatches compares an output line with the line a document shows:
// "<any>" in the document stands for any text (a time, a hash, a random
// draw); trailing spaces do not count.
func docLineMatches(want, got string) bool {
	want, got = strings.TrimRight(want, " "), strings.TrimRight(got, " ")
	if !strings.Contains(want, "<any>") {
		return want == got
	}
	parts := strings.Split(want, "<any>")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(got)
}

// TestDocCommands runs every command that README.md and docs/*.md show in
// a ```console block, from the repository's root with this build's gslb
// first in PATH, and compares its output (stdout and stderr) with the
// text shown, line by line. Commands that ask a server (dig, gslb ctl,
// curl) get the bundled example running, as the README's first command
// starts it, on its own addresses (127.0.0.1:8053, HTTP 127.0.0.1:9153),
// with the identity "vm". dig's output is normalised as README.md says
// (digNormal).
func TestDocCommands(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var cmds []docCommand
	for _, f := range files {
		cmds = append(cmds, docCommands(t, f)...)
	}
	if len(cmds) == 0 {
		t.Fatal("no ```console blocks in README.md or docs/")
	}
	needServer := false
	for _, c := range cmds {
		if regexp.MustCompile(`^(dig|curl|gslb ctl|gslb explain .*-server)\b`).MatchString(c.cmd) {
			needServer = true
		}
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if needServer {
		// The bundled example probes its own fixed ports (8053, 9153):
		// it must run there, as the README starts it.
		for _, a := range []string{"udp:127.0.0.1:8053", "tcp:127.0.0.1:8053", "tcp:127.0.0.1:9153"} {
			network, addr, _ := strings.Cut(a, ":")
			if busy := portBusy(network, addr); busy != nil {
				if os.Getenv("GSLB_CI") != "" {
					t.Fatalf("%s %s is taken (%v): the bundled example needs it", network, addr, busy)
				}
				t.Skipf("%s %s is taken (%v): another gslb runs the bundled example", network, addr, busy)
			}
		}
		// -id vm: the host name of the machine the README's examples
		// were taken on, which CHAOS id.server answers.
		s := startGSLB(t, "-id", "vm")
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: time.Second}
		waitFor(t, "the bundled example to be ready", 15*time.Second, func() bool {
			resp, err := hc.Get(s.http + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	for _, c := range cmds {
		rel, _ := filepath.Rel(root, c.file)
		cmd := exec.Command("bash", "-c", c.cmd)
		cmd.Dir, cmd.Env = root, env
		out, _ := cmd.CombinedOutput()
		got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		want := c.want
		if strings.HasPrefix(c.cmd, "dig ") {
			got = digNormal(got, want)
		}
		for len(want) > 0 && strings.TrimSpace(want[len(want)-1]) == "" {
			want = want[:len(want)-1]
		}
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = docLineMatches(want[i], got[i])
		}
		if !ok {
			t.Errorf("%s:%d: $ %s\n--- the document shows\n%s\n--- it prints\n%s", rel, c.line, c.cmd, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
	t.Logf("%d commands of README.md and docs/ checked", len(cmds))
}

// digNormal applies the README's normalisation of dig's output: the
// message ID is left to the document, and the lines the document leaves
// out of all but its first example (";; Got answer:", the OPT
// pseudosection with its COOKIE line, blank lines) are dropped when it
// does not show them.
func digNormal(got, want []string) []string {
	shows := func(prefix string) bool {
		for _, w := range want {
			if strings.HasPrefix(w, prefix) {
				return true
			}
		}
		return false
	}
	id := regexp.MustCompile(`, id: \d+$`)
	var wantID string
	for _, w := range want {
		if m := id.FindString(w); m != "" {
			wantID = m
		}
	}
	var out []string
	for _, g := range got {
		switch {
		case g == "" && !shows(";; OPT"):
			continue
		case strings.HasPrefix(g, ";; Got answer:") && !shows(";; Got answer:"):
			continue
		case (strings.HasPrefix(g, ";; OPT PSEUDOSECTION:") || strings.HasPrefix(g, "; EDNS:")) && !shows(";; OPT"):
			continue
		case strings.HasPrefix(g, "; COOKIE:") && !shows("; COOKIE:"):
			// dig sends a client cookie and prints the server's reply in
			// the OPT section, which the document leaves out.
			continue
		}
		if wantID != "" {
			g = id.ReplaceAllString(g, wantID)
		}
		out = append(out, g)
	}
	return out
}

// portBusy tells whether addr can be listened on, nil if it can.
func portBusy(network, addr string) error {
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
	}
	return err
}
