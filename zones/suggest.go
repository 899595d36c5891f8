package zones

import (
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// This file words the errors about unknown keys: the key as written (with
// its array index), the key the operator probably meant, and where a key
// that exists elsewhere belongs.

// unknownKey is the message for the key at path, unknown where it is
// written; known are the keys its table does take (nil if not known).
func unknownKey(path []string, known []string) string {
	name := path[len(path)-1]
	msg := "unknown key \"" + dotted(path) + "\""
	if s := closest(name, known); s != "" {
		return msg + "; did you mean \"" + s + "\"?"
	}
	if len(path) >= 3 && path[0] == "services" && allProbeKeys[name] && isServiceOrBackend(path[:len(path)-1]) {
		return msg + ": " + name + " is a check setting; write it in the check table: check = { " + name + " = … }"
	}
	return msg
}

// markSuspects records, before any check runs, the keys that an unknown key
// of the same table probably means ("members" for memebers), so that no
// problem follows from their absence: the misspelling is the one error.
func markSuspects(e *errs, md toml.MetaData, sch schema) {
	done := map[string]bool{}
	for _, k := range md.Undecoded() {
		if len(k) < 2 || done[k.String()] {
			continue
		}
		done[k.String()] = true
		name, parent := k[len(k)-1], k[:len(k)-1]
		var known []string
		if isProbeKey(k) && parent[len(parent)-1] == "check" {
			known = probeKeyList
		} else {
			known = sch.keysAt(parent)
		}
		if known == nil || contains(known, name) {
			continue
		}
		s := closest(name, known)
		if s == "" {
			continue
		}
		for _, p := range e.pos.written(k) {
			e.suspect(p[:len(p)-1], s)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isServiceOrBackend tells whether path names a service (services.NAME) or
// one of its backends (services.NAME.backends[i]).
func isServiceOrBackend(path []string) bool {
	switch {
	case len(path) == 2:
		return true
	case len(path) == 3 && path[2] == "backends":
		return true
	case len(path) == 4 && path[2] == "backends" && strings.HasPrefix(path[3], "["):
		return true
	}
	return false
}

// closest returns the candidate within a small edit distance of name (one
// edit for names up to five bytes, two beyond), the nearest and then the
// first in order, or "" if none is that close.
func closest(name string, candidates []string) string {
	limit := 1
	if len(name) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == name {
			continue
		}
		if d := editDistance(strings.ToLower(name), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Closest is closest for tools outside the package (gslb ctl's "did you
// mean"): the candidate a misspelt name probably meant, "" if none.
func Closest(name string, candidates []string) string { return closest(name, candidates) }

// editDistance is the Damerau–Levenshtein distance (optimal string
// alignment) between a and b, counting a swap of two neighbours as one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// schema finds the keys a table takes from the Go type it is decoded into.
// Where a document holds a toml.Primitive, decoded later, prim gives the
// type it is decoded into from the key path up to it (nil: unknown).
type schema struct {
	root reflect.Type
	prim func(path []string) reflect.Type
}

var unmarshaler = reflect.TypeFor[toml.Unmarshaler]()

// keysAt returns the keys the table at path takes, sorted, or nil if the
// path leads to no struct (a map of names, a value, a Primitive of
// unknown type). Array indexes in path are skipped.
func (s schema) keysAt(path []string) []string {
	t := s.root
	for i := 0; t != nil; {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if i < len(path) && strings.HasPrefix(path[i], "[") {
			i++
			continue
		}
		if t == reflect.TypeFor[toml.Primitive]() {
			if s.prim == nil {
				return nil
			}
			t = s.prim(path[:i])
			continue
		}
		if reflect.PointerTo(t).Implements(unmarshaler) {
			return nil
		}
		if i == len(path) {
			if t.Kind() != reflect.Struct {
				return nil
			}
			keys := tomlKeys(t)
			sort.Strings(keys)
			return keys
		}
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := fieldByKey(t, path[i])
			if !ok {
				return nil
			}
			t = f
		default:
			return nil
		}
		i++
	}
	return nil
}

// fieldByKey returns the type of t's field decoded from key.
func fieldByKey(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if f.Anonymous && name == "" {
			if ft, ok := fieldByKey(f.Type, key); ok {
				return ft, true
			}
		} else if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

// zoneSchema is the shape of a zone file: each service's Primitive is a
// serviceDoc.
var zoneSchema = schema{
	root: reflect.TypeFor[zoneDoc](),
	prim: func(path []string) reflect.Type {
		if len(path) == 2 && path[0] == "services" {
			return reflect.TypeFor[serviceDoc]()
		}
		return nil
	},
}

// configSchema is the shape of the main file.
var configSchema = schema{root: reflect.TypeFor[configDoc]()}
