package health

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// What a scrape body yields (extract), and the rate and quantile between
// two of them (tracker, bucketQuantile).

// selectors are a spec's selectors made ready to match.
type selectors struct {
	utilization, connections, requests, latency compiledSelector
	// names are the sample names the selectors read: only their lines go
	// to the parser.
	names []wantedName
}

type compiledSelector struct {
	Selector // zero: the signal is off
	matchers []labelMatcher
}

// wantedName is a sample name some selectors read, with what a line of it
// must contain to be of a selected series: one of the needle lists
// entirely, the quoted values of one selector's matchers.
type wantedName struct {
	name    string
	all     bool // a selector of this name takes every series
	needles [][]string
}

func compileSelectors(s ScrapeSpec) selectors {
	c := func(s Selector) compiledSelector { return compiledSelector{s, s.matchers()} }
	sel := selectors{utilization: c(s.Utilization), connections: c(s.Connections), requests: c(s.Requests), latency: c(s.Latency)}
	add := func(name string, cs *compiledSelector) {
		// A value as the exposition writes it: the format has one escaped
		// form. An empty value also matches a missing label: no needle.
		var needles []string
		for _, m := range cs.matchers {
			if m.value != "" {
				needles = append(needles, `"`+labelValueEscaper.Replace(m.value)+`"`)
			}
		}
		i := slices.IndexFunc(sel.names, func(w wantedName) bool { return w.name == name })
		if i < 0 {
			sel.names = append(sel.names, wantedName{name: name})
			i = len(sel.names) - 1
		}
		w := &sel.names[i]
		if len(needles) == 0 {
			w.all = true
		}
		w.needles = append(w.needles, needles)
	}
	// Each name with its _count: a gauge selector that names a histogram
	// or a summary must see a sample of it to say so, and a histogram
	// without buckets is an error, not silence. A histogram's sum is
	// never read.
	for _, cs := range []*compiledSelector{&sel.utilization, &sel.connections, &sel.requests} {
		if !cs.IsZero() {
			add(cs.Name, cs)
			add(cs.Name+"_count", cs)
		}
	}
	if n := s.Latency.Name; n != "" {
		for _, base := range []string{n, strings.TrimSuffix(n, "_bucket")} {
			for _, suffix := range []string{"", "_bucket", "_count"} {
				add(base+suffix, &sel.latency)
			}
		}
	}
	return sel
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// match reports whether a series' labels include the matchers; a missing
// label has the empty value.
func (c *compiledSelector) match(ls []*dto.LabelPair) bool {
	for _, m := range c.matchers {
		v := ""
		for _, l := range ls {
			if l.GetName() == m.name {
				v = l.GetValue()
				break
			}
		}
		if v != m.value {
			return false
		}
	}
	return true
}

// wanted returns what the selectors read of a sample name, nil if nothing.
func (s *selectors) wanted(name []byte) *wantedName {
	for i := range s.names {
		if string(name) == s.names[i].name {
			return &s.names[i]
		}
	}
	return nil
}

// relevant appends body to dst with the lines that cannot matter to the
// selectors blanked: samples of other metrics or of series that lack a
// selected label value, TYPE lines of other metrics, HELP lines and other
// comments. Their newlines stay, so that the parser's line numbers are the
// body's. Parsing only what is selected makes a scrape several times
// cheaper; a syntax error in a line that is not selected goes unseen. A
// line that cannot be in the text format at all (an HTML page) is an
// error.
func (s *selectors) relevant(dst, body []byte) ([]byte, error) {
	for n := 1; len(body) > 0; n++ {
		line, rest, nl := bytes.Cut(body, []byte{'\n'})
		body = rest
		keep, ok := s.keepLine(line)
		if !ok {
			if len(line) > 40 {
				line = append(line[:37:37], "..."...)
			}
			return dst, fmt.Errorf("bad exposition: line %d: %q is not a sample, a comment or a blank line", n, line)
		}
		if keep {
			dst = append(dst, line...)
		}
		if nl {
			dst = append(dst, '\n')
		}
	}
	return dst, nil
}

// keepLine tells whether a line goes to the parser, and whether it can be
// in the text format at all.
func (s *selectors) keepLine(l []byte) (keep, ok bool) {
	l = bytes.TrimLeft(l, " \t")
	switch {
	case len(l) == 0:
		return false, true
	case l[0] == '{' || l[0] == '"':
		return true, true // a quoted name: let the parser judge
	case l[0] == '#':
		l = bytes.TrimLeft(l[1:], " \t")
		l, ok := bytes.CutPrefix(l, []byte("TYPE"))
		if !ok || len(l) == 0 || l[0] != ' ' && l[0] != '\t' {
			return false, true // HELP and other comments
		}
		l = bytes.TrimLeft(l, " \t")
		if len(l) > 0 && l[0] == '"' {
			return true, true
		}
		return s.wanted(l[:nameLen(l)]) != nil, true
	case isNameByte(l[0], true, true):
		i := nameLen(l)
		w := s.wanted(l[:i])
		if w == nil {
			return false, true
		}
		if w.all {
			return true, true
		}
		labels := l[i:]
		for _, list := range w.needles {
			all := true
			for _, n := range list {
				if !bytes.Contains(labels, []byte(n)) {
					all = false
					break
				}
			}
			if all {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

func nameLen(l []byte) int {
	i := 0
	for i < len(l) && isNameByte(l[i], i == 0, true) {
		i++
	}
	return i
}

// exposition is what one scrape body yields for a spec's selectors, before
// any comparison with the previous scrape. A signal that is off, or whose
// selector matches no series, is NaN or empty.
type exposition struct {
	utilization float64 // sum of the matching series
	connections float64
	requests    []counterSeries // sorted by sig, no two alike
	latency     []histSeries    // sorted by sig, no two alike, same bounds
}

type counterSeries struct {
	sig   uint64 // of the series' labels
	value float64
}

type histSeries struct {
	sig    uint64    // of the series' labels, le excluded
	bounds []float64 // ascending, distinct, +Inf last
	counts []float64 // cumulative, finite, not negative
}

// parser is a text parser with its input buffer; it is not safe for
// concurrent use, so each extract takes its own from parsers.
type parser struct {
	p   expfmt.TextParser
	buf []byte
	r   bytes.Reader
}

var parsers = sync.Pool{New: func() any { return &parser{p: expfmt.NewTextParser(model.UTF8Validation)} }}

// extract parses a body in the Prometheus text format and reads the
// selected series. Errors say what is wrong and where: a syntax error its
// line, a selected metric of the wrong type its name and type.
func extract(body []byte, sel *selectors) (exposition, error) {
	if e, ok := fastExtract(body, sel); ok {
		return e, nil
	}
	return parseExtract(body, sel)
}

// parseExtract is extract by expfmt's parser: the reference.
func parseExtract(body []byte, sel *selectors) (e exposition, err error) {
	p := parsers.Get().(*parser)
	defer func() {
		// The body comes from the network: a parser bug must fail the
		// scrape, not the process. A parser that panicked is not reused.
		if r := recover(); r != nil {
			e, err = exposition{}, fmt.Errorf("bad exposition: parser failed: %v", r)
			return
		}
		if cap(p.buf) <= maxPooledBuf {
			p.buf = p.buf[:0]
			p.r.Reset(nil)
			parsers.Put(p)
		}
	}()
	if p.buf, err = sel.relevant(p.buf[:0], body); err != nil {
		return exposition{}, err
	}
	p.r.Reset(p.buf)
	fams, err := p.p.TextToMetricFamilies(&p.r)
	if err != nil {
		return exposition{}, fmt.Errorf("bad exposition: %w", err)
	}
	if e.utilization, err = gaugeSum(fams, &sel.utilization, "utilization"); err != nil {
		return exposition{}, err
	}
	if e.connections, err = gaugeSum(fams, &sel.connections, "connections"); err != nil {
		return exposition{}, err
	}
	if e.requests, err = counterSeriesOf(fams, &sel.requests); err != nil {
		return exposition{}, err
	}
	if e.latency, err = histSeriesOf(fams, &sel.latency); err != nil {
		return exposition{}, err
	}
	return e, nil
}

func typeName(t dto.MetricType) string { return strings.ToLower(t.String()) }

// gaugeSum sums the matching series of a gauge (or untyped) metric.
func gaugeSum(fams map[string]*dto.MetricFamily, c *compiledSelector, what string) (float64, error) {
	if c.IsZero() {
		return math.NaN(), nil
	}
	f := fams[c.Name]
	if f == nil {
		return math.NaN(), nil
	}
	t := f.GetType()
	if t != dto.MetricType_GAUGE && t != dto.MetricType_UNTYPED {
		return math.NaN(), fmt.Errorf("%s: %s is a %s, want a gauge", what, c.Name, typeName(t))
	}
	sum, n := 0.0, 0
	for _, m := range f.GetMetric() {
		if c.match(m.GetLabel()) {
			sum += m.GetGauge().GetValue() + m.GetUntyped().GetValue()
			n++
		}
	}
	if n == 0 {
		return math.NaN(), nil
	}
	return sum, nil
}

// counterSeriesOf returns the matching series of a counter (or untyped,
// as OpenMetrics' `_total` samples read) metric.
func counterSeriesOf(fams map[string]*dto.MetricFamily, c *compiledSelector) ([]counterSeries, error) {
	if c.IsZero() {
		return nil, nil
	}
	f := fams[c.Name]
	if f == nil {
		return nil, nil
	}
	t := f.GetType()
	if t != dto.MetricType_COUNTER && t != dto.MetricType_UNTYPED {
		return nil, fmt.Errorf("requests: %s is a %s, want a counter", c.Name, typeName(t))
	}
	var out []counterSeries
	for _, m := range f.GetMetric() {
		if c.match(m.GetLabel()) {
			out = append(out, counterSeries{labelSig(m.GetLabel()), m.GetCounter().GetValue() + m.GetUntyped().GetValue()})
		}
	}
	slices.SortFunc(out, func(a, b counterSeries) int { return cmpUint(a.sig, b.sig) })
	for i := 1; i < len(out); i++ {
		if out[i].sig == out[i-1].sig {
			return nil, fmt.Errorf("requests: %s has the series %s twice", c.Name, seriesText(f, out[i].sig))
		}
	}
	return out, nil
}

// histSeriesOf returns the matching series of a histogram, named by its
// family (`x`) or its buckets (`x_bucket`).
func histSeriesOf(fams map[string]*dto.MetricFamily, c *compiledSelector) ([]histSeries, error) {
	if c.IsZero() {
		return nil, nil
	}
	f := fams[c.Name]
	if f == nil {
		if base, ok := strings.CutSuffix(c.Name, "_bucket"); ok {
			f = fams[base]
		}
	}
	if f == nil {
		return nil, nil
	}
	name := f.GetName()
	if t := f.GetType(); t != dto.MetricType_HISTOGRAM {
		return nil, fmt.Errorf("latency: %s is a %s, want a histogram", name, typeName(t))
	}
	var out []histSeries
	for _, m := range f.GetMetric() {
		if !c.match(m.GetLabel()) {
			continue
		}
		what := name + labelText(m.GetLabel())
		bs := m.GetHistogram().GetBucket()
		h := histSeries{sig: labelSig(m.GetLabel()), bounds: make([]float64, len(bs)), counts: make([]float64, len(bs))}
		type bucket struct{ bound, count float64 }
		sorted := make([]bucket, len(bs))
		for i, b := range bs {
			n := float64(b.GetCumulativeCount())
			if fl := b.GetCumulativeCountFloat(); fl != 0 {
				n = fl
			}
			sorted[i] = bucket{b.GetUpperBound(), n} // never NaN: the parser drops le="NaN" lines
			if math.IsNaN(n) || math.IsInf(n, 0) || n < 0 {
				return nil, fmt.Errorf("latency: %s has the bucket count %v for le=%s", what, n, leText(sorted[i].bound))
			}
		}
		slices.SortFunc(sorted, func(a, b bucket) int { return cmpFloat(a.bound, b.bound) })
		for i, b := range sorted {
			if i > 0 && b.bound == sorted[i-1].bound {
				return nil, fmt.Errorf("latency: %s has the bucket le=%s twice", what, leText(b.bound))
			}
			h.bounds[i], h.counts[i] = b.bound, b.count
		}
		if len(bs) == 0 || !math.IsInf(h.bounds[len(bs)-1], +1) {
			return nil, fmt.Errorf("latency: %s has no le=\"+Inf\" bucket", what)
		}
		if len(out) > 0 && !slices.Equal(out[0].bounds, h.bounds) {
			return nil, fmt.Errorf("latency: the series of %s that %s selects have different buckets", name, c.Selector)
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b histSeries) int { return cmpUint(a.sig, b.sig) })
	for i := 1; i < len(out); i++ {
		if out[i].sig == out[i-1].sig {
			// The parser merges a histogram's lines by labels: only a hash
			// collision, or labels that differ by empty values, get here.
			return nil, fmt.Errorf("latency: %s has the series %s twice", name, seriesText(f, out[i].sig))
		}
	}
	return out, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return +1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return +1
	}
	return 0
}

func leText(b float64) string { return strconv.Quote(model.FloatString(b).String()) }

// sigSeed keys label signatures; they never leave the process.
var sigSeed = maphash.MakeSeed()

// labelSig identifies a series by its labels in any order; an empty value
// is the same as no label, as in Prometheus.
func labelSig(ls []*dto.LabelPair) uint64 {
	var sum uint64
	for _, l := range ls {
		if l.GetValue() == "" {
			continue
		}
		var h maphash.Hash
		h.SetSeed(sigSeed)
		h.WriteString(l.GetName())
		h.WriteByte(0xff)
		h.WriteString(l.GetValue())
		sum += h.Sum64()
	}
	return sum
}

// labelText prints labels as the exposition does, for error messages.
func labelText(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// seriesText names the first series of f with signature sig.
func seriesText(f *dto.MetricFamily, sig uint64) string {
	for _, m := range f.GetMetric() {
		if labelSig(m.GetLabel()) == sig {
			return f.GetName() + labelText(m.GetLabel())
		}
	}
	return f.GetName()
}

// tracker keeps what rates and quantiles need of the previous successful
// scrape. Only the scrape goroutine uses it; in the steady state an
// update allocates nothing.
type tracker struct {
	at       time.Time // of the previous successful scrape; zero before the first
	gen      uint64    // counts updates, to find the series that went away
	counters map[uint64]counterPrev
	hists    map[uint64]*histPrev
	acc      []float64 // the summed bucket increases, reused
}

type counterPrev struct {
	value float64
	gen   uint64
}

type histPrev struct {
	bounds, counts []float64
	gen            uint64
}

func newTracker() tracker {
	return tracker{counters: map[uint64]counterPrev{}, hists: map[uint64]*histPrev{}}
}

// update takes the exposition of a successful scrape made at at and
// returns the request rate and the latency quantile q (in the
// histogram's unit) since the previous one, NaN when unknown.
//
// Each series is compared with itself, and the increases summed, as
// PromQL's sum(rate(...)) does: a counter that went down was reset and
// its whole value is its increase; a series the previous scrape did not
// have started at 0 since then, so its whole value counts too; a series
// that went away counts for nothing. A histogram series whose bounds
// changed, or any of whose buckets went down, was reset likewise. A
// latency with no observation in between is unknown (NaN).
func (t *tracker) update(e *exposition, at time.Time, q float64) (rate, quantile float64) {
	rate, quantile = math.NaN(), math.NaN()
	had := !t.at.IsZero()
	if elapsed := at.Sub(t.at).Seconds(); had && elapsed > 0 && len(e.requests) > 0 {
		var sum float64
		for _, s := range e.requests {
			inc := s.value
			if p, ok := t.counters[s.sig]; ok && s.value >= p.value {
				inc = s.value - p.value
			}
			sum += inc
		}
		rate = sum / elapsed
	}
	if had && len(e.latency) > 0 {
		acc := t.acc[:0]
		for range e.latency[0].counts {
			acc = append(acc, 0)
		}
		for _, h := range e.latency {
			p := t.hists[h.sig]
			reset := p == nil || !slices.Equal(p.bounds, h.bounds) || decreased(p.counts, h.counts)
			for i, c := range h.counts {
				if !reset {
					c -= p.counts[i]
				}
				acc[i] += c
			}
		}
		t.acc = acc
		quantile = bucketQuantile(q, e.latency[0].bounds, acc)
	}

	t.gen++
	for _, s := range e.requests {
		t.counters[s.sig] = counterPrev{s.value, t.gen}
	}
	for k, p := range t.counters {
		if p.gen != t.gen {
			delete(t.counters, k)
		}
	}
	for _, h := range e.latency {
		p := t.hists[h.sig]
		if p == nil {
			p = &histPrev{}
			t.hists[h.sig] = p
		}
		p.bounds = append(p.bounds[:0], h.bounds...)
		p.counts = append(p.counts[:0], h.counts...)
		p.gen = t.gen
	}
	for k, p := range t.hists {
		if p.gen != t.gen {
			delete(t.hists, k)
		}
	}
	t.at = at
	return rate, quantile
}

func decreased(prev, cur []float64) bool {
	for i := range cur {
		if cur[i] < prev[i] {
			return true
		}
	}
	return false
}

// bucketQuantile returns the q-quantile of cumulative bucket counts as
// PromQL's histogram_quantile does for classic histograms: linear
// interpolation within the bucket the rank falls in, from 0 in the first
// bucket when its upper bound is above 0 (else that bound); the upper
// bound of the last finite bucket when the rank falls in +Inf; NaN
// without observations, with fewer than two buckets, or without +Inf
// last. bounds are ascending and distinct. It corrects counts in place:
// dips of a relative 1e-12 or less are float noise and flattened, then
// the counts are made monotonic (their running maximum).
func bucketQuantile(q float64, bounds, counts []float64) float64 {
	n := len(bounds)
	if n < 2 || len(counts) != n || !math.IsInf(bounds[n-1], +1) || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	prev := counts[0]
	for i := 1; i < n; i++ {
		d := math.Abs(counts[i] - prev)
		switch {
		case d == 0:
		case d/counts[i] <= 1e-12:
			counts[i] = prev
		default:
			prev = counts[i]
		}
	}
	for i := 1; i < n; i++ {
		counts[i] = max(counts[i], counts[i-1])
	}
	total := counts[n-1]
	if !(total > 0) {
		return math.NaN()
	}
	rank := q * total
	b := 0
	for b < n-1 && counts[b] < rank {
		b++
	}
	if b == n-1 {
		return bounds[n-2]
	}
	if b == 0 && bounds[0] <= 0 {
		return bounds[0]
	}
	lo, below := 0.0, 0.0
	if b > 0 {
		lo, below = bounds[b-1], counts[b-1]
	}
	return lo + (bounds[b]-lo)*((rank-below)/(counts[b]-below))
}
