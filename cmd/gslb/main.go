// Command gslb is an authoritative DNS server that answers for services
// with the addresses of their backends: a global server load balancer.
//
// Usage:
//
//	gslb serve [-config FILE] [-state-dir DIR] [-dns-addr IP:PORT ...] [-http-addr IP:PORT]
//	gslb check [-config FILE] [-state-dir DIR]
//	gslb explain [-config FILE] [-server URL] -client IP [-ecs SUBNET] NAME [TYPE]
//	gslb version
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
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `gslb: an authoritative DNS global server load balancer

Usage:
  gslb serve [-config FILE] [-state-dir DIR] [-dns-addr IP:PORT ...] [-http-addr IP:PORT]
        answer DNS queries (without -config: the bundled example)
  gslb check [-config FILE] [-state-dir DIR]
        check the configuration, every zone file and the state directory,
        print every problem
  gslb explain [-config FILE] [-server URL] -client IP [-ecs SUBNET] NAME [TYPE]
        explain the answer a client gets, step by step
  gslb version
        print the version

Run "gslb COMMAND -h" for the flags of a command.
`

// run dispatches a command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "explain":
		return explainCmd(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gslb: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
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
