// Command gslb is an authoritative DNS server that answers for services
// with the addresses of their backends: a global server load balancer.
//
// Usage:
//
//	gslb serve [-config FILE] ...       answer DNS queries
//	gslb check [-config FILE] ...       check the configuration
//	gslb explain -client IP NAME [TYPE] explain an answer
//	gslb test TESTFILE...               run policy tests offline
//	gslb ctl COMMAND ...                control a running server
//	gslb config [-config FILE]          print the effective configuration
//	gslb help [COMMAND | man | bash]    help, manual page, completion
//
// Without -config, commands read /etc/gslb/gslb.toml when it exists and
// otherwise the bundled example. "gslb help man" prints the manual page.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/gslb/gslb/zones"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, defaultConfig: DefaultConfig, getenv: os.Getenv}
	os.Exit(runEnv(e, os.Args[1:]))
}

// versionString is the version with the commit it was built from, when
// the build recorded one.
func versionString() string {
	v := "gslb " + version
	commit, gover := buildMeta()
	if commit != "unknown" {
		v += " (" + commit + ")"
	}
	return v + " " + gover
}

// buildMeta returns the commit the binary was built from ("unknown" when
// the build did not record it) and the Go version.
func buildMeta() (commit, goVersion string) {
	commit, goVersion = "unknown", runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				commit = s.Value[:12]
			}
		}
	}
	return commit, goVersion
}

// printErrors prints a loading error, one line per problem (file:line:col:
// message), and returns how many there were.
func printErrors(w io.Writer, err error) int {
	var list zones.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e)
		}
		return len(list)
	}
	fmt.Fprintln(w, err)
	return 1
}
