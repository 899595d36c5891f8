package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gslb/gslb/cmd/gslb/example"
	"github.com/gslb/gslb/zones"
)

// configOpts are the flags of gslb config.
type configOpts struct {
	config, out *string
	force       *bool
}

func configCommand() *command {
	return &command{
		name:    "config",
		summary: "print the effective configuration: every file, every default filled in",
		help: "Print the effective configuration, as named-checkconf -p does: the main\n" +
			"file and every zone file, compiled and written back as TOML with every\n" +
			"setting and its value, defaults included, in a fixed order. Each file\n" +
			"starts with a line \"# ==> NAME <==\": gslb.toml, then zones/ORIGIN.toml\n" +
			"for each zone, which the main file's zones list names. Paths of token,\n" +
			"TLS, state and GeoIP files are made absolute. With -out the files are\n" +
			"written into a folder, where they load as the same configuration\n" +
			"(gslb check -config DIR/gslb.toml); for the bundled example its GeoIP\n" +
			"databases are copied there too.",
		exit: "0  printed or written\n1  the configuration is not valid, or a file could not be written\n2  bad command line",
		flags: func(fs *flag.FlagSet) any {
			return &configOpts{
				config: configFlag(fs),
				out:    fs.String("out", "", "write gslb.toml and zones/ORIGIN.toml into `DIR` instead of printing them"),
				force:  fs.Bool("force", false, "with -out, replace files that exist"),
			}
		},
		run: func(e *env, o any, args []string) int { return configCmd(e, o.(*configOpts), args) },
	}
}

// configCmd is `gslb config`.
func configCmd(e *env, o *configOpts, args []string) int {
	if len(args) > 0 {
		return usageError(e, "config", "unexpected argument %q", args[0])
	}
	if *o.force && *o.out == "" {
		return usageError(e, "config", "-force applies with -out DIR only")
	}
	src := e.configFrom(*o.config)
	snap, err := loadConfig(src.path)
	if err != nil {
		n := printErrors(e.stderr, err)
		fmt.Fprintf(e.stderr, "%d problem(s) found\n", n)
		return 1
	}
	for _, w := range snap.Warnings {
		fmt.Fprintln(e.stderr, w)
	}

	var opts zones.EffectiveOptions
	// The bundled example's files are inside the binary: printed, they
	// keep their names beside the main file; written out, they are
	// copied beside it.
	copies := map[string]string{} // path in example.FS -> file written
	if src.path == "" {
		opts.Path = func(p string) string { return p }
	}
	if *o.out != "" {
		dir, err := filepath.Abs(*o.out)
		if err != nil {
			fmt.Fprintf(e.stderr, "gslb config: %v\n", err)
			return 1
		}
		if src.path == "" {
			opts.Path = func(p string) string {
				if p == "" {
					return ""
				}
				dst := filepath.Join(dir, filepath.FromSlash(p))
				copies[p] = dst
				return dst
			}
		}
		files := snap.Effective(opts)
		return writeEffective(e, dir, files, copies, *o.force)
	}
	for i, f := range snap.Effective(opts) {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "# ==> %s <==\n", f.Name)
		e.stdout.Write(f.Text)
	}
	return 0
}

// writeEffective writes the effective files into dir, and the files of
// the bundled example in copies, refusing to replace a file that exists
// unless force. Nothing is written when one would be refused.
func writeEffective(e *env, dir string, files []zones.EffectiveFile, copies map[string]string, force bool) int {
	type out struct {
		path string
		data []byte
	}
	var outs []out
	for _, f := range files {
		outs = append(outs, out{filepath.Join(dir, filepath.FromSlash(f.Name)), f.Text})
	}
	for _, p := range sortedKeys(copies) {
		b, err := fs.ReadFile(example.FS, p)
		if err != nil {
			fmt.Fprintf(e.stderr, "gslb config: %s of the bundled example: %v\n", p, zones.UnwrapPath(err))
			return 1
		}
		outs = append(outs, out{copies[p], b})
	}
	if !force {
		var exist []string
		for _, w := range outs {
			if _, err := os.Lstat(w.path); err == nil {
				exist = append(exist, w.path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(e.stderr, "gslb config: %v\n", err)
				return 1
			}
		}
		if len(exist) > 0 {
			for _, p := range exist {
				fmt.Fprintf(e.stderr, "gslb config: %s exists (-force replaces it)\n", p)
			}
			fmt.Fprintln(e.stderr, "gslb config: nothing written")
			return 1
		}
	}
	for _, w := range outs {
		if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
			fmt.Fprintf(e.stderr, "gslb config: %v\n", err)
			return 1
		}
		if err := os.WriteFile(w.path, w.data, 0o644); err != nil {
			fmt.Fprintf(e.stderr, "gslb config: %v\n", err)
			return 1
		}
		fmt.Fprintln(e.stdout, w.path)
	}
	fmt.Fprintf(e.stdout, "wrote %d file(s); gslb check -config %s checks them\n", len(outs), filepath.Join(dir, zones.EffectiveMainFile))
	return 0
}
