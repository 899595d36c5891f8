package zones

import (
	"bytes"
	"fmt"
	"strconv"
)

// Limits on the shape of a TOML file. They are checked by the position
// scanner, before the TOML library is given the file: BurntSushi/toml
// recurses once per level of nesting and copies the whole key path at each
// level, so that nesting and key length cost it memory quadratically (20,000
// nested inline tables take it 4 GB, a 200 KB file of long keys 1 GB).
//
//   - maxDepth bounds the levels along one key path: table header parts,
//     dotted key parts, arrays and inline tables counted together. The
//     deepest path gslb reads is 6 levels, services.NAME.backends[i].
//     check.headers.NAME; 64 is ten times that, so that no file an operator
//     writes meets it while a hostile one is stopped after 64 levels.
//   - maxKeyLen bounds the bytes of one key path, its parts joined with
//     dots. The longest a gslb key needs is a full domain name (at most 253
//     bytes) inside a few short keys; 1024 leaves room for escapes.
const (
	maxDepth  = 64
	maxKeyLen = 1024
)

// pos is a place in a source file; Line and Col start at 1.
type pos struct{ Line, Col int }

// positions is where each key path of a TOML document was first written.
// The TOML library reports positions only for syntax errors and for values
// it fails to convert; semantic checks (a CNAME beside an A, an unknown key)
// need the place of a key, so we index the source ourselves.
//
// Paths are key parts; array elements are addressed as the array's path
// plus "[i]", and so are the tables of an array of tables ([[x]]). Every
// path is also indexed with its array indexes left out, because the decoder
// names keys inside arrays without an index.
//
// The index is a tree of key parts: node 0 is the document, and each node
// holds the place its key part was first written. Each part written in the
// source adds at most one node, so the index is linear in the input.
type positions struct {
	at    []pos
	child map[edge]int32
}

// edge names a child of a node of positions by its key part.
type edge struct {
	parent int32
	name   string
}

func newPositions() *positions {
	return &positions{at: []pos{{}}, child: map[edge]int32{}}
}

// of returns the position of the longest prefix of path that was indexed, so
// that an error about a key deep in a value still names a line. A nil index
// knows no position.
func (p *positions) of(path []string) pos {
	if p == nil {
		return pos{}
	}
	var n int32
	var best pos
	for _, k := range path {
		c, ok := p.child[edge{n, k}]
		if !ok {
			break
		}
		n, best = c, p.at[c]
	}
	return best
}

// written returns each path as written in the source that path names
// without array indexes: services.a.backends.rise, written in the first and
// third backend, gives services.a.backends[0].rise and backends[2].rise. A
// path that is not indexed gives none.
func (p *positions) written(path []string) [][]string {
	if p == nil {
		return nil
	}
	var out [][]string
	var walk func(n int32, i int, acc []string)
	walk = func(n int32, i int, acc []string) {
		if i == len(path) {
			out = append(out, acc)
			return
		}
		c, ok := p.child[edge{n, path[i]}]
		if !ok {
			return
		}
		acc = append(acc[:len(acc):len(acc)], path[i])
		if _, array := p.child[edge{c, "[0]"}]; array && i+1 < len(path) {
			for j := 0; ; j++ {
				idx := "[" + strconv.Itoa(j) + "]"
				cj, ok := p.child[edge{c, idx}]
				if !ok {
					return
				}
				walk(cj, i+1, append(acc[:len(acc):len(acc)], idx))
			}
		}
		walk(c, i+1, acc)
	}
	walk(0, 0, nil)
	return out
}

// node returns the child of parent named name, adding it as written at at
// if it is new.
func (p *positions) node(parent int32, name string, at pos) int32 {
	e := edge{parent, name}
	if c, ok := p.child[e]; ok {
		return c
	}
	c := int32(len(p.at))
	p.at = append(p.at, at)
	p.child[e] = c
	return c
}

// indexPositions scans TOML source and records the position of every key,
// table header and array element. It returns an error, at the place it goes
// too far, for a file nested deeper than maxDepth or with a key path longer
// than maxKeyLen: such a file must not reach the TOML library. On input that
// is otherwise not TOML it stops early and returns what it found, and the
// library reports the syntax error.
func indexPositions(file string, src []byte) (idx *positions, err *Error) {
	defer func() {
		// The index serves error messages; a surprise in the input must
		// never take the loader down with it. FuzzLoad calls
		// scanPositions directly so that such surprises are found.
		if recover() != nil {
			idx, err = newPositions(), nil
		}
	}()
	s := scanPositions(src)
	if s.tooDeep != "" {
		return s.out, &Error{File: file, Line: s.stopAt.Line, Col: s.stopAt.Col, Msg: s.tooDeep}
	}
	return s.out, nil
}

