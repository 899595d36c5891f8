package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Scraping reads the load a backend reports in its own Prometheus metrics:
// a ScrapeSpec names the URL and the series to read, a Scraper fetches it
// on a timer, and a Scraped holds the latest values for the query path.
//
// Cost. 1,000 backends every 5 s are 200 scrapes a second. TestScrapeLoad
// measures the scraping process alone (the backends serve a 6 KB Node.js
// exposition from another process), on the 2-core development VM shared
// with other work: 3.1-3.9 % of one core, 155-200 µs of CPU a scrape, when
// connections stay open; 5.0-6.5 % when the backends close connections
// idle for 5 s, as Node.js does by default, so that about half the scrapes
// dial again (give Node a keepAliveTimeout above the interval). Two things
// keep it there: extract's fast path (scrapefast.go: 25 µs where expfmt's
// parser takes 170), and waking the scrapes on a grid (onTick), which
// halved the cost of the runtime going from idle to busy for each scrape.

// Defaults and limits of scraping.
const (
	// DefaultQuantile is the latency quantile when a spec sets none.
	DefaultQuantile = 0.99
	// MaxScrapeBody bounds the body of one scrape; a larger one is an
	// error, not a truncated read.
	MaxScrapeBody = 4 << 20
	// MinScrapeInterval is the shortest interval a spec may ask for.
	MinScrapeInterval = 100 * time.Millisecond
	// scrapeAccept asks for the classic text format, the one expfmt parses.
	scrapeAccept = "text/plain;version=0.0.4"
)

// Selector names the series a signal is read from: a metric name and
// label equality matchers, as in PromQL's `name{label="value"}`. It
// matches every series of that name whose labels include the matchers (a
// matcher with an empty value also matches a series without the label,
// as in PromQL); the values of several matching series are summed.
//
// It is comparable: Labels holds the matchers in a canonical text,
// `a="x",b="y"` sorted by label name with Go-quoted values. Build it with
// ParseSelector; the zero Selector selects nothing.
type Selector struct {
	Name   string
	Labels string
}

// SelectorError is a selector that does not parse: where and what.
type SelectorError struct {
	Selector string
	Col      int // 1-based byte offset in Selector
	Msg      string
}

func (e *SelectorError) Error() string {
	return fmt.Sprintf("selector %q: column %d: %s", e.Selector, e.Col, e.Msg)
}

// labelMatcher is one label = value matcher of a selector.
type labelMatcher struct{ name, value string }

// ParseSelector parses `name` or `name{label="value",...}`. Names follow
// the classic Prometheus rules; values are double-quoted with Go escapes;
// only = matchers exist; a label may be matched once; a trailing comma and
// blanks around tokens are allowed.
func ParseSelector(s string) (Selector, error) {
	name, ms, err := parseSelector(s)
	if err != nil {
		return Selector{}, err
	}
	return Selector{Name: name, Labels: canonicalLabels(ms)}, nil
}

