package zones

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

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

// key records a problem with the key at path, naming the key first:
// "services.www.ttl: message".
func (e *errs) key(path []string, format string, args ...any) {
	e.at(path, "%s: %s", dotted(path), fmt.Sprintf(format, args...))
}

// decodeFile checks the shape of src (see maxDepth), decodes it into doc,
// and reports unknown keys and the problems the value types of doc found.
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
		*list = append(*list, tomlError(file, err))
		return nil, md, false
	}
	e = &errs{file: file, pos: idx, list: list}
	unknownKeys(e, md)
	e.values(nil, reflect.ValueOf(doc))
	return e, md, true
}

// tomlError turns an error of the TOML decoder into an Error with the best
// position the library gives.
func tomlError(file string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
			msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
		}
		return &Error{File: file, Line: pe.Position.Line, Col: pe.Position.Col, Msg: msg}
	}
	// The value types accept every TOML value, so the decoder fails only
	// where a table or an array is written as something else. For that it
	// gives no ParseError but a plain error, "toml: line N (last key "k"):
	// msg", whose line and key we read back.
	s := strings.TrimPrefix(err.Error(), "toml: ")
	var line int
	if n, _ := fmt.Sscanf(s, "line %d", &line); n == 1 {
		if i := strings.Index(s, "): "); i >= 0 {
			key := ""
			if j := strings.Index(s, `(last key "`); j >= 0 && j < i {
				key = s[j+len(`(last key "`) : i-1]
			}
			msg := s[i+3:]
			if key != "" {
				msg = key + ": " + msg
			}
			return &Error{File: file, Line: line, Msg: msg}
		}
		if i := strings.Index(s, ": "); i >= 0 {
			return &Error{File: file, Line: line, Msg: s[i+2:]}
		}
	}
	return &Error{File: file, Msg: s}
}
