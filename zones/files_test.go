package zones

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostileFiles: a zone or main file that is a FIFO, a symlink to a
// device, or over the size limit is an error naming it, at once; nothing
// hangs and nothing is read without bound (issue 18).
func TestHostileFiles(t *testing.T) {
	const zone = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n"
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string) // writes zones/z.toml as it likes
		main  string
		want  string
	}{
		{"a FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "zones", "z.toml"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "", "zones/z.toml: cannot read zone file: a named pipe, not a regular file"},
		{"a symlink to /dev/zero", func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/zero", filepath.Join(dir, "zones", "z.toml")); err != nil {
				t.Fatal(err)
			}
		}, "", "zones/z.toml: cannot read zone file: a symlink to /dev/zero, a character device, not a regular file"},
		{"a symlink to /dev/urandom", func(t *testing.T, dir string) {
			if err := os.Symlink("/dev/urandom", filepath.Join(dir, "zones", "z.toml")); err != nil {
				t.Fatal(err)
			}
		}, "", "zones/z.toml: cannot read zone file: a symlink to /dev/urandom, a character device, not a regular file"},
		{"over the limit", func(t *testing.T, dir string) {
			big := zone + "txt = { TXT = \"" + strings.Repeat("x", 200) + "\" }\n" + strings.Repeat("# padding padding padding padding\n", 40000)
			os.WriteFile(filepath.Join(dir, "zones", "z.toml"), []byte(big), 0o644)
		}, "[limits]\nzone_file_max_mib = 1\n", "zones/z.toml: cannot read zone file: 1.3 MiB, over the limit of 1.0 MiB"},
		{"a symlink to a regular file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "real.toml"), []byte(zone), 0o644)
			os.Symlink(filepath.Join(dir, "real.toml"), filepath.Join(dir, "zones", "z.toml"))
		}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.MkdirAll(filepath.Join(dir, "zones"), 0o755)
			os.WriteFile(filepath.Join(dir, "gslb.toml"), []byte("zones = [\"zones/z.toml\"]\n"+c.main), 0o644)
			c.setup(t, dir)
			wd, _ := os.Getwd()
			defer os.Chdir(wd)
			os.Chdir(dir)
			done := make(chan error, 1)
			go func() {
				_, err := Load(OSFiles(), "gslb.toml")
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Load hangs")
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("error %v", err)
			case c.want != "" && (err == nil || err.Error() != c.want):
				t.Errorf("error %v\nwant %s", err, c.want)
			}
		})
	}
	// The main file itself.
	dir := t.TempDir()
	p := filepath.Join(dir, "gslb.toml")
	syscall.Mkfifo(p, 0o644)
	if _, err := Load(OSFiles(), p); err == nil || !strings.Contains(err.Error(), "cannot read configuration: a named pipe, not a regular file") {
		t.Errorf("main file a FIFO: %v", err)
	}
}
