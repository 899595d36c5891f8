package zones

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// maxTTL is the largest TTL RFC 2181 section 8 allows.
const maxTTL = math.MaxInt32

// The value types below decode one key each, with UnmarshalTOML. Each
// accepts any TOML value: a wrong type or a bad value is kept in the value
// as a problem rather than returned, because an error returned to the
// decoder ends the whole decode and would hide every other problem in the
// file. After decoding, errs.values walks the document and reports each
// problem once, at the key where it was written, with the key path in front.
//
// A value type also tells whether its key was written at all (set), which
// replaces the pointers of a plain struct, and checks the range a struct tag
// gives it (range:"lo..hi", hint:"what 0 means"; an empty hi means no upper
// bound).

// written is embedded in every value type.
type written struct {
	set      bool
	problems []valueProblem
}

// valueProblem is what is wrong with a value, or with element elem of an
// array value (elem is -1 for the value itself), or with the value at key
// of a table value (key is "" for the value itself).
type valueProblem struct {
	key  string
	elem int
	msg  string
}

// bad records a problem with the value.
func (w *written) bad(format string, args ...any) {
	w.problems = append(w.problems, valueProblem{elem: -1, msg: fmt.Sprintf(format, args...)})
}

// badElem records a problem with element i of an array value.
func (w *written) badElem(i int, format string, args ...any) {
	w.problems = append(w.problems, valueProblem{elem: i, msg: fmt.Sprintf(format, args...)})
}

// ok tells whether the key was written with a good value.
func (w *written) ok() bool { return w.set && len(w.problems) == 0 }

// value is what most value types hold: whether and how the key was
// written, and the value decoded, good when ok.
type value[T any] struct {
	written
	v T
}

// to stores the value in dst if it was written and good.
func (x *value[T]) to(dst *T) {
	if x.ok() {
		*dst = x.v
	}
}

// decodeAs decodes v if it is a T, else records that want was wanted.
func (x *value[T]) decodeAs(v any, want string) {
	x.written = written{set: true}
	if t, ok := v.(T); ok {
		x.v = t
	} else {
		x.bad("want %s, got %s", want, typeName(v))
	}
}

// decodeName decodes v as a name of table, in any case; what says what
// the names are, for the error.
func (x *value[T]) decodeName(v any, table map[string]T, what string) {
	x.written = written{set: true}
	s, _ := v.(string)
	var ok bool
	if x.v, ok = table[strings.ToUpper(s)]; !ok {
		x.bad("%s is not %s", quoted(v), what)
	}
}

func (w *written) valueProblems() []valueProblem { return w.problems }

// valueType is what errs.values looks for in a decoded document.
type valueType interface {
	valueProblems() []valueProblem
}

// ranged is a value type that a range:"lo..hi" tag applies to.
type ranged interface {
	checkRange(lo, hi float64, bounds, hint string)
}

// tomlString is a string value.
type tomlString struct{ value[string] }

// UnmarshalTOML implements toml.Unmarshaler.
func (s *tomlString) UnmarshalTOML(v any) error {
	s.decodeAs(v, "a string")
	return nil
}

// tomlBool is a boolean value.
type tomlBool struct{ value[bool] }

// UnmarshalTOML implements toml.Unmarshaler.
func (b *tomlBool) UnmarshalTOML(v any) error {
	b.decodeAs(v, "true or false")
	return nil
}

// tomlInt is an integer value.
type tomlInt struct{ value[int64] }

// UnmarshalTOML implements toml.Unmarshaler.
func (n *tomlInt) UnmarshalTOML(v any) error {
	n.decodeAs(v, "an integer")
	return nil
}

func (n *tomlInt) checkRange(lo, hi float64, bounds, hint string) {
	if n.ok() && (float64(n.v) < lo || float64(n.v) > hi) {
		n.bad("%d is out of range %s%s", n.v, bounds, hint)
	}
}

// toInt stores the value in dst if it was written and good.
func toInt[T ~int | ~uint16 | ~uint64](n *tomlInt, dst *T) {
	if n.ok() {
		*dst = T(n.v)
	}
}

// tomlNumber is an integer or a float; NaN and infinities are refused.
type tomlNumber struct{ value[float64] }

// UnmarshalTOML implements toml.Unmarshaler.
func (n *tomlNumber) UnmarshalTOML(v any) error {
	n.written = written{set: true}
	switch x := v.(type) {
	case int64:
		n.v = float64(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			n.bad("%v is not a number", x)
		}
		n.v = x
	default:
		n.bad("want a number, got %s", typeName(v))
	}
	return nil
}

func (n *tomlNumber) checkRange(lo, hi float64, bounds, hint string) {
	if n.ok() && (n.v < lo || n.v > hi) {
		n.bad("%v is out of range %s%s", n.v, bounds, hint)
	}
}