func parseSelector(s string) (string, []labelMatcher, error) {
	i := 0
	fail := func(at int, format string, args ...any) (string, []labelMatcher, error) {
		return "", nil, &SelectorError{Selector: s, Col: at + 1, Msg: fmt.Sprintf(format, args...)}
	}
	found := func(at int) string {
		if at >= len(s) {
			return "end of input"
		}
		r, _ := utf8.DecodeRuneInString(s[at:])
		return strconv.QuoteRune(r)
	}
	blanks := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	blanks()
	if i == len(s) {
		return fail(i, "empty selector")
	}
	start := i
	for i < len(s) && isNameByte(s[i], i == start, true) {
		i++
	}
	if i == start {
		if s[i] == '{' {
			return fail(i, "metric name expected before {")
		}
		return fail(i, "metric name expected, found %s", found(i))
	}
	name := s[start:i]
	blanks()
	if i == len(s) {
		return name, nil, nil
	}
	if s[i] != '{' {
		return fail(i, "expected { or end after metric name, found %s", found(i))
	}
	i++
	var ms []labelMatcher
	for {
		blanks()
		if i < len(s) && s[i] == '}' {
			i++
			break
		}
		if i == len(s) {
			return fail(i, "missing }")
		}
		ls := i
		for i < len(s) && isNameByte(s[i], i == ls, false) {
			i++
		}
		if i == ls {
			return fail(i, "label name expected, found %s", found(i))
		}
		label := s[ls:i]
		if label == "__name__" {
			return fail(ls, "label __name__ is the metric name: write it before {")
		}
		for _, m := range ms {
			if m.name == label {
				return fail(ls, "label %s matched twice", label)
			}
		}
		blanks()
		if i < len(s) && (s[i] == '!' || (s[i] == '=' && i+1 < len(s) && s[i+1] == '~')) {
			op := s[i : i+1]
			if i+1 < len(s) {
				op = s[i : i+2]
			}
			return fail(i, "only = matchers are supported, not %s", op)
		}
		if i == len(s) || s[i] != '=' {
			return fail(i, "expected = after label name %s, found %s", label, found(i))
		}
		i++
		blanks()
		if i == len(s) || s[i] != '"' {
			return fail(i, "label value must be a double-quoted string, found %s", found(i))
		}
		vs := i
		i++
		for i < len(s) && s[i] != '"' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(s) {
			return fail(vs, "unterminated label value")
		}
		i++
		value, err := strconv.Unquote(s[vs:i])
		if err != nil {
			return fail(vs, "bad escape or control character in label value %s", s[vs:i])
		}
		if !utf8.ValidString(value) {
			return fail(vs, "label value %s is not valid UTF-8", s[vs:i])
		}
		ms = append(ms, labelMatcher{label, value})
		blanks()
		if i < len(s) && s[i] == ',' {
			i++
			continue
		}
		if i < len(s) && s[i] == '}' {
			continue
		}
		return fail(i, "expected , or } after label value, found %s", found(i))
	}
	blanks()
	if i != len(s) {
		return fail(i, "unexpected %s after }", found(i))
	}
	return name, ms, nil
}

// isNameByte: metric names are [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// the same without colons.
func isNameByte(b byte, first, colon bool) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '_' || colon && b == ':' || !first && b >= '0' && b <= '9'
}

func canonicalLabels(ms []labelMatcher) string {
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m.value))
	}
	return b.String()
}

// IsZero reports whether the selector selects nothing (the signal is off).
func (s Selector) IsZero() bool { return s == Selector{} }

// String returns the selector in the syntax ParseSelector reads.
func (s Selector) String() string {
	if s.Labels == "" {
		return s.Name
	}
	return s.Name + "{" + s.Labels + "}"
}

