package health

import (
	"bytes"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
)

// The fast path of extract. expfmt's parser allocates some thirty objects
// a line, which made it most of a scrape's cost (TestScrapeLoad: 6-7 % of
// a core for 1,000 backends every 5 s with it alone, 3-4 % with this;
// BenchmarkExtract: 170 µs and 970 allocations against 25 µs and 14). This
// reads the plain subset of the text format that client libraries write
// (one space between labels and value, no escapes, no timestamps, no
// quoted names, lowercase TYPE lines) into the same exposition, reusing
// its buffers. Anything else, and anything that would be an error, it
// declines, and extract asks expfmt: expfmt stays the reference of what a
// body means and the author of every error message. FuzzFastExtract holds
// the two to the same result whenever this one answers.

// fastParser holds the buffers of one fast extraction; pooled.
type fastParser struct {
	fams    []fastFamily
	series  []fastSeries
	labels  []fastLabel
	buckets []fastBucket
}

type fastFamily struct {
	name  []byte
	typ   dto.MetricType
	first int // index of its first series, -1 for none; series chain by next
	last  int
}

type fastSeries struct {
	labels     [2]int // range in fastParser.labels
	sig        uint64
	value      float64
	next       int // the family's next series, -1 at the end
	hasBuckets bool
}

type fastLabel struct{ name, value []byte }

type fastBucket struct {
	series       int
	bound, count float64
}

var fastParsers = sync.Pool{New: func() any { return new(fastParser) }}

// fastExtract is extract for the plain subset, ok false when it declines.
func fastExtract(body []byte, sel *selectors) (_ exposition, ok bool) {
	p := fastParsers.Get().(*fastParser)
	defer func() {
		// The body comes from the network: a bug here must cost the
		// scrape expfmt's parse, not the process. The parser is reset on
		// each use.
		if recover() != nil {
			ok = false
		}
		fastParsers.Put(p)
	}()
	p.fams, p.series, p.labels, p.buckets = p.fams[:0], p.series[:0], p.labels[:0], p.buckets[:0]
	for len(body) > 0 {
		line, rest, nl := bytes.Cut(body, []byte{'\n'})
		body = rest
		keep, ok := sel.keepLine(line)
		if !ok || keep && (!nl || !p.line(line)) {
			return exposition{}, false
		}
	}
	var e exposition
	if e.utilization, ok = p.gaugeSum(&sel.utilization); !ok {
		return exposition{}, false
	}
	if e.connections, ok = p.gaugeSum(&sel.connections); !ok {
		return exposition{}, false
	}
	if e.requests, ok = p.counterSeries(&sel.requests); !ok {
		return exposition{}, false
	}
	if e.latency, ok = p.histSeries(&sel.latency); !ok {
		return exposition{}, false
	}
	return e, true
}

// line reads one line that keepLine kept: a TYPE line or a sample.
func (p *fastParser) line(l []byte) bool {
	if l[0] == '#' {
		return p.typeLine(l)
	}
	if !isNameByte(l[0], true, true) {
		return false // a quoted name, or leading blanks
	}
	n := nameLen(l)
	name, l := l[:n], l[n:]
	fi, role, ok := p.resolve(name)
	if !ok {
		return false
	}
	f := &p.fams[fi]
	hist := f.typ == dto.MetricType_HISTOGRAM
	start := len(p.labels)
	bound, hasLE := math.NaN(), false
	if len(l) > 0 && l[0] == '{' {
		l = l[1:]
		for {
			if len(l) > 0 && l[0] == '}' {
				l = l[1:]
				break
			}
			k := 0
			for k < len(l) && isNameByte(l[k], k == 0, false) {
				k++
			}
			if k == 0 || k+1 >= len(l) || l[k] != '=' || l[k+1] != '"' {
				return false
			}
			lname := l[:k]
			l = l[k+2:]
			end := bytes.IndexByte(l, '"')
			if end <= 0 || bytes.IndexByte(l[:end], '\\') >= 0 || !utf8.Valid(l[:end]) {
				return false // an empty value, an escape, no end, not UTF-8
			}
			value := l[:end]
			l = l[end+1:]
			if string(lname) == "__name__" {
				return false
			}
			for _, o := range p.labels[start:] {
				if bytes.Equal(o.name, lname) {
					return false
				}
			}
			if hist && string(lname) == "le" {
				if hasLE {
					return false
				}
				b, ok := fastFloat(value)
				if !ok {
					return false
				}
				bound, hasLE = b, true
			} else {
				p.labels = append(p.labels, fastLabel{lname, value})
			}
			switch {
			case len(l) > 0 && l[0] == ',':
				l = l[1:]
			case len(l) > 0 && l[0] == '}':
			default:
				return false
			}
		}
	}
	if len(l) < 2 || l[0] != ' ' {
		return false
	}
	v, ok := fastFloat(l[1:])
	if !ok {
		return false // a timestamp, blanks, not a number
	}
	ls := p.labels[start:]
	sig := fastSig(ls)
	if !hist {
		p.addSeries(fi, start, sig, v)
		return true
	}
	// A histogram's lines merge by labels; le is not one of them.
	si := -1
	for i := f.first; i >= 0; i = p.series[i].next {
		if p.series[i].sig == sig {
			si = i
			p.labels = p.labels[:start]
			break
		}
	}
	if si < 0 {
		si = p.addSeries(fi, start, sig, 0)
	}
	switch role {
	case roleCount:
		return !hasLE && !(v < 0) // expfmt refuses a negative count
	case roleSum:
		return !hasLE
	default:
		if !hasLE || v < 0 {
			return false
		}
		p.buckets = append(p.buckets, fastBucket{si, bound, v})
		p.series[si].hasBuckets = true
		return true
	}
}