// seconds is a TTL or an SOA timer: an integer ("300") or a string in the
// units operators write in zone files: "90", "30s", "5m", "1h30m", "2d",
// "1w".
type seconds struct{ value[uint32] }

// UnmarshalTOML implements toml.Unmarshaler.
func (s *seconds) UnmarshalTOML(v any) error {
	s.written = written{set: true}
	var err error
	switch x := v.(type) {
	case int64:
		if x < 0 || x > maxTTL {
			err = fmt.Errorf("%d is out of range 0..%d", x, maxTTL)
		} else {
			s.v = uint32(x)
		}
	case string:
		s.v, err = parseSeconds(x)
	default:
		err = fmt.Errorf("want seconds as a number or a string such as \"5m\", got %s", typeName(v))
	}
	if err != nil {
		s.bad("%v", err)
	}
	return nil
}

func parseSeconds(s string) (uint32, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if n > maxTTL {
			return 0, fmt.Errorf("%d is out of range 0..%d", n, maxTTL)
		}
		return uint32(n), nil
	}
	var total uint64
	rest := strings.ToLower(s)
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("bad duration %q: want a number and a unit (s, m, h, d, w), e.g. \"5m\"", s)
		}
		n, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		var unit uint64
		switch rest[i] {
		case 's':
			unit = 1
		case 'm':
			unit = 60
		case 'h':
			unit = 3600
		case 'd':
			unit = 86400
		case 'w':
			unit = 7 * 86400
		default:
			return 0, fmt.Errorf("bad duration %q: unknown unit %q (use s, m, h, d or w)", s, rest[i])
		}
		total += n * unit
		if total > maxTTL {
			return 0, fmt.Errorf("duration %q is out of range (at most %d seconds)", s, maxTTL)
		}
		rest = rest[i+1:]
	}
	return uint32(total), nil
}

// duration is a Go duration string ("10s", "500ms") or an integer number of
// seconds.
type duration struct{ value[time.Duration] }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *duration) UnmarshalTOML(v any) error {
	d.written = written{set: true}
	switch x := v.(type) {
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Second) {
			d.bad("%d seconds is out of range", x)
		} else {
			d.v = time.Duration(x) * time.Second
		}
	case string:
		p, err := time.ParseDuration(x)
		switch {
		case err != nil:
			d.bad("bad duration %q: want e.g. \"10s\" or \"500ms\"", x)
		case p < 0:
			d.bad("negative duration %q", x)
		default:
			d.v = p
		}
	default:
		d.bad("want a duration such as \"10s\", got %s", typeName(v))
	}
	return nil
}

// tolerance is rtt_tolerance: a duration ("10ms") or a share of the
// fastest latency ("20%").
type tolerance struct {
	written
	abs   time.Duration
	ratio float64
}

// UnmarshalTOML implements toml.Unmarshaler.
func (t *tolerance) UnmarshalTOML(v any) error {
	t.written = written{set: true}
	x, ok := v.(string)
	if !ok {
		t.bad("want a duration such as \"10ms\" or a share such as \"20%%\", got %s", typeName(v))
		return nil
	}
	if pct, isPct := strings.CutSuffix(x, "%"); isPct {
		f, err := strconv.ParseFloat(pct, 64)
		if err != nil || f < 0 || f > 1000 || math.IsNaN(f) {
			t.bad("%q: want a share of 0%% to 1000%%", x)
			return nil
		}
		t.ratio = f / 100
		return nil
	}
	d, err := time.ParseDuration(x)
	if err != nil || d < 0 || d > time.Minute {
		t.bad("%q: want a duration of 0 to 1m such as \"10ms\", or a share such as \"20%%\"", x)
		return nil
	}
	t.abs = d
	return nil
}

// stringList is a string or an array of strings; list tells which. v
// holds the good elements, and at the index each was written at.
type stringList struct {
	written
	v    []string
	at   []int
	list bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (l *stringList) UnmarshalTOML(v any) error {
	l.written = written{set: true}
	switch x := v.(type) {
	case string:
		l.v = []string{x}
	case []any:
		l.list = true
		l.v = make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				l.badElem(i, "want a string, got %s", typeName(e))
				continue
			}
			l.v = append(l.v, s)
			l.at = append(l.at, i)
		}
	default:
		l.bad("want a string or an array of strings, got %s", typeName(v))
	}
	return nil
}

// path returns the key path of element i of v: the array's path plus the
// index it was written at when the value is an array, else the key's own.
func (l *stringList) path(key []string, i int) []string {
	if !l.list {
		return key
	}
	return append(key[:len(key):len(key)], indexName(l.at[i]))
}