// MarshalText writes the selector as ParseSelector reads it.
func (s Selector) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a selector, so that configuration can decode one.
func (s *Selector) UnmarshalText(b []byte) error {
	v, err := ParseSelector(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// check reports whether the selector is zero or in ParseSelector's form.
func (s Selector) check() error {
	if s.IsZero() {
		return nil
	}
	v, err := ParseSelector(s.String())
	if err != nil {
		return err
	}
	if v != s {
		return fmt.Errorf("selector %s is not in canonical form (%s): build it with ParseSelector", s, v)
	}
	return nil
}

// matchers returns the selector's matchers; the selector passed check.
func (s Selector) matchers() []labelMatcher {
	if s.Labels == "" {
		return nil
	}
	_, ms, _ := parseSelector(s.String())
	return ms
}

// ScrapeSpec says what to scrape and which signals to read. It is
// comparable: two backends with the same ScrapeSpec share one scrape and
// one Scraped.
type ScrapeSpec struct {
	URL      string
	Interval time.Duration
	Timeout  time.Duration

	// Utilization is a gauge, taken as it is (the share of capacity in
	// use, by the backend's own definition).
	Utilization Selector
	// Connections is a gauge: open connections or requests in flight.
	Connections Selector
	// Requests is a counter, read as a per-second rate between two
	// scrapes.
	Requests Selector
	// Latency is a histogram, read as its Quantile over the observations
	// made between two scrapes.
	Latency Selector
	// Quantile is the latency quantile in (0, 1); 0 means DefaultQuantile.
	Quantile float64
	// LatencyUnit is the unit of the histogram's bucket bounds; 0 means
	// seconds, as Prometheus names ask (`_seconds`). Set time.Millisecond
	// for a `_milliseconds` histogram.
	LatencyUnit time.Duration
}

func (s ScrapeSpec) quantile() float64 {
	if s.Quantile == 0 {
		return DefaultQuantile
	}
	return s.Quantile
}

func (s ScrapeSpec) latencyUnit() time.Duration {
	if s.LatencyUnit == 0 {
		return time.Second
	}
	return s.LatencyUnit
}

// Check reports the first problem with the spec, or nil.
func (s ScrapeSpec) Check() error {
	u, err := url.Parse(s.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL a second time
		}
		return fmt.Errorf("scrape URL %q: %v", s.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scrape URL %q: scheme must be http or https", s.URL)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("scrape URL %q has no host", s.URL)
	}
	if s.Interval < MinScrapeInterval {
		return fmt.Errorf("scrape interval %v is too short (at least %v)", s.Interval, MinScrapeInterval)
	}
	if s.Timeout <= 0 || s.Timeout >= s.Interval {
		return fmt.Errorf("scrape timeout %v must be above 0 and below the interval %v", s.Timeout, s.Interval)
	}
	if q := s.quantile(); !(q > 0 && q < 1) {
		return fmt.Errorf("quantile %v must be between 0 and 1, both excluded", s.Quantile)
	}
	if s.LatencyUnit < 0 {
		return fmt.Errorf("latency unit %v must be positive", s.LatencyUnit)
	}
	for _, sel := range []struct {
		what string
		s    Selector
	}{{"utilization", s.Utilization}, {"connections", s.Connections}, {"requests", s.Requests}, {"latency", s.Latency}} {
		if err := sel.s.check(); err != nil {
			return fmt.Errorf("%s: %w", sel.what, err)
		}
	}
	for _, m := range s.Latency.matchers() {
		if m.name == "le" {
			return fmt.Errorf("latency: selector %s must not match le: the quantile reads every bucket", s.Latency)
		}
	}
	if s.Utilization.IsZero() && s.Connections.IsZero() && s.Requests.IsZero() && s.Latency.IsZero() {
		return errors.New("a scrape needs at least one of utilization, connections, requests and latency")
	}
	return nil
}

// String names the scrape for logs and metrics: its URL, with any
// password masked.
func (s ScrapeSpec) String() string {
	if u, err := url.Parse(s.URL); err == nil {
		return u.Redacted()
	}
	return s.URL
}

// Scraped holds the latest values scraped from one backend. The scrape
// goroutine writes it; any goroutine reads it without locks or allocations.
//
// Every value comes with the time of the scrape it is from, so that a
// reader can judge its freshness: after failed scrapes the values stay,
// with their old time, and LastError says why. A value that is unknown
// as of a scrape (no matching series, or the rate and latency of the
// first scrape) reads as (0, that time, false).
//
// Rates and quantiles compare two successful scrapes: a counter that went
// down was reset, and its new value counts as its increase (as PromQL's
// rate does); a series absent from the previous scrape counts its whole
// value, having started at 0 since. When no request was observed between
// two scrapes (the histogram's count did not move), the latency is
// unknown for that interval rather than the previous figure: an idle
// backend has no latency, and keeping the last one would hold a backend
// that was slow once at that figure for as long as it gets no traffic.
type Scraped struct {
	spec    ScrapeSpec
	values  atomic.Pointer[scrapeValues] // nil before the first successful scrape
	lastErr atomic.Pointer[string]       // nil when the last scrape succeeded
}

// scrapeValues are the values of one successful scrape, published as a
// whole so that a reader gets a value and its time from the same scrape.
// NaN means unknown.
type scrapeValues struct {
	at          int64 // unix nanoseconds
	utilization float64
	connections float64
	requestRate float64
	latency     float64 // nanoseconds
}

func newScraped(spec ScrapeSpec) *Scraped { return &Scraped{spec: spec} }

// Spec returns what the values are about.
func (s *Scraped) Spec() ScrapeSpec { return s.spec }

func (s *Scraped) value(f func(*scrapeValues) float64) (float64, time.Time, bool) {
	v := s.values.Load()
	if v == nil {
		return 0, time.Time{}, false
	}
	x := f(v)
	if math.IsNaN(x) {
		return 0, time.Unix(0, v.at), false
	}
	return x, time.Unix(0, v.at), true
}

// Utilization returns the utilization gauge and the time of its scrape.
func (s *Scraped) Utilization() (float64, time.Time, bool) {
	return s.value(func(v *scrapeValues) float64 { return v.utilization })
}

// Connections returns the connections gauge and the time of its scrape.
func (s *Scraped) Connections() (float64, time.Time, bool) {
	return s.value(func(v *scrapeValues) float64 { return v.connections })
}

// RequestRate returns the requests per second between the last two
// successful scrapes, and the time of the later one.
func (s *Scraped) RequestRate() (float64, time.Time, bool) {
	return s.value(func(v *scrapeValues) float64 { return v.requestRate })
}

// Latency returns the latency quantile of the requests observed between
// the last two successful scrapes, and the time of the later one.
func (s *Scraped) Latency() (time.Duration, time.Time, bool) {
	ns, at, ok := s.value(func(v *scrapeValues) float64 { return v.latency })
	return time.Duration(ns), at, ok
}

// LastScrape returns when the last successful scrape was, zero if none.
func (s *Scraped) LastScrape() time.Time {
	if v := s.values.Load(); v != nil {
		return time.Unix(0, v.at)
	}
	return time.Time{}
}

// LastError returns why the latest scrape failed, "" if it succeeded or
// none has run.
func (s *Scraped) LastError() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// publish stores the values of a successful scrape.
func (s *Scraped) publish(at time.Time, e *exposition, rate, latency float64, unit time.Duration) {
	lat := math.NaN()
	if latency >= 0 && !math.IsInf(latency, 0) { // NaN fails the test
		lat = min(latency*float64(unit), 1e18) // 31 years: within a Duration
	}
	s.values.Store(&scrapeValues{
		at:          at.UnixNano(),
		utilization: e.utilization,
		connections: e.connections,
		requestRate: rate,
		latency:     lat,
	})
	s.lastErr.Store(nil)
}

func (s *Scraped) fail(reason string) { s.lastErr.Store(&reason) }

// Scraper runs the scrapes of a set of specs. Sync changes the set: new
// specs start, removed ones stop, and unchanged ones go on with their
// state, so that a reload loses no rate.
type Scraper struct {
	log     *slog.Logger
	metrics *scrapeMetrics
	client  *http.Client
	own     bool // client is ours: Stop closes its idle connections
	sem     chan struct{}

	mu      sync.Mutex
	running map[ScrapeSpec]*scrapeRunner
	stopped bool
	wg      sync.WaitGroup
}

type scrapeRunner struct {
	scraped *Scraped
	req     *http.Request // built once; each scrape adds its context
	sel     selectors
	cancel  context.CancelFunc
	label   string // the target label of its metrics: unique among runners

	// mu orders the loop's metric updates after Sync's forget: a scrape
	// that ends after its spec was removed must not bring its series back.
	mu   sync.Mutex
	gone bool

	// Written by the scrape goroutine only.
	track   tracker
	failing bool
}

// NewScraper returns a scraper that logs to log and registers its metrics
// on reg (nil for none). client makes the requests; nil means one with
// keep-alives that goes straight to the backends, whatever the proxy
// environment says. maxInFlight bounds the scrapes running at once.
func NewScraper(log *slog.Logger, reg prometheus.Registerer, client *http.Client, maxInFlight int) *Scraper {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	own := client == nil
	if own {
		client = defaultScrapeClient()
	}
	return &Scraper{
		log:     log,
		metrics: newScrapeMetrics(reg),
		client:  client,
		own:     own,
		sem:     make(chan struct{}, maxInFlight),
		running: map[ScrapeSpec]*scrapeRunner{},
	}
}

// defaultScrapeClient keeps one connection per backend open between
// scrapes: a scrape then costs a request, not a dial. A connection the
// backend closed meanwhile (Node.js closes idle ones after 5 s) is dialled
// again; one it closes while the GET goes out is retried by the transport.
func defaultScrapeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // scrapes go straight to the backend
			// No TCP keep-alive probes: a scrape every interval finds a
			// dead peer, and each probe setting is a syscall per dial.
			DialContext:            (&net.Dialer{KeepAlive: -1}).DialContext,
			WriteBufferSize:        1 << 10, // a GET
			MaxIdleConns:           0,       // no limit: one per backend
			MaxIdleConnsPerHost:    4,       // a few specs may share a host
			IdleConnTimeout:        5 * time.Minute,
			DisableCompression:     true, // gzip costs more CPU than it saves on a LAN
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return nil
		},
	}
}

