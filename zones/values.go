package zones

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxTTL is the largest TTL RFC 2181 section 8 allows.
const maxTTL = math.MaxInt32

// seconds converts a TOML value to a number of seconds. It accepts an
// integer ("300") or a string in the units operators write in zone files:
// "90", "30s", "5m", "1h30m", "2d", "1w".
func seconds(v any) (uint32, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 || x > maxTTL {
			return 0, fmt.Errorf("%d is out of range 0..%d", x, maxTTL)
		}
		return uint32(x), nil
	case string:
		return parseSeconds(x)
	default:
		return 0, fmt.Errorf("want seconds as a number or a string such as \"5m\", got %s", typeName(v))
	}
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

// duration converts a TOML value to a time.Duration: a Go duration string
// ("10s", "500ms") or an integer number of seconds.
func duration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("%d seconds is out of range", x)
		}
		return time.Duration(x) * time.Second, nil
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q: want e.g. \"10s\" or \"500ms\"", x)
		}
		if d < 0 {
			return 0, fmt.Errorf("negative duration %q", x)
		}
		return d, nil
	default:
		return 0, fmt.Errorf("want a duration such as \"10s\", got %s", typeName(v))
	}
}

// stringList accepts a string or an array of strings.
func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: want a string, got %s", i+1, typeName(e))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("want a string or an array of strings, got %s", typeName(v))
	}
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
		return fmt.Sprintf("a %T", v)
	}
}