// serial is an SOA serial: a number or "auto" (derived from the file).
type serial struct {
	written
	v    uint32
	auto bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (s *serial) UnmarshalTOML(v any) error {
	s.written = written{set: true}
	switch x := v.(type) {
	case string:
		s.auto = true
		if x != "auto" {
			s.bad("want a number or \"auto\", got %q", x)
		}
	case int64:
		if x < 0 || x > 1<<32-1 {
			s.bad("%d is out of range 0..4294967295", x)
		}
		s.v = uint32(x)
	default:
		s.bad("want a number or \"auto\", got %s", typeName(v))
	}
	return nil
}

// valueTable is a table whose values are all of one value type V (P is
// *V). The TOML library decodes a value that is not a table into a Go map
// without an error; this type says "want a table".
type valueTable[V any, P interface {
	*V
	UnmarshalTOML(any) error
	valueProblems() []valueProblem
}] struct {
	written
	m map[string]V
}

// UnmarshalTOML implements toml.Unmarshaler.
func (t *valueTable[V, P]) UnmarshalTOML(v any) error {
	t.written = written{set: true}
	x, ok := v.(map[string]any)
	if !ok {
		t.bad("want a table, got %s", typeName(v))
		return nil
	}
	t.m = make(map[string]V, len(x))
	for k, e := range x {
		var val V
		_ = P(&val).UnmarshalTOML(e)
		t.m[k] = val
	}
	return nil
}

// valueProblems gives the table's problems and those of its values, in
// key order.
func (t *valueTable[V, P]) valueProblems() []valueProblem {
	out := t.problems
	for _, k := range slices.Sorted(maps.Keys(t.m)) {
		v := t.m[k]
		for _, p := range P(&v).valueProblems() {
			p.key = k
			out = append(out, p)
		}
	}
	return out
}

// stringArray is an array of strings.
type stringArray struct{ stringList }

// UnmarshalTOML implements toml.Unmarshaler.
func (a *stringArray) UnmarshalTOML(v any) error {
	_ = a.stringList.UnmarshalTOML(v)
	if _, ok := v.(string); ok {
		a.bad("want an array of strings such as [%q], got a string", v)
	}
	return nil
}

// addrPort is an "IP:port" address.
type addrPort struct{ value[netip.AddrPort] }

// UnmarshalTOML implements toml.Unmarshaler.
func (a *addrPort) UnmarshalTOML(v any) error {
	a.written = written{set: true}
	s, ok := v.(string)
	if !ok {
		a.bad("want an IP:port address as a string, got %s", typeName(v))
		return nil
	}
	p, err := netip.ParseAddrPort(s)
	if err != nil {
		a.bad("%q is not an IP:port address (use [::1]:53 for IPv6)", s)
	}
	a.v = p
	return nil
}

// networks is an array of networks such as "192.0.2.0/24", kept masked.
type networks struct{ value[[]netip.Prefix] }

// UnmarshalTOML implements toml.Unmarshaler.
func (n *networks) UnmarshalTOML(v any) error {
	n.written = written{set: true}
	list, ok := v.([]any)
	if !ok {
		n.bad("want an array of networks such as [\"192.0.2.0/24\"], got %s", typeName(v))
		return nil
	}
	n.v = []netip.Prefix{}
	for i, x := range list {
		s, _ := x.(string)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			n.badElem(i, "%s is not a network such as \"192.0.2.0/24\"", quoted(x))
			continue
		}
		n.v = append(n.v, p.Masked())
	}
	return nil
}

// ecsTrust is [geo] ecs: "all", "none" or the networks of trusted
// resolvers.
type ecsTrust struct {
	networks
	all bool
}

// UnmarshalTOML implements toml.Unmarshaler.
func (t *ecsTrust) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		t.set = true
		switch x {
		case "all":
			t.all = true
		case "none":
		default:
			t.bad("%q: want \"all\", \"none\" or a list of trusted resolver networks", x)
		}
		return nil
	case []any:
		return t.networks.UnmarshalTOML(v)
	}
	t.written = written{set: true}
	t.bad("want \"all\", \"none\" or a list of networks, got %s", typeName(v))
	return nil
}

// quoted prints a TOML value as an operator wrote it: strings quoted.
func quoted(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date or time"
	}
}

// tomlTypeName names a type as MetaData.Type gives it, in operator words.
func tomlTypeName(t string) string {
	switch t {
	case "String":
		return "a string"
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Bool":
		return "a boolean"
	case "Array", "ArrayHash":
		return "an array"
	case "Hash":
		return "a table"
	}
	return "a date or time"
}

