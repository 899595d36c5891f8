package zones

import "testing"

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
	p := indexPositions([]byte(src))
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
