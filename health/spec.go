package health

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Probe kinds.
const (
	KindHTTP  = "http"
	KindHTTPS = "https"
	KindTCP   = "tcp"
	KindDNS   = "dns"
	KindNone  = "none"
)

// Defaults of a probe's timing.
const (
	DefaultInterval = time.Second
	DefaultTimeout  = 500 * time.Millisecond
	DefaultRise     = 2
	DefaultFall     = 2
)

// Start is the state of a target before its first probe result.
type Start string

// Start states.
const (
	// StartPending (the zero value) keeps the target out of every answer
	// until its first result: up at once if that passes, down if it fails
	// (then it rises as usual). Nothing is answered before it is known.
	StartPending Start = ""
	// StartUp counts the target up until its results say otherwise (the
	// default before gslb 0.5: a restart never empties the answers, but
	// a dead backend is answered until it has failed fall times).
	StartUp Start = "up"
	// StartDown counts the target down until it has risen.
	StartDown Start = "down"
)

// Spec describes one probe target. It is comparable: two backends with the
// same Spec share one probe and one State.
type Spec struct {
	Kind string
	// Addr is where the probe goes; it may differ from the address the
	// backend is answered with (NAT, a separate health port).
	Addr netip.AddrPort

	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	// Start is the state before the first result: StartPending (the
	// default) answers nothing until a probe has spoken.
	Start Start
	// Quorum is how a fleet's votes on this check combine (see
	// Decide): "" is majority where a Voter is set, else local.
	Quorum string

	HTTP HTTPSpec
	TCP  TCPSpec
	DNS  DNSSpec
}

// HTTPSpec holds the settings of http and https probes.
type HTTPSpec struct {
	Method string
	Path   string
	Host   string // Host header; default the address
	// Headers are extra request headers as "Name: value" lines, sorted.
	Headers string
	// Expect lists accepted status codes and ranges: "200-399", "200,204".
	Expect string
	// Body, if set, must occur in the first MaxBody bytes of the body;
	// BodyRegexp likewise as a regular expression.
	Body       string
	BodyRegexp string
	// ServerName is the TLS server name (SNI and verification).
	ServerName string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// FollowRedirects follows up to 5 redirects; by default a redirect
	// status is judged as is.
	FollowRedirects bool
	// LoadHeader names a response header that reports the backend's load;
	// LoadJSON a field of a JSON body ("a.b.c"). The value is utilisation
	// in 0..1, or with Capacity > 0 a count divided by Capacity.
	LoadHeader string
	LoadJSON   string
	Capacity   float64
}

// TCPSpec holds the settings of tcp probes: connect, and optionally send
// Send and expect Expect in the reply.
type TCPSpec struct {
	Send   string
	Expect string
}

// DNSSpec holds the settings of dns probes: ask Name/Type and expect Rcode,
// and Answer in the answer section if set.
type DNSSpec struct {
	Name   string
	Type   uint16
	Rcode  int
	Answer string
}

// MaxBody is how much of an HTTP body a probe reads.
const MaxBody = 4096

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

// parseExpect parses "200-399" or "200,204,300-302".
func parseExpect(s string) ([]statusRange, error) {
	if s == "" {
		return []statusRange{{200, 399}}, nil
	}
	var out []statusRange
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 100 || a > 599 {
			return nil, fmt.Errorf("bad status %q: want a code 100..599 or a range such as 200-399", part)
		}
		b := a
		if isRange {
			b, err = strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a || b > 599 {
				return nil, fmt.Errorf("bad status range %q", part)
			}
		}
		out = append(out, statusRange{a, b})
	}
	return out, nil
}

// Headers joins request headers into the comparable form HTTPSpec keeps.
func Headers(h map[string]string) string {
	lines := make([]string, 0, len(h))
	for k, v := range h {
		lines = append(lines, k+": "+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Check reports the first problem with the spec, or nil. The loader calls
// it so that a bad probe is a configuration error, not a runtime surprise.
func (s Spec) Check() error {
	switch s.Kind {
	case KindNone:
		return nil
	case KindHTTP, KindHTTPS, KindTCP, KindDNS:
	default:
		return fmt.Errorf("unknown check type %q (want http, https, tcp, dns or none)", s.Kind)
	}
	if !s.Addr.IsValid() || s.Addr.Port() == 0 {
		return fmt.Errorf("check address %v needs an IP and a port", s.Addr)
	}
	if s.Interval < 10*time.Millisecond {
		return fmt.Errorf("interval %v is too short (at least 10ms)", s.Interval)
	}
	if s.Timeout <= 0 || s.Timeout >= s.Interval {
		return fmt.Errorf("timeout %v must be above 0 and below the interval %v", s.Timeout, s.Interval)
	}
	if s.Rise < 1 || s.Rise > 100 || s.Fall < 1 || s.Fall > 100 {
		return fmt.Errorf("rise %d and fall %d must be 1..100", s.Rise, s.Fall)
	}
	switch s.Kind {
	case KindHTTP, KindHTTPS:
		if _, err := parseExpect(s.HTTP.Expect); err != nil {
			return err
		}
		if s.HTTP.BodyRegexp != "" {
			if _, err := regexp.Compile(s.HTTP.BodyRegexp); err != nil {
				return fmt.Errorf("bad body_regexp: %v", err)
			}
		}
		if !strings.HasPrefix(s.HTTP.Path, "/") {
			return fmt.Errorf("path %q must start with /", s.HTTP.Path)
		}
		if s.HTTP.Capacity < 0 {
			return fmt.Errorf("capacity %v must not be negative", s.HTTP.Capacity)
		}
	case KindDNS:
		if s.DNS.Name == "" {
			return fmt.Errorf("a dns check needs a query name")
		}
	}
	return nil
}

// String names the target for logs and metrics: kind and address, plus the
// path of HTTP probes.
func (s Spec) String() string {
	switch s.Kind {
	case KindNone:
		return "none"
	case KindHTTP, KindHTTPS:
		return s.Kind + "://" + s.Addr.String() + s.HTTP.Path
	case KindDNS:
		return "dns://" + s.Addr.String() + "/" + s.DNS.Name
	}
	return s.Kind + "://" + s.Addr.String()
}
