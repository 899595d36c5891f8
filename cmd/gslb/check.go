package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/safefile"
	"github.com/gslb/gslb/zones"
)

// checkOpts are the flags of gslb check.
type checkOpts struct {
	config, stateDir *string
}

func checkCommand() *command {
	return &command{
		name:    "check",
		summary: "check the configuration, every zone file and the state directory; print every problem",
		help: "Check the main configuration and every zone file it names, the token and\n" +
			"GeoIP files, and that the state directory is a writable folder. Every\n" +
			"problem is printed once, as file:line:col: message, sorted; warnings say\n" +
			"\"warning:\" and do not fail the check.",
		exit: "0  valid\n1  not valid: the problems are on stderr\n2  bad command line",
		flags: func(fs *flag.FlagSet) any {
			return &checkOpts{
				config:   configFlag(fs),
				stateDir: fs.String("state-dir", "", "check `DIR` as the state directory, as serve -state-dir uses it (default: [state] dir, else a \"state\" folder beside the main file)"),
			}
		},
		run: func(e *env, o any, args []string) int { return check(e, o.(*checkOpts), args) },
	}
}

// check validates a configuration and prints every problem found, one per
// line as file:line:col: message. It exits 0 when the configuration is
// valid and 1 when it is not.
func check(e *env, o *checkOpts, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	if len(args) > 0 {
		return usageError(e, "check", "unexpected argument %q", args[0])
	}
	src := e.configFrom(*o.config)
	config, stateDirFlag := &src.path, o.stateDir
	snap, err := loadConfig(*config)
	if err != nil {
		n := printErrors(stderr, err)
		fmt.Fprintf(stderr, "%d problem(s) found\n", n)
		return 1
	}
	for _, w := range snap.Warnings {
		fmt.Fprintln(stderr, w)
	}
	// The files serve reads besides the zones: a bad one would stop it.
	failed := false
	if _, err := readToken(snap.Config.AdminTokenFile); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", snap.Config.File, err)
		failed = true
	} else if _, _, err := httpSecrets(snap.Config); err != nil {
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
		if src, err := safefile.Read(f, snap.Config.StateFileMax); err == nil {
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
	fmt.Fprintf(stdout, "%s: ok (%d zone(s), %d service(s))\n", src.why, len(snap.Zones), services)
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
