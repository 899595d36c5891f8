package zones

import (
	"math"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// problems returns what a value type found wrong, one string per problem.
func problems(v valueType) string {
	var out []string
	for _, p := range v.valueProblems() {
		s := p.msg
		if p.elem >= 0 {
			s = indexName(p.elem) + " " + s
		}
		if p.key != "" {
			s = p.key + " " + s
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

// decoded returns the value a value type decoded.
func decoded(v valueType) any {
	switch x := v.(type) {
	case *tomlString:
		return x.v
	case *tomlBool:
		return x.v
	case *tomlInt:
		return x.v
	case *tomlNumber:
		return x.v
	case *seconds:
		return x.v
	case *duration:
		return x.v
	case *stringList:
		return x.v
	case *addrPort:
		return x.v
	case *networks:
		return x.v
	case *serial:
		return x.v
	case *expectList:
		return x.v
	case *rrType:
		return x.v
	case *rcodeValue:
		return x.v
	}
	return nil
}

func TestValueTypes(t *testing.T) {
	cases := []struct {
		name string
		v    interface {
			UnmarshalTOML(any) error
			valueType
		}
		in   any
		want any    // the value decoded, when good
		bad  string // the problems, when not
	}{
		{"string", &tomlString{}, "x", "x", ""},
		{"string of an int", &tomlString{}, int64(1), nil, "want a string, got an integer"},
		{"bool", &tomlBool{}, true, true, ""},
		{"bool of a string", &tomlBool{}, "yes", nil, "want true or false, got a string"},
		{"int", &tomlInt{}, int64(7), int64(7), ""},
		{"int of a float", &tomlInt{}, 1.5, nil, "want an integer, got a float"},
		{"number of an int", &tomlNumber{}, int64(2), 2.0, ""},
		{"number of a float", &tomlNumber{}, 2.5, 2.5, ""},
		{"number nan", &tomlNumber{}, math.NaN(), nil, "NaN is not a number"},
		{"number inf", &tomlNumber{}, math.Inf(-1), nil, "-Inf is not a number"},
		{"seconds", &seconds{}, "1h30m", uint32(5400), ""},
		{"seconds int", &seconds{}, int64(300), uint32(300), ""},
		{"seconds negative", &seconds{}, int64(-1), nil, "-1 is out of range 0..2147483647"},
		{"seconds of a table", &seconds{}, map[string]any{}, nil, `want seconds as a number or a string such as "5m", got a table`},
		{"duration", &duration{}, "500ms", 500 * time.Millisecond, ""},
		{"duration int", &duration{}, int64(2), 2 * time.Second, ""},
		{"duration bad", &duration{}, "10", nil, `bad duration "10": want e.g. "10s" or "500ms"`},
		{"duration negative", &duration{}, "-1s", nil, `negative duration "-1s"`},
		{"string list of one", &stringList{}, "a", []string{"a"}, ""},
		{"string list", &stringList{}, []any{"a", int64(1), "b"}, nil, "[1] want a string, got an integer"},
		{"string array of a string", &stringArray{}, "a", nil, `want an array of strings such as ["a"], got a string`},
		{"addr:port", &addrPort{}, "[::1]:53", netip.MustParseAddrPort("[::1]:53"), ""},
		{"addr:port without port", &addrPort{}, "::1", nil, `"::1" is not an IP:port address (use [::1]:53 for IPv6)`},
		{"networks", &networks{}, []any{"192.0.2.7/24"}, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, ""},
		{"networks bad element", &networks{}, []any{"192.0.2.0/24", "x"}, nil, `[1] "x" is not a network such as "192.0.2.0/24"`},
		{"ecs all", &ecsTrust{}, "all", nil, ""},
		{"ecs word", &ecsTrust{}, "some", nil, `"some": want "all", "none" or a list of trusted resolver networks`},
		{"serial auto", &serial{}, "auto", nil, ""},
		{"serial", &serial{}, int64(2026120201), uint32(2026120201), ""},
		{"serial too big", &serial{}, int64(1 << 32), nil, "4294967296 is out of range 0..4294967295"},
		{"expect list", &expectList{}, []any{int64(200), "301-399"}, "200,301-399", ""},
		{"expect bad", &expectList{}, "2xx", nil, `bad status "2xx": want a code 100..599 or a range such as 200-399`},
		{"start", &startState{}, "sideways", nil, `"sideways": want "pending", "up" or "down"`},
		{"path", &httpPath{}, "health", nil, `"health" must start with /`},
		{"regexp", &bodyRegexp{}, "(", nil, "bad regular expression: error parsing regexp: missing closing ): `(`"},
		{"query type", &rrType{}, "aaaa", uint16(28), ""},
		{"rcode", &rcodeValue{}, "nxdomain", 3, ""},
		{"address", &probeAddress{}, "192.0.2.1:8080", nil, ""},
		{"address bad", &probeAddress{}, "db:80", nil, `"db:80": want an IP or IP:port`},
		{"interval", &probeInterval{}, "5ms", nil, "5ms is too short (at least 10ms)"},
		{"table of arrays", &valueTable[stringArray, *stringArray]{}, map[string]any{"EU": []any{"eu"}, "NA": []any{true}}, nil, "NA [0] want a string, got a boolean"},
		{"table of a string", &valueTable[stringArray, *stringArray]{}, "eu", nil, "want a table, got a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.v.UnmarshalTOML(c.in); err != nil {
				t.Fatalf("UnmarshalTOML returned %v; value types keep their problems", err)
			}
			if got := problems(c.v); got != c.bad {
				t.Errorf("problems %q, want %q", got, c.bad)
			}
			if c.want == nil {
				return
			}
			if got := decoded(c.v); !reflect.DeepEqual(got, c.want) {
				t.Errorf("value %#v, want %#v", got, c.want)
			}
		})
	}
}

// TestValueTypesReset: decoding into a value twice (the service's check,
// then the backend's) keeps only what the second found.
func TestValueTypesReset(t *testing.T) {
	var e expectList
	_ = e.UnmarshalTOML("2xx")
	_ = e.UnmarshalTOML(int64(204))
	if !e.ok() || e.v != "204" {
		t.Errorf("after a good second value: ok %v, v %q, problems %q", e.ok(), e.v, problems(&e))
	}
}

// TestRangeTags: range tags are checked by the walk, with their hint.
func TestRangeTags(t *testing.T) {
	var doc struct {
		A tomlInt    `toml:"a" range:"1..10"`
		B tomlNumber `toml:"b" range:"0.." hint:"0: off"`
		C tomlInt    `toml:"c" range:"1..10"`
	}
	if _, err := toml.Decode("a = 11\nb = -0.5\nc = 10\n", &doc); err != nil {
		t.Fatal(err)
	}
	var list ErrorList
	(&errs{file: "f", list: &list}).values(nil, reflect.ValueOf(&doc))
	want := "f: a: 11 is out of range 1..10\nf: b: -0.5 is out of range 0.. (0: off)"
	if list.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", list.Error(), want)
	}
	if !doc.C.ok() || doc.A.ok() {
		t.Errorf("ok: a %v, c %v", doc.A.ok(), doc.C.ok())
	}
}
