package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// DefaultConfig is the configuration check, serve and the other commands
// read without -config, when it exists (BIND's /etc/bind/named.conf,
// gdnsd's /etc/gdnsd/config).
const DefaultConfig = "/etc/gslb/gslb.toml"

// env is what a command reads besides its command line: where it writes,
// the default configuration and the environment.
type env struct {
	stdout, stderr io.Writer
	// defaultConfig is used without -config when it exists; otherwise the
	// bundled example is.
	defaultConfig string
	getenv        func(string) string
}

// command is one gslb command: the one description its usage, the
// top-level usage, the man page and the shell completion are made from.
type command struct {
	name    string
	args    string // positional arguments after the flags, as in a synopsis
	summary string // one line
	help    string // what it does, in paragraphs
	exit    string // its exit statuses, one per line: "0  ..."
	// flags declares the command's flags on fs and returns the values the
	// command reads; run gets them back.
	flags func(fs *flag.FlagSet) any
	run   func(e *env, opts any, args []string) int
	// words completes the positional arguments in bash: "names" (service
	// and backend names are not known offline, so nothing), "files", or a
	// fixed list.
	words []string
}

// commands lists gslb's commands in the order usage shows them.
func commands() []*command {
	return []*command{serveCommand(), checkCommand(), explainCommand(), testCommand(), ctlCommand(), configCommand(), clusterCommand(), dnssecCommand(), versionCommand(), helpCommand()}
}

// findCommand returns the command of that name, nil if none.
func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// flagSet returns c's flags, declared on a new set that reports errors to
// w and prints no usage by itself.
func (c *command) flagSet(w io.Writer) (*flag.FlagSet, any) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {}
	var opts any
	if c.flags != nil {
		opts = c.flags(fs)
	}
	return fs, opts
}

// synopsis is the command's line in a usage: every flag, then its
// arguments.
func (c *command) synopsis() string {
	fs, _ := c.flagSet(io.Discard)
	parts := []string{"gslb", c.name}
	fs.VisitAll(func(f *flag.Flag) {
		arg, _ := flag.UnquoteUsage(f)
		if arg == "" {
			parts = append(parts, "[-"+f.Name+"]")
		} else {
			parts = append(parts, "[-"+f.Name+" "+arg+"]")
		}
	})
	if c.args != "" {
		parts = append(parts, c.args)
	}
	return strings.Join(parts, " ")
}

// usage writes the command's help: synopsis, description, flags and exit
// statuses.
func (c *command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.synopsis(), c.help)
	fs, _ := c.flagSet(w)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags (before or after the arguments):")
		fs.PrintDefaults()
	}
	if c.exit != "" {
		fmt.Fprintf(w, "\nExit status:\n%s\n", indent(c.exit, "  "))
	}
}

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// exec parses args and runs the command: -h prints the help on stdout
// and exits 0, a bad command line says what is wrong and exits 2.
func (c *command) exec(e *env, args []string) int {
	fs, opts := c.flagSet(e.stderr)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		c.usage(e.stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "Run \"gslb %s -h\" for its usage.\n", c.name)
		return 2
	}
	return c.run(e, opts, pos)
}

// parseInterspersed parses flags anywhere among the arguments, as dig and
// most modern tools do ("gslb explain NAME -client IP"); "--" ends the
// flags. It returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageError writes a command line problem and the hint to -h; its exit
// status is 2.
func usageError(e *env, cmd, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "gslb %s: %s\nRun \"gslb %s -h\" for its usage.\n", cmd, fmt.Sprintf(format, a...), cmd)
	return 2
}

// configSource is the configuration a command reads: the path, "" for
// the bundled example, and words saying why, for the operator.
type configSource struct {
	path string
	why  string
}

// configFrom resolves -config: the flag when given, else DefaultConfig
// when it exists, else the bundled example.
func (e *env) configFrom(flagValue string) configSource {
	if flagValue != "" {
		return configSource{path: flagValue, why: flagValue}
	}
	if e.defaultConfig != "" {
		if _, err := os.Stat(e.defaultConfig); err == nil {
			return configSource{path: e.defaultConfig, why: e.defaultConfig + " (the default; -config names another)"}
		}
	}
	why := "the bundled example (no -config given"
	if e.defaultConfig != "" {
		why += " and no " + e.defaultConfig
	}
	return configSource{why: why + ")"}
}

// configFlag declares -config.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "main configuration `FILE` (default: "+DefaultConfig+" if it exists, else the bundled example)")
}

// topUsage is gslb's own usage: every command with its synopsis.
func topUsage(w io.Writer) {
	fmt.Fprintln(w, "gslb: an authoritative DNS global server load balancer\n\nUsage:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n%s\n", c.synopsis(), indent(c.summary, "        "))
	}
	fmt.Fprintln(w, "\nRun \"gslb COMMAND -h\" for a command's flags and exit statuses,\n\"gslb help man\" for the manual page, \"gslb help bash\" for bash completion.")
}

// run dispatches a command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(&env{stdout: stdout, stderr: stderr, getenv: os.Getenv}, args)
}

// runEnv is run with an environment of the caller's.
func runEnv(e *env, args []string) int {
	if len(args) == 0 {
		topUsage(e.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		topUsage(e.stdout)
		return 0
	case "-version", "--version":
		args = []string{"version"}
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(e.stderr, "gslb: unknown command %q\n\n", args[0])
		topUsage(e.stderr)
		return 2
	}
	return c.exec(e, args[1:])
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version",
		help:    "Print gslb's version, the commit it was built from and the Go version.",
		exit:    "0  always",
		run: func(e *env, _ any, args []string) int {
			if len(args) > 0 {
				return usageError(e, "version", "unexpected argument %q", args[0])
			}
			fmt.Fprintln(e.stdout, versionString())
			return 0
		},
	}
}

func helpCommand() *command {
	return &command{
		name:    "help",
		args:    "[COMMAND | man | bash]",
		summary: "print help: of a command, the manual page (roff), or bash completion",
		help: "Without an argument, print the list of commands. With a command, its usage.\n" +
			"\"man\" prints the manual page in roff (gslb help man | man -l -), \"bash\" a\n" +
			"bash completion script (gslb help bash > /etc/bash_completion.d/gslb).",
		exit:  "0  printed\n2  no such command or topic",
		words: []string{"man", "bash", "serve", "check", "explain", "test", "ctl", "config", "cluster", "version"},
		run: func(e *env, _ any, args []string) int {
			switch {
			case len(args) == 0:
				topUsage(e.stdout)
			case len(args) > 1:
				return usageError(e, "help", "one topic at a time")
			case args[0] == "man":
				manPage(e.stdout)
			case args[0] == "bash":
				bashCompletion(e.stdout)
			default:
				c := findCommand(args[0])
				if c == nil {
					return usageError(e, "help", "no command or topic %q: want a command, man or bash", args[0])
				}
				c.usage(e.stdout)
			}
			return 0
		},
	}
}
