package zones

import (
	"testing"
	"testing/fstest"
)

func TestStateDirKey(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n[admin]\nstate_file = \"admin.toml\"\n\n[state]\n  dir = \"var/state\"\n")},
		"etc/z.toml":    {Data: []byte("origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"hostmaster\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n")},
	}
	snap, err := Load(FSFiles(fsys), "etc/gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	c := snap.Config
	if c.StateDir != "etc/var/state" || c.AdminStateFile != "etc/admin.toml" {
		t.Errorf("state dir %q, state file %q: want both relative to the main file", c.StateDir, c.AdminStateFile)
	}
	for _, k := range []struct{ key, want string }{
		{KeyStateDir, `etc/gslb.toml:6:3: [state] dir "etc/var/state": not writable`},
		{KeyAdminStateFile, `etc/gslb.toml:3:1: [admin] state_file "etc/var/state": not writable`},
	} {
		what := map[string]string{KeyStateDir: "[state] dir", KeyAdminStateFile: "[admin] state_file"}[k.key]
		if got := c.ErrorAt(k.key, "%s %q: not writable", what, c.StateDir).Error(); got != k.want {
			t.Errorf("ErrorAt(%s) = %q, want %q", k.key, got, k.want)
		}
	}

	// Absent keys: no state dir, and an error names the file alone.
	fsys["etc/gslb.toml"] = &fstest.MapFile{Data: []byte("zones = [\"z.toml\"]\n")}
	if snap, err = Load(FSFiles(fsys), "etc/gslb.toml"); err != nil {
		t.Fatal(err)
	}
	if snap.Config.StateDir != "" {
		t.Errorf("state dir %q without the key", snap.Config.StateDir)
	}
	if got := snap.Config.ErrorAt(KeyStateDir, "x").Error(); got != "etc/gslb.toml: x" {
		t.Errorf("ErrorAt without the key: %q", got)
	}
}
