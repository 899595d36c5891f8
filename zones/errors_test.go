package zones

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestSplitKey(t *testing.T) {
	cases := map[string][]string{
		"a":                      {"a"},
		"services.www.backends":  {"services", "www", "backends"},
		`records."a.b".A`:        {"records", "a.b", "A"},
		`records."say \"hi\"".A`: {"records", `say "hi"`, "A"},
		`x.""`:                   {"x", ""},
	}
	for in, want := range cases {
		if got := splitKey(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitKey(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestTOMLErrorPlain: the decoder's untyped errors get the key's column
// from the index and operator words.
func TestTOMLErrorPlain(t *testing.T) {
	src := []byte("[services.\"a.b\"]\nbackends = 5\n")
	idx, _ := indexPositions("z.toml", src)
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf(`toml: line 2 (last key "services.\"a.b\".backends"): incompatible types: TOML value has type int64; destination has type slice`),
			`z.toml:2:1: services."a.b".backends: want an array, got an integer`},
		{fmt.Errorf(`toml: line 2 (last key "services.\"a.b\".backends"): type mismatch for zones.backendDoc: expected table but found string`),
			`z.toml:2:1: services."a.b".backends: want a table, got a string`},
		{fmt.Errorf(`toml: line 7: something else`), `z.toml:7: something else`},
		{errors.New("toml: no line"), `z.toml: no line`},
	}
	for _, c := range cases {
		if got := tomlError("z.toml", src, idx, c.err).Error(); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestRuneCol(t *testing.T) {
	src := []byte("\xef\xbb\xbfé = 1\nü = x\n")
	// The library's offsets start after the byte order mark.
	cases := []struct{ off, want int }{{0, 1}, {2, 2}, {7, 1}, {12, 5}}
	for _, c := range cases {
		if got := runeCol(src, c.off, -1); got != c.want {
			t.Errorf("runeCol(%d) = %d, want %d", c.off, got, c.want)
		}
	}
	if got := runeCol(src, 100, 42); got != 42 {
		t.Errorf("an offset past the end keeps the library's column, got %d", got)
	}
}

// TestErrsOnce: the same message at the same place is kept once.
func TestErrsOnce(t *testing.T) {
	var list ErrorList
	idx, _ := indexPositions("z.toml", []byte("a = 1\nb = 2\n"))
	e := &errs{file: "z.toml", pos: idx, list: &list}
	for range 3 {
		e.key([]string{"a"}, "bad")
	}
	e.key([]string{"b"}, "bad")
	e.key([]string{"a"}, "worse")
	want := "z.toml:1:1: a: bad\nz.toml:2:1: b: bad\nz.toml:1:1: a: worse"
	if list.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", list.Error(), want)
	}
}
