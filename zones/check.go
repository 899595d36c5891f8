package zones

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"

	"github.com/gslb/gslb/health"
	"github.com/miekg/dns"
)

// checkDoc is a health check as written in a zone file, at the service
// (defaults for its backends) or at a backend (overrides). Pointers tell
// "not written" from zero values.
type checkDoc struct {
	Type            *string           `toml:"type"`
	Address         *string           `toml:"address"`
	Port            *int64            `toml:"port"`
	Interval        any               `toml:"interval"`
	Timeout         any               `toml:"timeout"`
	Rise            *int64            `toml:"rise"`
	Fall            *int64            `toml:"fall"`
	Start           *string           `toml:"start"`
	Method          *string           `toml:"method"`
	Path            *string           `toml:"path"`
	Host            *string           `toml:"host"`
	Headers         map[string]string `toml:"headers"`
	Expect          any               `toml:"expect"`
	Body            *string           `toml:"body"`
	BodyRegexp      *string           `toml:"body_regexp"`
	ServerName      *string           `toml:"server_name"`
	Insecure        *bool             `toml:"insecure"`
	FollowRedirects *bool             `toml:"follow_redirects"`
	LoadHeader      *string           `toml:"load_header"`
	LoadJSON        *string           `toml:"load_json"`
	Capacity        any               `toml:"capacity"`
	Send            *string           `toml:"send"`
	Reply           *string           `toml:"reply"`
	QueryName       *string           `toml:"query_name"`
	QueryType       *string           `toml:"query_type"`
	Rcode           *string           `toml:"rcode"`
	Answer          *string           `toml:"answer"`
}