// scanPositions runs the scanner over src and returns it with its index,
// where it stopped and why.
func scanPositions(src []byte) *scanner {
	s := &scanner{src: src, line: 1, col: 1, out: newPositions(), arrays: map[int32]int{}}
	// The library skips a byte order mark, UTF-16 ones too; editors do not
	// show it, so it takes no column.
	s.i = bomLen(src)
	s.document()
	return s
}

// bomLen is the length of the byte order mark src starts with, if any:
// the TOML library skips UTF-8 and UTF-16 ones.
func bomLen(src []byte) int {
	for _, bom := range []string{"\xff\xfe", "\xfe\xff", "\xef\xbb\xbf"} {
		if bytes.HasPrefix(src, []byte(bom)) {
			return len(bom)
		}
	}
	return 0
}

// scanner reads TOML source far enough to know where each key is. It takes
// time and memory linear in its input: it never copies a key path, it walks
// the tree of positions with a cursor.
type scanner struct {
	src       []byte
	i         int
	line, col int
	out       *positions
	table     cursor        // the current table
	arrays    map[int32]int // element count of each array of tables
	stopped   bool          // not TOML, or tooDeep
	stopAt    pos           // where it stopped
	tooDeep   string        // why the shape limits stopped it, if they did
}

// cursor is a place in the tree of key paths being scanned: the path with
// its array indexes, the same path without them, and the path's depth and
// length in bytes as the TOML library joins it.
type cursor struct {
	node, plain int32
	depth, len  int
}

// descend moves c one key part (or array index) down, recording where the
// part was written. It fails when the shape limits are passed, which stops
// the scan.
func (s *scanner) descend(c cursor, name string, index bool, at pos) (cursor, bool) {
	c.depth++
	if c.depth > maxDepth {
		s.fail(at, fmt.Sprintf("nested more than %d levels deep (tables, arrays and dotted keys counted together)", maxDepth))
		return c, false
	}
	sameTree := c.plain == c.node
	c.node = s.out.node(c.node, name, at)
	if !index {
		c.len += len(name) + 1
		if c.len > maxKeyLen+1 {
			s.fail(at, fmt.Sprintf("key path longer than %d bytes", maxKeyLen))
			return c, false
		}
		if sameTree {
			c.plain = c.node
		} else {
			c.plain = s.out.node(c.plain, name, at)
		}
	}
	return c, true
}

// indexNames are the key parts of the first array elements, made once.
var indexNames = func() []string {
	names := make([]string, 256)
	for i := range names {
		names[i] = "[" + strconv.Itoa(i) + "]"
	}
	return names
}()

// indexName is the key part of array element i: "[i]".
func indexName(i int) string {
	if i < len(indexNames) {
		return indexNames[i]
	}
	return "[" + strconv.Itoa(i) + "]"
}

// fail stops the scan at at for the shape limit named by why.
func (s *scanner) fail(at pos, why string) {
	s.stopped, s.stopAt, s.tooDeep = true, at, why
}

// stop ends the scan on input that is not TOML.
func (s *scanner) stop() {
	if !s.stopped {
		s.stopped, s.stopAt = true, s.here()
	}
}

func (s *scanner) eof() bool { return s.i >= len(s.src) || s.stopped }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.i]
}

func (s *scanner) next() byte {
	c := s.src[s.i]
	s.i++
	if c == '\n' {
		s.line++
		s.col = 1
	} else if c < 0x80 || c >= 0xC0 { // count runes, not continuation bytes
		s.col++
	}
	return c
}

func (s *scanner) here() pos { return pos{Line: s.line, Col: s.col} }

// skipSpace skips blanks and comments, and with newlines also line ends.
func (s *scanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t' || c == '\r':
			s.next()
		case c == '#':
			for !s.eof() && s.peek() != '\n' {
				s.next()
			}
		case c == '\n' && newlines:
			s.next()
		default:
			return
		}
	}
}

func (s *scanner) document() {
	for !s.eof() {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		if s.peek() == '[' {
			s.header()
			continue
		}
		s.keyValue(s.table)
	}
}