// Sync makes the running scrapes those of specs and returns the Scraped of
// each. A spec that fails Check gets a Scraped that never fills, whose
// LastError says why.
func (s *Scraper) Sync(specs []ScrapeSpec) map[ScrapeSpec]*Scraped {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[ScrapeSpec]*Scraped, len(specs))
	want := make(map[ScrapeSpec]bool, len(specs))
	for _, sp := range specs {
		want[sp] = true
	}
	for sp, r := range s.running {
		if !want[sp] {
			r.cancel()
			delete(s.running, sp)
			r.mu.Lock()
			r.gone = true
			s.metrics.forget(r.label)
			r.mu.Unlock()
			s.log.Info("scrape stopped", "target", r.label)
		}
	}
	taken := make(map[string]bool, len(s.running))
	for _, r := range s.running {
		taken[r.label] = true
	}
	for _, sp := range specs { // in order: the first of two alike gets the plain label
		if _, done := out[sp]; done {
			continue
		}
		if r, ok := s.running[sp]; ok {
			out[sp] = r.scraped
			continue
		}
		sc := newScraped(sp)
		out[sp] = sc
		r, err := newScrapeRunner(sc)
		if err != nil {
			sc.fail(err.Error())
			s.log.Error("scrape not started", "target", sp.String(), "err", err)
			continue
		}
		if s.stopped {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		r.label = uniqueLabel(sp.String(), taken)
		s.running[sp] = r
		s.wg.Add(1)
		go s.loop(ctx, r)
		s.log.Debug("scrape started", "target", r.label, "interval", sp.Interval)
	}
	return out
}

