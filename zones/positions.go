package zones

import (
	"strconv"
	"strings"
)

// pos is a place in a source file; Line and Col start at 1.
type pos struct{ Line, Col int }

// positions maps key paths of a TOML document to where each key was
// written. The TOML library reports positions only for syntax errors and for
// values it fails to convert; semantic checks (a CNAME beside an A, an
// unknown key) need the place of a key, so we index the source ourselves.
//
// Paths are joined with pathSep. Array elements are addressed as the array's
// path plus "[i]"; tables of an array of tables ([[x]]) likewise.
type positions map[string]pos

const pathSep = "\x1f"

func joinPath(path []string) string { return strings.Join(path, pathSep) }

// of returns the position of the longest prefix of path that was indexed, so
// that an error about a key deep in a value still names a line.
func (p positions) of(path []string) pos {
	for n := len(path); n > 0; n-- {
		if q, ok := p[joinPath(path[:n])]; ok {
			return q
		}
	}
	return pos{}
}

// indexPositions scans TOML source that the decoder already accepted and
// records the position of every key, table header and array element. On
// input that is not valid TOML it stops early and returns what it found.
func indexPositions(src []byte) (p positions) {
	defer func() {
		// The scanner is only an index for error messages; a surprise in
		// the input must never take the loader down with it. FuzzLoad
		// calls scanPositions directly so that such surprises are found.
		if recover() != nil {
			p = positions{}
		}
	}()
	return scanPositions(src)
}

func scanPositions(src []byte) positions {
	s := &scanner{src: src, line: 1, col: 1, out: positions{}, arrays: map[string]int{}}
	s.document()
	return s.out
}

type scanner struct {
	src       []byte
	i         int
	line, col int
	out       positions
	table     []string       // current table path
	arrays    map[string]int // element count of each array of tables
	stopped   bool
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

// record notes where path was written, and also under the path with the
// array indexes left out: the decoder names unknown keys inside arrays of
// tables without an index.
func (s *scanner) record(path []string, p pos) {
	k := joinPath(path)
	if _, ok := s.out[k]; !ok {
		s.out[k] = p
	}
	var plain []string
	for _, part := range path {
		if !strings.HasPrefix(part, "[") {
			plain = append(plain, part)
		}
	}
	if len(plain) != len(path) && len(plain) > 0 {
		k = joinPath(plain)
		if _, ok := s.out[k]; !ok {
			s.out[k] = p
		}
	}
}

// skipSpace skips blanks, and with newlines also line ends and comments.
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
	for n := 1; n <= len(key); n++ {
		s.record(key[:n], p)
	}
	if array {
		k := joinPath(key)
		idx := s.arrays[k]
		s.arrays[k] = idx + 1
		key = append(key[:len(key):len(key)], "["+strconv.Itoa(idx)+"]")
		s.record(key, p)
	}
	s.table = key
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
				s.stopped = true
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

// keyValue reads "key = value" under the table path base.
func (s *scanner) keyValue(base []string) {
	p := s.here()
	key := s.key()
	if s.stopped || len(key) == 0 {
		s.stopped = true
		return
	}
	full := append(base[:len(base):len(base)], key...)
	for n := len(base) + 1; n <= len(full); n++ {
		s.record(full[:n], p)
	}
	s.skipSpace(false)
	if s.peek() != '=' {
		s.stopped = true
		return
	}
	s.next()
	s.skipSpace(false)
	s.value(full)
}

// value reads any value, indexing the keys of inline tables and the elements
// of arrays under path.
func (s *scanner) value(path []string) {
	switch c := s.peek(); c {
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
			el := append(path[:len(path):len(path)], "["+strconv.Itoa(idx)+"]")
			s.record(el, s.here())
			s.value(el)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			}
		}
	case '{':
		s.next()
		for !s.eof() {
			s.skipSpace(false)
			if s.peek() == '}' {
				s.next()
				return
			}
			s.keyValue(path)
			s.skipSpace(false)
			if s.peek() == ',' {
				s.next()
			}
		}
	default:
		// Numbers, booleans, dates: up to a delimiter. Dates may hold one
		// space ("1979-05-27 07:32:00"), which a following digit tells.
		// A value that starts with a delimiter is not TOML: stop there.
		start := s.i
		defer func() {
			if s.i == start {
				s.stopped = true
			}
		}()
		for !s.eof() {
			c := s.peek()
			if c == ',' || c == ']' || c == '}' || c == '\n' || c == '#' || c == '\r' {
				return
			}
			if c == ' ' || c == '\t' {
				if s.i+1 < len(s.src) && s.src[s.i+1] >= '0' && s.src[s.i+1] <= '9' {
					s.next()
					continue
				}
				return
			}
			s.next()
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
	var b strings.Builder
	for !s.eof() {
		c := s.next()
		if c == '\\' && q == '"' && !s.eof() {
			e := s.next()
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(e)
			}
			continue
		}
		if c == q {
			if !multi {
				return b.String()
			}
			if s.i+1 < len(s.src) && s.src[s.i] == q && s.src[s.i+1] == q {
				s.next()
				s.next()
				// Up to two more quotes may belong to the content.
				for s.i < len(s.src) && s.src[s.i] == q {
					b.WriteByte(s.next())
				}
				return b.String()
			}
		}
		if !multi && c == '\n' {
			s.stopped = true
			return b.String()
		}
		b.WriteByte(c)
	}
	return b.String()
}
