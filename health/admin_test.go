package health

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminStateFileCap: a state file over the cap gives an error naming
// the file and its size, and the overrides in effect stay; one within it
// loads.
func TestAdminStateFileCap(t *testing.T) {
	file := filepath.Join(t.TempDir(), "admin-overrides.toml")
	src := "[backends.\"www.example.test/one\"]\nstate = \"drain\"\nreason = \"maintenance\"\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	small := NewAdmin(file, 16, log)
	err := small.LoadFile()
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("a %d-byte file under a 16-byte cap: %v, want an error naming the file", len(src), err)
	}
	if n := len(small.List()); n != 0 {
		t.Errorf("%d overrides in effect after a refused file, want 0", n)
	}
	ok := NewAdmin(file, 0, log)
	if err := ok.LoadFile(); err != nil {
		t.Fatal(err)
	}
	if o := ok.Get("www.example.test/one"); o == nil {
		t.Errorf("the override of a file within the default cap is not in effect: %v", ok.List())
	}
}