func newScrapeRunner(sc *Scraped) (*scrapeRunner, error) {
	spec := sc.spec
	if err := spec.Check(); err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodGet, spec.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape URL %q: %v", spec.URL, err)
	}
	req.Header.Set("Accept", scrapeAccept)
	req.Header.Set("User-Agent", "gslb-scrape/1")
	return &scrapeRunner{scraped: sc, req: req, sel: compileSelectors(spec), track: newTracker()}, nil
}

// uniqueLabel names a new runner's metrics: the spec's text, numbered when
// specs that differ in their selectors print the same; taken holds the
// labels in use, and gets this one.
func uniqueLabel(base string, taken map[string]bool) string {
	l := base
	for n := 2; taken[l]; n++ {
		l = fmt.Sprintf("%s#%d", base, n)
	}
	taken[l] = true
	return l
}

// Running returns how many scrapes run.
func (s *Scraper) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// Stop stops every scrape and waits for them. It may be called more than
// once.
func (s *Scraper) Stop() {
	s.mu.Lock()
	s.stopped = true
	for sp, r := range s.running {
		r.cancel()
		delete(s.running, sp)
	}
	s.mu.Unlock()
	s.wg.Wait()
	if s.own {
		s.client.CloseIdleConnections()
	}
}

// loop scrapes one target on its own timer: first after a random stagger
// within one interval, then every interval with ±10 % jitter, so that the
// scrapes of many targets spread out. A scrape that hangs costs its
// timeout and delays no other target.
func (s *Scraper) loop(ctx context.Context, r *scrapeRunner) {
	defer s.wg.Done()
	spec := r.scraped.spec
	timer := time.NewTimer(onTick(time.Now(), rand.N(spec.Interval), spec.Interval))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		begin := time.Now()
		err := r.scrape(ctx, s.client)
		<-s.sem
		if ctx.Err() != nil {
			return // stopped while scraping: the outcome means nothing
		}
		took := time.Since(begin)
		r.mu.Lock()
		if !r.gone {
			s.metrics.observe(r.label, err == nil, took)
		}
		r.mu.Unlock()
		switch {
		case err != nil && !r.failing:
			r.failing = true
			s.log.Warn("scrape failing", "target", r.label, "err", err)
		case err == nil && r.failing:
			r.failing = false
			s.log.Info("scrape recovered", "target", r.label)
		}
		next := spec.Interval - time.Since(start)
		if jitter := spec.Interval / 10; jitter > 0 {
			next += rand.N(2*jitter) - jitter
		}
		timer.Reset(onTick(time.Now(), max(next, spec.Interval/10), spec.Interval))
	}
}

// maxScrapeTick is the coarsest grid scrapes wake on.
const maxScrapeTick = 100 * time.Millisecond

