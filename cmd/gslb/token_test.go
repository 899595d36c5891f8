package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "  0123456789abcdef0123\n", 0o600)
	if tok, err := readToken(good); err != nil || tok != "0123456789abcdef0123" {
		t.Errorf("good token: %q %v", tok, err)
	}
	if tok, err := readToken(""); err != nil || tok != "" {
		t.Errorf("no file: %q %v (want the write API off)", tok, err)
	}
	for _, c := range []struct{ name, path, want string }{
		{"readable by others", file("open", "0123456789abcdef0123", 0o644), "is readable by others (mode -rw-r--r--); chmod 600 it"},
		{"short", file("short", "0123456789", 0o600), "the token is shorter than 16 characters"},
		{"missing", filepath.Join(dir, "nope"), "admin token file: stat "},
	} {
		if _, err := readToken(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
}
