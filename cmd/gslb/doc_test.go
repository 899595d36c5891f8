package main

import (
	"bufio"
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
// starts it, on free ports that replace its 8053 and 9153 in the
// commands and back in their output ($GSLB_SERVER points gslb ctl at it).
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
	// The server runs on ports of its own; commands and their output have
	// the documented 8053 and 9153 swapped for them.
	var swapIn, swapOut *strings.Replacer
	env := append(os.Environ(), "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if needServer {
		s := startGSLB(t, "-dns-addr", "127.0.0.1:0", "-http-addr", "127.0.0.1:0")
		_, dnsPort, _ := strings.Cut(s.addr, ":")
		httpURL := strings.TrimSuffix(s.http, "/")
		_, httpPort, _ := strings.Cut(strings.TrimPrefix(httpURL, "http://"), ":")
		swapIn = strings.NewReplacer("8053", dnsPort, "9153", httpPort)
		swapOut = strings.NewReplacer(dnsPort, "8053", httpPort, "9153")
		env = append(env, "GSLB_SERVER="+httpURL)
		// The bundled example probes itself: wait until every backend has
		// its first result, as /readyz tells.
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
		line := c.cmd
		if swapIn != nil {
			line = swapIn.Replace(line)
		}
		cmd := exec.Command("bash", "-c", line)
		cmd.Dir, cmd.Env = root, env
		out, _ := cmd.CombinedOutput()
		if swapOut != nil {
			out = []byte(swapOut.Replace(string(out)))
		}
		got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		want := c.want
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
