package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// check validates a configuration and prints every problem found, one per
// line as file:line:col: message. It exits 0 when the configuration is
// valid and 1 when it is not.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "main configuration `file` (default: the bundled example)")
	stateDirFlag := fs.String("state-dir", "", "check `DIR` as the state directory, as serve -state-dir uses it (default: [state] dir, else a \"state\" folder beside the main file)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gslb check [-config FILE] [-state-dir DIR]\n\nCheck the configuration and every zone file it names, and that the state\ndirectory is a writable folder; print every problem.\nExit status 0: valid; 1: invalid.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gslb check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	snap, err := loadConfig(*config)
	if err != nil {
		n := printErrors(stderr, err)
		fmt.Fprintf(stderr, "%d problem(s) found\n", n)
		return 1
	}
	// The files serve reads besides the zones: a bad one would stop it.
	failed := false
	if _, err := readToken(snap.Config.AdminTokenFile); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", snap.Config.File, err)
		failed = true
	}
	st := resolveState(*config, *stateDirFlag, snap.Config)
	if err := st.verify(snap.Config, false); err != nil {
		if snap.Config.AdminStateFile == "" {
			st.AdminFile = "" // in the folder just reported
		}
		if st.explicit() {
			fmt.Fprintln(stderr, err)
			failed = true
		} else if e := (*zones.Error)(nil); errors.As(err, &e) {
			// serve runs without the default folder, persisting nothing.
			w := *e
			w.Msg = "warning: " + w.Msg + " (serve would keep admin overrides in memory only)"
			fmt.Fprintln(stderr, &w)
		}
	}
	if w := stateFileWarning(snap.Config); w != "" {
		fmt.Fprintln(stderr, w)
	}
	if f := st.AdminFile; f != "" {
		if src, err := os.ReadFile(f); err == nil {
			if _, err := health.ParseStateFile(f, src); err != nil {
				fmt.Fprintln(stderr, err)
				failed = true
			}
		} else if !os.IsNotExist(err) {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			failed = true
		}
	}
	if *config != "" || snap.Config.HasGeo() {
		if l, err := openGeo(*config, snap.Config, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", snap.Config.File, err)
			failed = true
		} else if l != nil {
			l.Close()
		}
	}
	if failed {
		return 1
	}
	services := 0
	for _, z := range snap.Zones {
		services += len(z.Services)
	}
	fmt.Fprintf(stdout, "%s: ok (%d zone(s), %d service(s))\n", snap.Config.File, len(snap.Zones), services)
	if n := pendingAtStart(snap); n > 0 {
		fmt.Fprintf(stdout, "note: %d backend(s) are in no answer until their first probe result (start = \"pending\", the default since 0.5; start = \"up\" answers them until they fail, as before)\n", n)
	}
	return 0
}

// pendingAtStart counts the backends whose check starts pending: the
// default since 0.5, a change operators of older versions should hear of.
func pendingAtStart(snap *zones.Snapshot) int {
	n := 0
	for _, svc := range snap.Services() {
		for _, b := range svc.Backends {
			if k := b.Check.Kind; k != "" && k != health.KindNone && b.Check.Start == health.StartPending {
				n++
			}
		}
	}
	return n
}
