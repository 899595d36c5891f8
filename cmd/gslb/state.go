package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gslb/gslb/zones"
)

// The files of the state directory. docs/state.md describes the layout;
// a file added here is added to stateFiles and there (TestStateLayout
// checks).
const (
	// adminOverridesFile holds the admin overrides (TOML, as the
	// deprecated [admin] state_file).
	adminOverridesFile = "admin-overrides.toml"
	// auditFile is the audit trail (internal/audit), rotated to
	// auditFile + ".1".
	auditFile = "audit.log"
)

// stateFiles are the names gslb writes in the state directory.
var stateFiles = []string{adminOverridesFile, auditFile, auditFile + ".1", registrationsFile, steeringFile}

// defaultStateDir is the state directory's name beside the main file when
// neither [state] dir nor -state-dir names one.
const defaultStateDir = "state"

// stateDir is where gslb keeps what it writes, as resolved for one run.
type stateDir struct {
	// Dir is the folder ("" for none: nothing is persisted).
	Dir string
	// From says where Dir comes from, for logs and errors: "-state-dir",
	// "[state] dir", "default", or why there is none.
	From string
	// AdminFile is where the admin overrides are kept ("" for memory only):
	// the deprecated [admin] state_file when it is set, else a file of Dir.
	AdminFile string
}

// resolveState picks the state directory: the -state-dir flag, else
// [state] dir, else (unless the deprecated [admin] state_file is set, which
// keeps its old meaning) a "state" folder beside the main file. The
// bundled example has none.
func resolveState(configPath, flagDir string, cfg *zones.Config) stateDir {
	var s stateDir
	switch {
	case flagDir != "":
		s.Dir, s.From = flagDir, "-state-dir"
	case cfg.StateDir != "":
		s.Dir, s.From = cfg.StateDir, "[state] dir"
	case configPath == "":
		s.From = "none (bundled example)"
	case cfg.AdminStateFile != "":
		s.From = "none ([admin] state_file set)"
	default:
		s.Dir, s.From = filepath.Join(filepath.Dir(cfg.File), defaultStateDir), "default"
	}
	switch {
	case cfg.AdminStateFile != "":
		s.AdminFile = cfg.AdminStateFile
	case s.Dir != "":
		s.AdminFile = filepath.Join(s.Dir, adminOverridesFile)
	}
	return s
}

// explicit reports whether the operator named the folder (flag or key):
// such a folder must be usable, where the default may be left out.
func (s stateDir) explicit() bool { return s.From == "-state-dir" || s.From == "[state] dir" }

// verify checks that the state directory exists, is a directory and is
// writable. create makes a missing default folder first (serve); without
// it, a missing default passes when its parent is writable (check). The
// error names the key and place: file:line:col: [state] dir "...": ...
func (s stateDir) verify(cfg *zones.Config, create bool) error {
	if s.Dir == "" {
		return nil
	}
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		switch s.From {
		case "[state] dir":
			return cfg.ErrorAt(zones.KeyStateDir, "[state] dir %q: %s", s.Dir, msg)
		case "-state-dir":
			return fmt.Errorf("-state-dir %q: %s", s.Dir, msg)
		}
		return cfg.ErrorAt(zones.KeyStateDir, "state directory %q (the default, beside the main file): %s; set [state] dir to a writable folder, such as /var/lib/gslb", s.Dir, msg)
	}
	fi, err := os.Stat(s.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !s.explicit() && create:
		if err := os.Mkdir(s.Dir, 0o700); err != nil {
			return fail("cannot create it: %v", zones.UnwrapPath(err))
		}
		fi, err = os.Stat(s.Dir)
	case errors.Is(err, fs.ErrNotExist) && !s.explicit():
		// serve creates it: its parent must let it.
		if err := writable(filepath.Dir(s.Dir)); err != nil {
			return fail("does not exist and cannot be created: %v", err)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fail("does not exist")
	}
	if err != nil {
		return fail("%v", zones.UnwrapPath(err))
	}
	if !fi.IsDir() {
		return fail("not a directory")
	}
	if err := writable(s.Dir); err != nil {
		return fail("not writable: %v", err)
	}
	return nil
}

// writable tells whether files can be created in dir, by creating one:
// permission bits alone miss read-only mounts and ACLs.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".gslb-write-test-*")
	if err != nil {
		return zones.UnwrapPath(err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// stateFileWarning is `gslb check`'s warning about the deprecated key, ""
// when it is not set.
func stateFileWarning(cfg *zones.Config) string {
	if cfg.AdminStateFile == "" {
		return ""
	}
	return cfg.ErrorAt(zones.KeyAdminStateFile, "warning: [admin] state_file is deprecated: set [state] dir to a folder and move the file into it as %s (docs/state.md)", adminOverridesFile).Error()
}
