package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Result is the outcome of one probe.
type Result struct {
	OK       bool
	Duration time.Duration
	// Reason says why the probe failed, or what it saw when it passed.
	Reason string
	Phases Phases
	// Status is the HTTP status code, or the DNS rcode.
	Status int
	// Load is the load the backend reported, when HasLoad.
	Load    float64
	HasLoad bool
}

// Phases are the timings of a probe's steps, as far as the kind has them.
type Phases struct {
	Connect   time.Duration
	TLS       time.Duration
	FirstByte time.Duration
}

// Prober runs one probe against a target; the deadline lives in ctx.
type Prober func(ctx context.Context, t *Target) Result

// probers maps a probe kind to its function.
var probers = map[string]Prober{
	KindHTTP:  probeHTTP,
	KindHTTPS: probeHTTP,
	KindTCP:   probeTCP,
	KindDNS:   probeDNS,
	KindNone:  func(context.Context, *Target) Result { return Result{OK: true, Reason: "no check"} },
}

// Target is a Spec made ready to probe: parsed expectations and a client.
type Target struct {
	Spec   Spec
	expect []statusRange
	bodyRE *regexp.Regexp
	client *http.Client
}

// NewTarget prepares a spec for probing.
func NewTarget(spec Spec) (*Target, error) {
	if err := spec.Check(); err != nil {
		return nil, err
	}
	t := &Target{Spec: spec}
	if spec.Kind == KindHTTP || spec.Kind == KindHTTPS {
		t.expect, _ = parseExpect(spec.HTTP.Expect)
		if spec.HTTP.BodyRegexp != "" {
			t.bodyRE = regexp.MustCompile(spec.HTTP.BodyRegexp)
		}
		tr := &http.Transport{
			Proxy:             nil, // probes go straight to the backend
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{}).DialContext,
			TLSClientConfig: &tls.Config{
				ServerName:         spec.HTTP.ServerName,
				InsecureSkipVerify: spec.HTTP.Insecure, // off unless configured
			},
			ForceAttemptHTTP2:      false,
			MaxResponseHeaderBytes: 64 << 10,
		}
		t.client = &http.Client{Transport: tr}
		if !spec.HTTP.FollowRedirects {
			t.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		} else {
			t.client.CheckRedirect = func(_ *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("more than 5 redirects")
				}
				return nil
			}
		}
	}
	return t, nil
}

// Run probes the target once within its timeout.
func (t *Target) Run(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, t.Spec.Timeout)
	defer cancel()
	start := time.Now()
	r := probers[t.Spec.Kind](ctx, t)
	r.Duration = time.Since(start)
	if !r.OK && ctx.Err() == context.DeadlineExceeded && !strings.Contains(r.Reason, "timeout") {
		r.Reason = fmt.Sprintf("timeout after %v: %s", t.Spec.Timeout, r.Reason)
	}
	return r
}

func probeHTTP(ctx context.Context, t *Target) Result {
	s := t.Spec.HTTP
	var r Result
	start := time.Now()
	// The trace runs in net/http's goroutines, which may outlive a failed
	// request: it writes only to these, read under the same lock.
	var mu sync.Mutex
	var ph Phases
	var connStart, tlsStart time.Time
	set := func(f func()) { mu.Lock(); f(); mu.Unlock() }
	trace := &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { set(func() { connStart = time.Now() }) },
		ConnectDone:          func(string, string, error) { set(func() { ph.Connect = time.Since(connStart) }) },
		TLSHandshakeStart:    func() { set(func() { tlsStart = time.Now() }) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { set(func() { ph.TLS = time.Since(tlsStart) }) },
		GotFirstResponseByte: func() { set(func() { ph.FirstByte = time.Since(start) }) },
	}
	phases := func() Phases { mu.Lock(); defer mu.Unlock(); return ph }
	method := s.Method
	if method == "" {
		method = http.MethodGet
	}
	url := t.Spec.Kind + "://" + t.Spec.Addr.String() + s.Path
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, url, nil)
	if err != nil {
		r.Reason = err.Error()
		r.Phases = phases()
		return r
	}
	if s.Host != "" {
		req.Host = s.Host
	}
	for _, line := range strings.Split(s.Headers, "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("User-Agent", "gslb-health/1")
	req.Close = true
	resp, err := t.client.Do(req)
	if err != nil {
		r.Reason = shortError(err)
		r.Phases = phases()
		return r
	}
	defer func() {
		// Drain a little more so the server sees a clean close, then close.
		io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody))
		resp.Body.Close()
	}()
	r.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		r.Reason = "reading body: " + shortError(err)
		r.Phases = phases()
		return r
	}
	if !statusOK(t.expect, resp.StatusCode) {
		r.Reason = fmt.Sprintf("HTTP %d, want %s", resp.StatusCode, expectText(s.Expect))
		r.Phases = phases()
		return r
	}
	if s.Body != "" && !bytes.Contains(body, []byte(s.Body)) {
		r.Reason = fmt.Sprintf("HTTP %d, body lacks %q", resp.StatusCode, s.Body)
		r.Phases = phases()
		return r
	}
	if t.bodyRE != nil && !t.bodyRE.Match(body) {
		r.Reason = fmt.Sprintf("HTTP %d, body does not match /%s/", resp.StatusCode, s.BodyRegexp)
		r.Phases = phases()
		return r
	}
	r.OK = true
	r.Reason = "HTTP " + strconv.Itoa(resp.StatusCode)
	r.Phases = phases()
	if v, ok := reportedLoad(resp.Header, body, s); ok {
		r.Load, r.HasLoad = v, true
	}
	return r
}