func (p *fastParser) addSeries(fi, start int, sig uint64, v float64) int {
	si := len(p.series)
	p.series = append(p.series, fastSeries{labels: [2]int{start, len(p.labels)}, sig: sig, value: v, next: -1})
	f := &p.fams[fi]
	if f.first < 0 {
		f.first = si
	} else {
		p.series[f.last].next = si
	}
	f.last = si
	return si
}

// typeLine reads `# TYPE name type`, exactly so spaced.
func (p *fastParser) typeLine(l []byte) bool {
	rest, ok := bytes.CutPrefix(l, []byte("# TYPE "))
	if !ok {
		return false
	}
	n := nameLen(rest)
	if n == 0 || n >= len(rest) || rest[n] != ' ' {
		return false
	}
	name := rest[:n]
	var typ dto.MetricType
	switch string(rest[n+1:]) {
	case "counter":
		typ = dto.MetricType_COUNTER
	case "gauge":
		typ = dto.MetricType_GAUGE
	case "histogram":
		typ = dto.MetricType_HISTOGRAM
	case "untyped":
		typ = dto.MetricType_UNTYPED
	default:
		return false // summaries are not read; anything else is expfmt's
	}
	// A name that has a family already, or whose base is a histogram's,
	// gets a second TYPE: expfmt's error.
	if p.find(name) >= 0 {
		return false
	}
	if fi, _, ok := p.resolve(name); !ok || !bytes.Equal(p.fams[fi].name, name) {
		return false
	}
	p.fams[len(p.fams)-1].typ = typ
	return true
}

// Roles of a sample line in a histogram.
const (
	rolePlain = iota
	roleCount
	roleSum
)

// resolve finds the family of a name as expfmt does: by the name, then a
// summary's or a histogram's by the name without _count, _sum or _bucket;
// else it is a new untyped family. ok is false for the families this
// parser does not read (summaries, gauge histograms).
func (p *fastParser) resolve(name []byte) (fi, role int, ok bool) {
	if fi := p.find(name); fi >= 0 {
		return fi, rolePlain, p.readable(fi)
	}
	for _, s := range []struct {
		suffix string
		role   int
	}{{"_count", roleCount}, {"_sum", roleSum}, {"_bucket", rolePlain}} {
		base, found := bytes.CutSuffix(name, []byte(s.suffix))
		if !found || len(base) == 0 {
			continue
		}
		if fi := p.find(base); fi >= 0 {
			switch p.fams[fi].typ {
			case dto.MetricType_HISTOGRAM:
				return fi, s.role, true
			case dto.MetricType_SUMMARY, dto.MetricType_GAUGE_HISTOGRAM:
				return 0, 0, false
			}
		}
	}
	p.fams = append(p.fams, fastFamily{name: name, typ: dto.MetricType_UNTYPED, first: -1, last: -1})
	return len(p.fams) - 1, rolePlain, true
}

func (p *fastParser) readable(fi int) bool {
	t := p.fams[fi].typ
	return t != dto.MetricType_SUMMARY && t != dto.MetricType_GAUGE_HISTOGRAM
}

func (p *fastParser) find(name []byte) int {
	for i := range p.fams {
		if bytes.Equal(p.fams[i].name, name) {
			return i
		}
	}
	return -1
}

// family returns the family of a selector's name if it has samples
// (expfmt drops the families without), else -1.
func (p *fastParser) family(name string) int {
	for i := range p.fams {
		if string(p.fams[i].name) == name && p.fams[i].first >= 0 {
			return i
		}
	}
	return -1
}

func (p *fastParser) match(c *compiledSelector, s *fastSeries) bool {
	ls := p.labels[s.labels[0]:s.labels[1]]
	for _, m := range c.matchers {
		v := []byte(nil)
		for _, l := range ls {
			if string(l.name) == m.name {
				v = l.value
				break
			}
		}
		if string(v) != m.value {
			return false
		}
	}
	return true
}