// values reports, at its key, every problem the value types in v found, v
// being a decoded document or a part of it at path, after checking the
// ranges their struct tags give. Tables are walked in key order, arrays in
// element order; Primitive values, decoded later, are skipped, and so are
// parts whose type holds no value type.
func (e *errs) values(path []string, v reflect.Value) {
	plan := planOf(v.Type())
	if !plan.hasValues {
		return
	}
	if plan.isValue {
		for _, p := range v.Addr().Interface().(valueType).valueProblems() {
			at := path[:len(path):len(path)]
			if p.key != "" {
				at = append(at, p.key)
			}
			if p.elem >= 0 {
				at = append(at, indexName(p.elem))
			}
			e.key(at, "%s", p.msg)
		}
		return
	}
	// path is only read during a call, so that siblings may share its
	// backing array.
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			e.values(path, v.Elem())
		}
	case reflect.Struct:
		for _, f := range plan.fields {
			fv := v.Field(f.index)
			if f.bounds != "" {
				fv.Addr().Interface().(ranged).checkRange(f.lo, f.hi, f.bounds, f.hint)
			}
			if f.name == "" {
				e.values(path, fv)
			} else {
				e.values(append(path, f.name), fv)
			}
		}
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			keys = append(keys, it.Key().String())
		}
		slices.Sort(keys)
		// Map elements cannot be addressed: walk a copy.
		c := reflect.New(v.Type().Elem()).Elem()
		for _, k := range keys {
			c.Set(v.MapIndex(reflect.ValueOf(k)))
			e.values(append(path, k), c)
		}
	case reflect.Slice:
		for i := range v.Len() {
			e.values(append(path, indexName(i)), v.Index(i))
		}
	}
}

// walkPlan is what values needs to know about a type, worked out once.
type walkPlan struct {
	isValue   bool // a value type
	hasValues bool // holds a value type somewhere
	fields    []walkField
}

// walkField is a struct field that values walks.
type walkField struct {
	index        int
	name         string // "" for an embedded struct, walked in place
	bounds, hint string // its range tag, if any, and hint
	lo, hi       float64
}

var (
	walkPlans     sync.Map // reflect.Type -> *walkPlan, complete ones only
	walkPlanMu    sync.Mutex
	valueTypeType = reflect.TypeFor[valueType]()
	rangedType    = reflect.TypeFor[ranged]()
	primitiveType = reflect.TypeFor[toml.Primitive]()
)

// planOf returns the walk plan of t, working it out the first time.
func planOf(t reflect.Type) *walkPlan {
	if p, ok := walkPlans.Load(t); ok {
		return p.(*walkPlan)
	}
	walkPlanMu.Lock()
	defer walkPlanMu.Unlock()
	return buildPlan(t, map[reflect.Type]bool{})
}

// buildPlan works out the plan of t and of the types in it, with
// walkPlanMu held. A type met again inside itself is not walked into.
func buildPlan(t reflect.Type, building map[reflect.Type]bool) *walkPlan {
	if p, ok := walkPlans.Load(t); ok {
		return p.(*walkPlan)
	}
	p := &walkPlan{}
	if building[t] {
		return p
	}
	building[t] = true
	defer walkPlans.Store(t, p)
	switch {
	case t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(valueTypeType):
		p.isValue, p.hasValues = true, true
	case t == primitiveType:
	case t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map:
		p.hasValues = buildPlan(t.Elem(), building).hasValues
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !(f.Anonymous && name == "") && (!f.IsExported() || name == "" || name == "-") {
				continue
			}
			if !buildPlan(f.Type, building).hasValues {
				continue
			}
			wf := walkField{index: i, name: name, hint: f.Tag.Get("hint")}
			if r := f.Tag.Get("range"); r != "" {
				wf.bounds, wf.lo, wf.hi = parseRange(f.Type, r)
				if wf.hint != "" {
					wf.hint = " (" + wf.hint + ")"
				}
			}
			p.fields = append(p.fields, wf)
			p.hasValues = true
		}
	}
	return p
}

// parseRange reads a range:"lo..hi" tag of a field of type t; an empty hi
// is no upper bound.
func parseRange(t reflect.Type, bounds string) (string, float64, float64) {
	if !reflect.PointerTo(t).Implements(rangedType) {
		panic(fmt.Sprintf("zones: a range tag on %s, which has no range", t))
	}
	los, his, _ := strings.Cut(bounds, "..")
	lo, err1 := strconv.ParseFloat(los, 64)
	hi, err2 := strconv.ParseFloat(his, 64)
	if his == "" {
		hi, err2 = math.Inf(1), nil
	}
	if err1 != nil || err2 != nil {
		panic(fmt.Sprintf("zones: bad range tag %q", bounds))
	}
	return bounds, lo, hi
}
