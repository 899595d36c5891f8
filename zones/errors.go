package zones

import (
	"errors"
	"fmt"
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
type errs struct {
	file string
	pos  *positions
	list *ErrorList
}

// at records a problem at the key path.
func (e *errs) at(path []string, format string, args ...any) {
	p := e.pos.of(path)
	*e.list = append(*e.list, &Error{File: e.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
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
	// Type mismatches come as plain errors "toml: line N (last key "k"): msg".
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