func (p *fastParser) gaugeSum(c *compiledSelector) (float64, bool) {
	if c.IsZero() {
		return math.NaN(), true
	}
	fi := p.family(c.Name)
	if fi < 0 {
		return math.NaN(), true
	}
	if t := p.fams[fi].typ; t != dto.MetricType_GAUGE && t != dto.MetricType_UNTYPED {
		return 0, false
	}
	sum, n := 0.0, 0
	for i := p.fams[fi].first; i >= 0; i = p.series[i].next {
		if s := &p.series[i]; p.match(c, s) {
			sum += s.value
			n++
		}
	}
	if n == 0 {
		return math.NaN(), true
	}
	return sum, true
}

func (p *fastParser) counterSeries(c *compiledSelector) ([]counterSeries, bool) {
	if c.IsZero() {
		return nil, true
	}
	fi := p.family(c.Name)
	if fi < 0 {
		return nil, true
	}
	if t := p.fams[fi].typ; t != dto.MetricType_COUNTER && t != dto.MetricType_UNTYPED {
		return nil, false
	}
	var out []counterSeries
	for i := p.fams[fi].first; i >= 0; i = p.series[i].next {
		if s := &p.series[i]; p.match(c, s) {
			out = append(out, counterSeries{s.sig, s.value})
		}
	}
	slices.SortFunc(out, func(a, b counterSeries) int { return cmpUint(a.sig, b.sig) })
	for i := 1; i < len(out); i++ {
		if out[i].sig == out[i-1].sig {
			return nil, false
		}
	}
	return out, true
}

func (p *fastParser) histSeries(c *compiledSelector) ([]histSeries, bool) {
	if c.IsZero() {
		return nil, true
	}
	fi := p.family(c.Name)
	if fi < 0 {
		if base, ok := bytes.CutSuffix([]byte(c.Name), []byte("_bucket")); ok {
			fi = p.family(string(base))
		}
	}
	if fi < 0 {
		return nil, true
	}
	if p.fams[fi].typ != dto.MetricType_HISTOGRAM {
		return nil, false
	}
	var out []histSeries
	for i := p.fams[fi].first; i >= 0; i = p.series[i].next {
		s := &p.series[i]
		if !p.match(c, s) {
			continue
		}
		if !s.hasBuckets {
			return nil, false
		}
		var h histSeries
		h.sig = s.sig
		sorted := true
		for _, b := range p.buckets {
			if b.series != i {
				continue
			}
			if math.IsInf(b.count, 0) || math.IsNaN(b.count) {
				return nil, false
			}
			if n := len(h.bounds); n > 0 && !(b.bound > h.bounds[n-1]) {
				sorted = false
			}
			h.bounds = append(h.bounds, b.bound)
			h.counts = append(h.counts, b.count)
		}
		if !sorted {
			sortBuckets(h.bounds, h.counts)
			for j := 1; j < len(h.bounds); j++ {
				if h.bounds[j] == h.bounds[j-1] {
					return nil, false
				}
			}
		}
		if !math.IsInf(h.bounds[len(h.bounds)-1], +1) {
			return nil, false
		}
		if len(out) > 0 && !slices.Equal(out[0].bounds, h.bounds) {
			return nil, false
		}
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b histSeries) int { return cmpUint(a.sig, b.sig) })
	for i := 1; i < len(out); i++ {
		if out[i].sig == out[i-1].sig {
			return nil, false
		}
	}
	return out, true
}

// sortBuckets sorts bounds ascending, counts along (insertion sort: the
// few buckets of a histogram, nearly always sorted already).
func sortBuckets(bounds, counts []float64) {
	for i := 1; i < len(bounds); i++ {
		for j := i; j > 0 && bounds[j] < bounds[j-1]; j-- {
			bounds[j], bounds[j-1] = bounds[j-1], bounds[j]
			counts[j], counts[j-1] = counts[j-1], counts[j]
		}
	}
}

// fastFloat parses a value as expfmt does, or declines: no blanks, no
// hexadecimal or underscores, nothing out of range.
func fastFloat(b []byte) (float64, bool) {
	if len(b) == 0 || bytes.ContainsAny(b, " \t\r_pPxX") {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return v, err == nil
}

// fastSig is labelSig over the fast parser's labels (none empty).
func fastSig(ls []fastLabel) uint64 {
	var sum uint64
	for _, l := range ls {
		var h maphash.Hash
		h.SetSeed(sigSeed)
		h.Write(l.name)
		h.WriteByte(0xff)
		h.Write(l.value)
		sum += h.Sum64()
	}
	return sum
}