// header reads [table] or [[array of tables]].
func (s *scanner) header() {
	p := s.here()
	s.next()
	array := false
	if s.peek() == '[' {
		s.next()
		array = true
	}
	s.skipSpace(false)
	key := s.key()
	s.skipSpace(false)
	for !s.eof() && s.peek() == ']' {
		s.next()
	}
	var c cursor
	for _, part := range key {
		var ok bool
		if c, ok = s.descend(c, part, false, p); !ok {
			return
		}
	}
	if array {
		idx := s.arrays[c.node]
		s.arrays[c.node] = idx + 1
		var ok bool
		if c, ok = s.descend(c, indexName(idx), true, p); !ok {
			return
		}
	}
	s.table = c
}

// key reads a dotted key.
func (s *scanner) key() []string {
	var parts []string
	for !s.eof() {
		s.skipSpace(false)
		switch c := s.peek(); {
		case c == '"' || c == '\'':
			parts = append(parts, s.str())
		default:
			start := s.i
			for !s.eof() && isBareKeyChar(s.peek()) {
				s.next()
			}
			if s.i == start {
				s.stop()
				return parts
			}
			parts = append(parts, string(s.src[start:s.i]))
		}
		s.skipSpace(false)
		if s.peek() != '.' {
			return parts
		}
		s.next()
	}
	return parts
}

func isBareKeyChar(c byte) bool {
	return c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// keyValue reads "key = value" under the table at base.
func (s *scanner) keyValue(base cursor) {
	p := s.here()
	key := s.key()
	if s.stopped || len(key) == 0 {
		s.stop()
		return
	}
	c := base
	for _, part := range key {
		var ok bool
		if c, ok = s.descend(c, part, false, p); !ok {
			return
		}
	}
	s.skipSpace(false)
	if s.peek() != '=' {
		s.stop()
		return
	}
	s.next()
	s.skipSpace(false)
	s.value(c)
}

// value reads any value, indexing the keys of inline tables and the elements
// of arrays under c.
func (s *scanner) value(c cursor) {
	switch s.peek() {
	case '"', '\'':
		s.str()
	case '[':
		s.next()
		for idx := 0; !s.eof(); idx++ {
			s.skipSpace(true)
			if s.peek() == ']' {
				s.next()
				return
			}
			el, ok := s.descend(c, indexName(idx), true, s.here())
			if !ok {
				return
			}
			s.value(el)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			}
		}
	case '{':
		// TOML 1.1, which the library reads, allows newlines, comments
		// and a trailing comma in inline tables.
		s.next()
		for !s.eof() {
			s.skipSpace(true)
			if s.peek() == '}' {
				s.next()
				return
			}
			s.keyValue(c)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			}
		}
	default:
		// Numbers, booleans, dates: up to a delimiter. Dates may hold one
		// space ("1979-05-27 07:32:00"), which a following digit tells.
		// A value that starts with a delimiter is not TOML: stop there.
		start := s.i
		for !s.eof() {
			c := s.peek()
			if c == ',' || c == ']' || c == '}' || c == '\n' || c == '#' || c == '\r' {
				break
			}
			if c == ' ' || c == '\t' {
				if s.i+1 < len(s.src) && s.src[s.i+1] >= '0' && s.src[s.i+1] <= '9' {
					s.next()
					continue
				}
				break
			}
			s.next()
		}
		if s.i == start {
			s.stop()
		}
	}
}

// str reads a basic, literal or multi-line string and returns its raw
// content with basic escapes of quotes and backslashes undone, which is
// what a quoted key needs.
func (s *scanner) str() string {
	q := s.next()
	multi := s.i+1 < len(s.src) && s.src[s.i] == q && s.src[s.i+1] == q
	if multi {
		s.next()
		s.next()
	}
	var b []byte
	for !s.eof() {
		c := s.next()
		if c == '\\' && q == '"' && !s.eof() {
			e := s.next()
			switch e {
			case 'n':
				b = append(b, '\n')
			case 't':
				b = append(b, '\t')
			default:
				b = append(b, e)
			}
			continue
		}
		if c == q {
			if !multi {
				return string(b)
			}
			if s.i+1 < len(s.src) && s.src[s.i] == q && s.src[s.i+1] == q {
				s.next()
				s.next()
				// Up to two more quotes may belong to the content.
				for s.i < len(s.src) && s.src[s.i] == q {
					b = append(b, s.next())
				}
				return string(b)
			}
		}
		if !multi && c == '\n' {
			s.stop()
			return string(b)
		}
		b = append(b, c)
	}
	return string(b)
}