// merge returns the service's check with the backend's fields laid over it.
func merge(svc, b *checkDoc) checkDoc {
	var out checkDoc
	if svc != nil {
		out = *svc
	}
	if b == nil {
		return out
	}
	set := func(dst **string, src *string) {
		if src != nil {
			*dst = src
		}
	}
	set(&out.Type, b.Type)
	set(&out.Address, b.Address)
	set(&out.Start, b.Start)
	set(&out.Method, b.Method)
	set(&out.Path, b.Path)
	set(&out.Host, b.Host)
	set(&out.Body, b.Body)
	set(&out.BodyRegexp, b.BodyRegexp)
	set(&out.ServerName, b.ServerName)
	set(&out.LoadHeader, b.LoadHeader)
	set(&out.LoadJSON, b.LoadJSON)
	set(&out.Send, b.Send)
	set(&out.Reply, b.Reply)
	set(&out.QueryName, b.QueryName)
	set(&out.QueryType, b.QueryType)
	set(&out.Rcode, b.Rcode)
	set(&out.Answer, b.Answer)
	if b.Port != nil {
		out.Port = b.Port
	}
	if b.Rise != nil {
		out.Rise = b.Rise
	}
	if b.Fall != nil {
		out.Fall = b.Fall
	}
	if b.Insecure != nil {
		out.Insecure = b.Insecure
	}
	if b.FollowRedirects != nil {
		out.FollowRedirects = b.FollowRedirects
	}
	for _, p := range []struct {
		dst *any
		src any
	}{
		{&out.Interval, b.Interval}, {&out.Timeout, b.Timeout}, {&out.Expect, b.Expect}, {&out.Capacity, b.Capacity},
	} {
		if p.src != nil {
			*p.dst = p.src
		}
	}
	if b.Headers != nil {
		h := map[string]string{}
		for k, v := range out.Headers {
			h[k] = v
		}
		for k, v := range b.Headers {
			h[k] = v
		}
		out.Headers = h
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// spec builds the health spec of a backend answered at addr. Problems are
// reported at path (the backend's check, or the service's).
func (l *zoneLoader) spec(c checkDoc, addr netip.Addr, path []string) health.Spec {
	fail := func(format string, args ...any) {
		l.e.at(path, "%s: %s", dotted(path), fmt.Sprintf(format, args...))
	}
	s := health.Spec{
		Kind:     health.KindNone,
		Interval: health.DefaultInterval,
		Timeout:  health.DefaultTimeout,
		Rise:     health.DefaultRise,
		Fall:     health.DefaultFall,
	}
	if c.Type != nil {
		s.Kind = strings.ToLower(*c.Type)
	}
	if s.Kind == health.KindNone {
		if c.Type == nil && !reflect.ValueOf(c).IsZero() {
			fail("a check needs a type: http, https, tcp, dns or none")
		}
		return health.Spec{Kind: health.KindNone}
	}
	port := map[string]uint16{health.KindHTTP: 80, health.KindHTTPS: 443, health.KindDNS: 53}[s.Kind]
	if c.Port != nil {
		if *c.Port < 1 || *c.Port > 65535 {
			fail("port %d is out of range 1..65535", *c.Port)
		}
		port = uint16(*c.Port)
	}
	s.Addr = netip.AddrPortFrom(addr, port)
	if c.Address != nil {
		if ap, err := netip.ParseAddrPort(*c.Address); err == nil {
			s.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else if ip, err := netip.ParseAddr(*c.Address); err == nil {
			s.Addr = netip.AddrPortFrom(ip.Unmap(), port)
		} else {
			fail("check address %q: want an IP or IP:port", *c.Address)
		}
	}
	if s.Addr.Port() == 0 {
		fail("a %s check needs a port", s.Kind)
		return s
	}
	if c.Interval != nil {
		d, err := duration(c.Interval)
		if err != nil {
			fail("interval: %v", err)
		}
		s.Interval = d
	}
	if c.Timeout != nil {
		d, err := duration(c.Timeout)
		if err != nil {
			fail("timeout: %v", err)
		}
		s.Timeout = d
	}
	if c.Rise != nil {
		s.Rise = int(*c.Rise)
	}
	if c.Fall != nil {
		s.Fall = int(*c.Fall)
	}
	switch str(c.Start) {
	case "", "up":
	case "down":
		s.StartDown = true
	default:
		fail("start = %q: want \"up\" or \"down\"", *c.Start)
	}
	switch s.Kind {
	case health.KindHTTP, health.KindHTTPS:
		h := &s.HTTP
		h.Method = strings.ToUpper(str(c.Method))
		h.Path = str(c.Path)
		if h.Path == "" {
			h.Path = "/"
		}
		h.Host = str(c.Host)
		h.Headers = health.Headers(c.Headers)
		switch e := c.Expect.(type) {
		case nil:
		case int64:
			h.Expect = fmt.Sprint(e)
		case string:
			h.Expect = e
		case []any:
			var parts []string
			for _, v := range e {
				parts = append(parts, fmt.Sprint(v))
			}
			h.Expect = strings.Join(parts, ",")
		default:
			fail("expect: want a status, a range such as \"200-399\", or a list of them")
		}
		h.Body = str(c.Body)
		h.BodyRegexp = str(c.BodyRegexp)
		h.ServerName = str(c.ServerName)
		h.Insecure = c.Insecure != nil && *c.Insecure
		h.FollowRedirects = c.FollowRedirects != nil && *c.FollowRedirects
		h.LoadHeader = str(c.LoadHeader)
		h.LoadJSON = str(c.LoadJSON)
		switch v := c.Capacity.(type) {
		case nil:
		case int64:
			h.Capacity = float64(v)
		case float64:
			h.Capacity = v
		default:
			fail("capacity: want a number")
		}
		if h.LoadHeader != "" && h.LoadJSON != "" {
			fail("load_header and load_json: give one of them")
		}
	case health.KindTCP:
		s.TCP = health.TCPSpec{Send: str(c.Send), Expect: str(c.Reply)}
	case health.KindDNS:
		s.DNS.Name = str(c.QueryName)
		s.DNS.Type = dns.TypeA
		if c.QueryType != nil {
			t, ok := dns.StringToType[strings.ToUpper(*c.QueryType)]
			if !ok {
				fail("query_type %q is not a record type", *c.QueryType)
			}
			s.DNS.Type = t
		}
		if c.Rcode != nil {
			rc, ok := dns.StringToRcode[strings.ToUpper(*c.Rcode)]
			if !ok {
				fail("rcode %q is not a DNS rcode", *c.Rcode)
			}
			s.DNS.Rcode = rc
		}
		s.DNS.Answer = str(c.Answer)
	}
	// Settings that belong to another kind are mistakes, not no-ops.
	http := s.Kind == health.KindHTTP || s.Kind == health.KindHTTPS
	for _, k := range []struct {
		name string
		set  bool
		ok   bool
	}{
		{"method", c.Method != nil, http}, {"path", c.Path != nil, http}, {"host", c.Host != nil, http},
		{"headers", c.Headers != nil, http}, {"expect", c.Expect != nil, http}, {"body", c.Body != nil, http},
		{"body_regexp", c.BodyRegexp != nil, http}, {"server_name", c.ServerName != nil, http},
		{"insecure", c.Insecure != nil, http}, {"follow_redirects", c.FollowRedirects != nil, http},
		{"load_header", c.LoadHeader != nil, http}, {"load_json", c.LoadJSON != nil, http}, {"capacity", c.Capacity != nil, http},
		{"send", c.Send != nil, s.Kind == health.KindTCP}, {"reply", c.Reply != nil, s.Kind == health.KindTCP},
		{"query_name", c.QueryName != nil, s.Kind == health.KindDNS}, {"query_type", c.QueryType != nil, s.Kind == health.KindDNS},
		{"rcode", c.Rcode != nil, s.Kind == health.KindDNS}, {"answer", c.Answer != nil, s.Kind == health.KindDNS},
	} {
		if k.set && !k.ok {
			fail("%s does not apply to a %s check", k.name, s.Kind)
		}
	}
	if c.Port != nil && c.Address != nil {
		if _, err := netip.ParseAddrPort(*c.Address); err == nil {
			fail("port is given twice: in address %q and as port", *c.Address)
		}
	}
	if err := s.Check(); err != nil {
		fail("%v", err)
	}
	return s
}