func expectText(e string) string {
	if e == "" {
		return "200-399"
	}
	return e
}

func statusOK(ranges []statusRange, code int) bool {
	for _, r := range ranges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

// reportedLoad reads the load figure a backend reports in a header or a
// JSON field, as utilisation (0..1) or as a count over the capacity.
func reportedLoad(h http.Header, body []byte, s HTTPSpec) (float64, bool) {
	var v float64
	switch {
	case s.LoadHeader != "":
		f, err := strconv.ParseFloat(strings.TrimSpace(h.Get(s.LoadHeader)), 64)
		if err != nil {
			return 0, false
		}
		v = f
	case s.LoadJSON != "":
		var doc any
		if json.Unmarshal(body, &doc) != nil {
			return 0, false
		}
		for _, k := range strings.Split(s.LoadJSON, ".") {
			m, ok := doc.(map[string]any)
			if !ok {
				return 0, false
			}
			doc = m[k]
		}
		f, ok := doc.(float64)
		if !ok {
			return 0, false
		}
		v = f
	default:
		return 0, false
	}
	if s.Capacity > 0 {
		v /= s.Capacity
	}
	if v < 0 || v != v {
		return 0, false
	}
	return v, true
}

func probeTCP(ctx context.Context, t *Target) Result {
	var r Result
	start := time.Now()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", t.Spec.Addr.String())
	if err != nil {
		r.Reason = shortError(err)
		return r
	}
	defer c.Close()
	r.Phases.Connect = time.Since(start)
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	s := t.Spec.TCP
	if s.Send != "" {
		if _, err := io.WriteString(c, s.Send); err != nil {
			r.Reason = "send: " + shortError(err)
			return r
		}
	}
	if s.Expect != "" {
		buf := make([]byte, 0, 512)
		tmp := make([]byte, 512)
		for !bytes.Contains(buf, []byte(s.Expect)) {
			n, err := c.Read(tmp)
			if n > 0 && r.Phases.FirstByte == 0 {
				r.Phases.FirstByte = time.Since(start)
			}
			buf = append(buf, tmp[:n]...)
			if err != nil || len(buf) >= MaxBody {
				r.Reason = fmt.Sprintf("reply lacks %q", s.Expect)
				if err != nil && !errors.Is(err, io.EOF) {
					r.Reason += ": " + shortError(err)
				}
				return r
			}
		}
	}
	r.OK = true
	r.Reason = "connected"
	return r
}

func probeDNS(ctx context.Context, t *Target) Result {
	var r Result
	s := t.Spec.DNS
	m := new(dns.Msg)
	qtype := s.Type
	if qtype == 0 {
		qtype = dns.TypeA
	}
	m.SetQuestion(dns.Fqdn(s.Name), qtype)
	m.RecursionDesired = false
	c := &dns.Client{Net: "udp", Timeout: t.Spec.Timeout}
	resp, _, err := c.ExchangeContext(ctx, m, t.Spec.Addr.String())
	if err != nil {
		r.Reason = shortError(err)
		return r
	}
	r.Status = resp.Rcode
	if resp.Rcode != s.Rcode {
		r.Reason = fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[s.Rcode])
		return r
	}
	if s.Answer != "" {
		found := false
		for _, rr := range resp.Answer {
			if strings.Contains(rr.String(), s.Answer) {
				found = true
				break
			}
		}
		if !found {
			r.Reason = fmt.Sprintf("no answer contains %q", s.Answer)
			return r
		}
	}
	r.OK = true
	r.Reason = "rcode " + dns.RcodeToString[resp.Rcode]
	return r
}

// shortError strips the URL and address noise Go's network errors carry.
func shortError(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		s := ne.Err.Error()
		if ne.Timeout() {
			return "timeout: " + ne.Op
		}
		return ne.Op + ": " + s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "://") {
		s = s[i+2:]
	}
	return s
}
