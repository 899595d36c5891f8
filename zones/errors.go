package zones

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Error is one problem found in a configuration or zone file, with the
// place it was found. Line and Col start at 1; zero means unknown.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as "file:line:col: message", leaving out the
// parts of the position that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found while loading a configuration. It is
// returned as one error; errors.As gives access to each entry.
type ErrorList []*Error

// Error joins the entries, one per line.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// sortByPosition orders the list by file, line and column, keeping the
// order of discovery for equal positions.
func (l ErrorList) sortByPosition() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// errs collects errors for one file, placing each at the position of a key.
// The same message at the same place is kept once: a check that backends
// inherit from their service is checked once per backend, but its problems
// are the service's, written once.
type errs struct {
	file string
	pos  *positions
	list *ErrorList
	seen map[Error]bool
	// suspects are keys that an unknown key of their table was probably
	// meant as (see markSuspects): "members" for memebers. A problem that
	// follows from such a key being absent is not reported.
	suspects map[string]bool
	// warnings receives what warn records (nil: dropped).
	warnings *ErrorList
}

// suspect records that key of the table at table was probably misspelled.
func (e *errs) suspect(table []string, key string) {
	if e.suspects == nil {
		e.suspects = map[string]bool{}
	}
	e.suspects[dotted(append(table[:len(table):len(table)], key))] = true
}

// suspected tells whether key of the table at table was probably written
// under another name: its absence is no problem of its own.
func (e *errs) suspected(table []string, key string) bool {
	return e.suspects[dotted(append(table[:len(table):len(table)], key))]
}

// at records a problem at the key path.
func (e *errs) at(path []string, format string, args ...any) {
	p := e.pos.of(path)
	err := Error{File: e.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
	if e.seen == nil {
		e.seen = map[Error]bool{}
	}
	if e.seen[err] {
		return
	}
	e.seen[err] = true
	*e.list = append(*e.list, &err)
}

// warn records a warning at the key path: a setting that is valid but does
// nothing. Warnings never fail a load.
func (e *errs) warn(path []string, format string, args ...any) {
	if e.warnings == nil {
		return
	}
	p := e.pos.of(path)
	w := Error{File: e.file, Line: p.Line, Col: p.Col, Msg: "warning: " + dotted(path) + ": " + fmt.Sprintf(format, args...)}
	if e.seen == nil {
		e.seen = map[Error]bool{}
	}
	if !e.seen[w] {
		e.seen[w] = true
		*e.warnings = append(*e.warnings, &w)
	}
}

// key records a problem with the key at path, naming the key first:
// "services.www.ttl: message".
func (e *errs) key(path []string, format string, args ...any) {
	e.at(path, "%s: %s", dotted(path), fmt.Sprintf(format, args...))
}

// decodeFile checks the shape of src (see maxDepth), decodes it into doc,
// and reports the problems the value types of doc found. The caller
// reports unknown keys (unknownKeys) once it has decoded the Primitive
// parts of doc.
// It returns the collector of the file's errors and the decoder's metadata,
// or ok false if the file could not be decoded at all.
func decodeFile(file string, src []byte, doc any, list *ErrorList) (e *errs, md toml.MetaData, ok bool) {
	idx, deep := indexPositions(file, src)
	if deep != nil {
		*list = append(*list, deep)
		return nil, md, false
	}
	md, err := toml.Decode(string(src), doc)
	if err != nil {
		*list = append(*list, tomlError(file, src, idx, err))
		return nil, md, false
	}
	e = &errs{file: file, pos: idx, list: list}
	e.values(nil, reflect.ValueOf(doc))
	return e, md, true
}

// tomlError turns an error of the TOML decoder on src into an Error with
// the best position the library gives, or our index from the key it names.
func tomlError(file string, src []byte, idx *positions, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
			msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
		}
		return &Error{File: file, Line: pe.Position.Line, Col: runeCol(src, pe.Position.Start, pe.Position.Col), Msg: msg}
	}
	// The value types accept every TOML value, so the decoder fails only
	// where a table or an array is written as something else. For that it
	// has no typed error, only the text "toml: line N (last key "k"):
	// msg", which is read back here: the key gives the column, and the
	// message is put in operator words.
	m := plainTOMLError.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	e := &Error{File: file, Msg: m[3]}
	fmt.Sscan(m[1], &e.Line)
	if t := typeMismatch.FindStringSubmatch(m[3]); t != nil {
		got, want := t[1]+t[4], t[2]+t[3]
		e.Msg = fmt.Sprintf("want %s, got %s", goTypeWords(want), goTypeWords(got))
	}
	if m[2] != "" {
		// The key is printed with %q: undo that, then split it.
		k, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			k = m[2]
		}
		key := splitKey(k)
		if p := idx.of(key); p.Line > 0 {
			e.Line, e.Col = p.Line, p.Col
		}
		e.Msg = dotted(key) + ": " + e.Msg
	}
	return e
}

// runeCol is the column, counted in characters as our index counts it, of
// byte offset off of src after its byte order mark, as the library gives
// offsets; the library's own column counts bytes. col is the library's
// column, kept if off is not in src.
func runeCol(src []byte, off, col int) int {
	bom := bomLen(src)
	off += bom
	if off < bom || off > len(src) {
		return col
	}
	start := max(bytes.LastIndexByte(src[:off], '\n')+1, bom)
	return utf8.RuneCount(src[start:off]) + 1
}

var (
	plainTOMLError = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "((?:[^"\\]|\\.)*)"\))?: (.*)$`)
	typeMismatch   = regexp.MustCompile(`^(?:incompatible types: TOML value has type (\S+); destination has type (\S+)|type mismatch for \S+: expected (\S+) but found (\S+))$`)
)

// goTypeWords names a type of the decoder's messages in operator words.
func goTypeWords(t string) string {
	switch {
	case t == "int64":
		return "an integer"
	case t == "float64":
		return "a float"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case t == "slice" || strings.HasPrefix(t, "[]"):
		return "an array"
	case t == "table" || t == "map" || strings.HasPrefix(t, "map["):
		return "a table"
	case strings.Contains(t, "time."):
		return "a date or time"
	}
	return t
}

// splitKey splits a key as toml.Key.String writes it: parts joined by
// dots, quoted with Go escapes where they are not bare.
func splitKey(s string) []string {
	var parts []string
	for s != "" {
		if s[0] == '"' {
			if q, err := strconv.QuotedPrefix(s); err == nil {
				u, _ := strconv.Unquote(q)
				parts = append(parts, u)
				s = strings.TrimPrefix(s[len(q):], ".")
				continue
			}
		}
		part, rest, _ := strings.Cut(s, ".")
		parts = append(parts, part)
		s = rest
	}
	return parts
}