// onTick rounds a delay up so that the timer fires on a grid of a 50th of
// the interval (at most 100 ms): the scrapes that fall due at about the
// same time wake together, and the runtime goes from idle to busy once a
// tick rather than once a scrape, which costs more than the scrape's own
// syscalls at hundreds of scrapes a second. The stagger and the jitter
// stay, at the grid's resolution.
func onTick(now time.Time, d, interval time.Duration) time.Duration {
	tick := int64(min(interval/50, maxScrapeTick))
	if tick <= 0 {
		return d
	}
	at := now.Add(d).UnixNano()
	at += tick - 1 - (at+tick-1)%tick
	return time.Duration(at - now.UnixNano())
}

// scrape fetches the target once within its timeout and publishes what it
// read, or the reason it failed. The steps: request, status, content
// type, bounded body, extraction, then rate and quantile against the
// previous scrape.
func (r *scrapeRunner) scrape(ctx context.Context, client *http.Client) error {
	spec := r.scraped.spec
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	fail := func(err error) error {
		if ctx.Err() == context.DeadlineExceeded && !strings.Contains(err.Error(), "timeout") {
			err = fmt.Errorf("timeout after %v: %w", spec.Timeout, err)
		}
		r.scraped.fail(err.Error())
		return err
	}
	resp, err := client.Do(r.req.WithContext(ctx))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fail(fmt.Errorf("timeout after %v", spec.Timeout))
		}
		return fail(errors.New(shortError(err)))
	}
	// The body was generated about when its headers came: rates divide
	// by the time between two of these.
	at := time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBody)) // let the connection be reused
		return fail(fmt.Errorf("HTTP %d, want 200", resp.StatusCode))
	}
	if err := checkContentType(resp.Header.Get("Content-Type")); err != nil {
		return fail(err)
	}
	if resp.ContentLength > MaxScrapeBody {
		return fail(fmt.Errorf("body of %d bytes exceeds the limit of %d bytes", resp.ContentLength, MaxScrapeBody))
	}
	buf := getScrapeBuf()
	defer putScrapeBuf(buf)
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, MaxScrapeBody+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fail(fmt.Errorf("timeout after %v reading body", spec.Timeout))
		}
		return fail(fmt.Errorf("reading body: %s", shortError(err)))
	}
	if n > MaxScrapeBody {
		return fail(fmt.Errorf("body exceeds the limit of %d bytes", MaxScrapeBody))
	}
	e, err := extract(buf.Bytes(), &r.sel)
	if err != nil {
		return fail(err)
	}
	rate, latency := r.track.update(&e, at, spec.quantile())
	r.scraped.publish(at, &e, rate, latency, spec.latencyUnit())
	return nil
}

// checkContentType accepts the text formats: the classic one we ask for,
// OpenMetrics text (which the classic parser reads unless it carries
// exemplars or fractional timestamps), and no type at all.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "text/plain") || strings.EqualFold(mt, "application/openmetrics-text") {
		return nil
	}
	return fmt.Errorf("content type %q is not the Prometheus text format", ct)
}

// scrapeBufs recycles body buffers; one that grew past maxPooledBuf is
// left to the collector rather than pinned.
var scrapeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuf = 256 << 10

func getScrapeBuf() *bytes.Buffer { return scrapeBufs.Get().(*bytes.Buffer) }

func putScrapeBuf(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuf {
		return
	}
	b.Reset()
	scrapeBufs.Put(b)
}

// scrapeMetrics are the scraper's Prometheus metrics, labelled by target
// as the checker's are (bounded by the configuration, never by clients).
type scrapeMetrics struct {
	scrapes  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newScrapeMetrics(reg prometheus.Registerer) *scrapeMetrics {
	m := &scrapeMetrics{
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gslb", Subsystem: "health", Name: "scrapes_total",
			Help: "Scrapes of backends' metrics by result (ok, error).",
		}, []string{"target", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gslb", Subsystem: "health", Name: "scrape_duration_seconds",
			Help:    "Duration of scrapes of backends' metrics.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"target"}),
	}
	if reg != nil {
		reg.MustRegister(m.scrapes, m.duration)
	}
	return m
}

func (m *scrapeMetrics) observe(target string, ok bool, took time.Duration) {
	result := "error"
	if ok {
		result = "ok"
	}
	m.scrapes.WithLabelValues(target, result).Inc()
	m.duration.WithLabelValues(target).Observe(took.Seconds())
}

// forget drops the series of a target that is no longer scraped.
func (m *scrapeMetrics) forget(target string) {
	m.duration.DeleteLabelValues(target)
	for _, r := range []string{"ok", "error"} {
		m.scrapes.DeleteLabelValues(target, r)
	}
}
