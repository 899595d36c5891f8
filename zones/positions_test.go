package zones

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
)

func TestIndexPositions(t *testing.T) {
	src := `# comment
origin = "example.com." # trailing
[soa]
  rname = 'host"master'
[records."a.b"]
A = [
  "192.0.2.1",  # one
  "192.0.2.2",
]
txt = """multi
line"""
[services.www]
backends = [ { name = "x", address = "192.0.2.9" }, {name="y"} ]
[[pools]]
name = "p0"
[[pools]]
name = "p1"
when = 1979-05-27 07:32:00
"é" = 1
`
	p, err := indexPositions("z.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path []string
		want pos
	}{
		{[]string{"origin"}, pos{2, 1}},
		{[]string{"soa"}, pos{3, 1}},
		{[]string{"soa", "rname"}, pos{4, 3}},
		{[]string{"records", "a.b"}, pos{5, 1}},
		{[]string{"records", "a.b", "A"}, pos{6, 1}},
		{[]string{"records", "a.b", "A", "[0]"}, pos{7, 3}},
		{[]string{"records", "a.b", "A", "[1]"}, pos{8, 3}},
		{[]string{"records", "a.b", "txt"}, pos{10, 1}},
		{[]string{"services", "www", "backends", "[0]", "address"}, pos{13, 28}},
		{[]string{"services", "www", "backends", "[1]", "name"}, pos{13, 54}},
		{[]string{"pools", "[1]", "name"}, pos{17, 1}},
		{[]string{"pools", "[1]", "é"}, pos{19, 1}},
		// Unknown deeper paths fall back to the nearest indexed parent.
		{[]string{"soa", "rname", "deeper"}, pos{4, 3}},
	}
	for _, c := range cases {
		if got := p.of(c.path); got != c.want {
			t.Errorf("%q: got %v, want %v", c.path, got, c.want)
		}
	}
}

// deep builds "key = " followed by n nested arrays or inline tables.
func deep(key string, n int, tables bool) string {
	if tables {
		return key + " = " + strings.Repeat("{b = ", n) + "1" + strings.Repeat("}", n) + "\n"
	}
	return key + " = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
}

func TestShapeLimits(t *testing.T) {
	const tooDeep = "nested more than 64 levels deep (tables, arrays and dotted keys counted together)"
	long := strings.Repeat("x", 1000)
	cases := []struct {
		name, src, want string
	}{
		// records.a.A is 3 levels; the array of A adds none, each
		// element one: the 62nd element, at column 12+61, is level 65.
		{"arrays 100000 deep", "[records]\na = { A = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + " }\n", "z.toml:2:73: " + tooDeep},
		{"arrays unclosed", "[records]\na = { A = " + strings.Repeat("[", 100000) + "\n", "z.toml:2:73: " + tooDeep},
		{"inline tables 20000 deep", deep("x", 20000, true), "z.toml:1:321: " + tooDeep},
		{"dotted key", "a" + strings.Repeat(".b", 100) + " = 1\n", "z.toml:1:1: " + tooDeep},
		{"table header", "[a" + strings.Repeat(".b", 100) + "]\n", "z.toml:1:1: " + tooDeep},
		{"header then key", "[a" + strings.Repeat(".b", 62) + "]\nc.d = 1\n", "z.toml:2:1: " + tooDeep},
		{"after a byte order mark", "\xef\xbb\xbf" + deep("x", 100, false), "z.toml:1:69: " + tooDeep},
		{"long key", "[records]\n\"" + long + "\" = { \"" + long + "\" = 1 }\n", "z.toml:2:1008: key path longer than 1024 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadText(t, c.src)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// At the limits, the scanner lets the file through to the decoder.
	for _, src := range []string{
		deep("a", 63, false),
		deep("a", 63, true),
		"[a" + strings.Repeat(".b", 62) + "]\nc = 1\n",
		"\"" + strings.Repeat("x", 1024) + "\" = 1\n",
	} {
		if _, err := indexPositions("z.toml", []byte(src)); err != nil {
			t.Errorf("%.40q...: %v", src, err)
		}
	}
}

// TestMainFileShapeLimits: the main file is guarded as the zone files are.
func TestMainFileShapeLimits(t *testing.T) {
	fsys := fstest.MapFS{
		"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n" + deep("[server]\nx", 100000, false))},
		"z.toml":    {Data: []byte(testZone)},
	}
	_, err := Load(FSFiles(fsys), "gslb.toml")
	want := "gslb.toml:3:68: nested more than 64 levels deep (tables, arrays and dotted keys counted together)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestScanLinear bounds the memory the scanner allocates by a multiple of
// its input, for shapes that made the old scanner (and would make the TOML
// library) quadratic: nesting to the limit, many times over; a long table
// name over many keys; long arrays.
func TestScanLinear(t *testing.T) {
	var nested, wide, arrays strings.Builder
	for nested.Len() < 1<<20 {
		fmt.Fprintf(&nested, "%s", deep(fmt.Sprintf("k%d", nested.Len()), 63, nested.Len()%2 == 0))
	}
	wide.WriteString("[\"" + strings.Repeat("n", 1000) + "\"]\n")
	for wide.Len() < 1<<20 {
		fmt.Fprintf(&wide, "k%d = 1\n", wide.Len())
	}
	arrays.WriteString("a = [")
	for arrays.Len() < 1<<20 {
		arrays.WriteString("[1, {x = 2}], ")
	}
	arrays.WriteString("]\n")
	for name, src := range map[string]string{"nested": nested.String(), "wide": wide.String(), "arrays": arrays.String()} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := scanPositions([]byte(src))
		runtime.ReadMemStats(&after)
		if s.stopped {
			t.Errorf("%s: scanner stopped at %v: %s", name, s.stopAt, s.tooDeep)
		}
		perByte := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(src))
		t.Logf("%s: %d bytes, %.1f bytes allocated per input byte", name, len(src), perByte)
		if perByte > 100 {
			t.Errorf("%s: %.1f bytes allocated per input byte, want at most 100", name, perByte)
		}
	}
}
