package safefile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "zone.toml")
	if err := os.WriteFile(regular, []byte("origin = \"x.\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := func(name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, path string
		limit      int64
		want       string // "" for success
	}{
		{"regular", regular, 1 << 20, ""},
		{"no limit", regular, 0, ""},
		{"symlink to a regular file", link("ok.toml", regular), 1 << 20, ""},
		{"over the limit", regular, 8, "14 B, over the limit of 8 B"},
		{"a FIFO", fifo, 1 << 20, "a named pipe, not a regular file"},
		{"a symlink to a FIFO", link("pipe.toml", fifo), 1 << 20, "a symlink to " + fifo + ", a named pipe, not a regular file"},
		{"a symlink to /dev/zero", link("zero.toml", "/dev/zero"), 1 << 20, "a symlink to /dev/zero, a character device, not a regular file"},
		{"a symlink to /dev/urandom", link("rand.toml", "/dev/urandom"), 0, "a symlink to /dev/urandom, a character device, not a regular file"},
		{"a directory", dir, 1 << 20, "a directory, not a regular file"},
		{"missing", filepath.Join(dir, "nope"), 1 << 20, "no such file or directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan struct{})
			var b []byte
			var err error
			go func() {
				defer close(done)
				b, err = Read(c.path, c.limit)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Read hangs")
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("error %v", err)
			case c.want == "" && string(b) != "origin = \"x.\"\n":
				t.Errorf("read %q", b)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 64 << 20: "64.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestWrite: the file is replaced whole, with the mode given, and no
// temporary file is left beside it.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, data := range []string{"first", "second, longer"} {
		if err := Write(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p, 0)
		if err != nil || string(got) != data {
			t.Fatalf("after Write(%q): %q, %v", data, got, err)
		}
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the folder, want the one written", len(entries))
	}
}
