package health

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// testSelectors parses the selectors of the four signals ("" for off).
func testSelectors(t testing.TB, util, conns, reqs, lat string) selectors {
	t.Helper()
	var spec ScrapeSpec
	for _, s := range []struct {
		text string
		to   *Selector
	}{{util, &spec.Utilization}, {conns, &spec.Connections}, {reqs, &spec.Requests}, {lat, &spec.Latency}} {
		if s.text == "" {
			continue
		}
		sel, err := ParseSelector(s.text)
		if err != nil {
			t.Fatal(err)
		}
		*s.to = sel
	}
	return compileSelectors(spec)
}

func nodeBody(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/node-metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameFloat(a, b float64) bool {
	if a == b {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func TestExtract(t *testing.T) {
	nan := math.NaN()
	node := string(nodeBody(t))
	const gauges = "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"2\"} 2\nx{a=\"3\",b=\"z\"} 4\n"
	const hist = "# TYPE h histogram\n" +
		"h_bucket{le=\"0.5\",r=\"a\"} 6\nh_bucket{le=\"0.1\",r=\"a\"} 1\nh_bucket{le=\"+Inf\",r=\"a\"} 7\nh_count{r=\"a\"} 7\nh_sum{r=\"a\"} 2\n" +
		"h_bucket{le=\"0.1\",r=\"b\"} 0\nh_bucket{le=\"0.5\",r=\"b\"} 2\nh_bucket{le=\"+Inf\",r=\"b\"} 3\n"
	cases := []struct {
		name                  string
		body                  string
		util, conns, req, lat string
		err                   string
		wantUtil, wantConns   float64
		wantReqs              []float64 // values, sorted
		wantBounds            []float64 // of every latency series
		wantCounts            [][]float64
	}{
		{name: "node: every signal", body: node,
			util: "app_utilization_ratio", conns: "http_active_connections",
			req: `http_requests_total{route="/api/items"}`, lat: `http_request_duration_seconds{route="/api/items"}`,
			wantUtil: 0.42, wantConns: 41, wantReqs: []float64{4, 37, 100000},
			wantBounds: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, math.Inf(1)},
			wantCounts: [][]float64{{2113, 9822, 30410, 61877, 90412, 97001, 98450, 99102, 99800, 99910, 99952, 99970, 99991, 100000, 100000}}},
		{name: "gauges summed", body: gauges, util: "x", conns: `x{b="z"}`, wantUtil: 7, wantConns: 4},
		{name: "empty matcher matches a missing label", body: gauges, util: `x{b=""}`, conns: `x{a="2",b=""}`, wantUtil: 3, wantConns: 2},
		{name: "a syntax error in a line not selected goes unseen", body: "x 1\ny abc\nz{a=1} 2\n# TYPE w bogus\n", util: "x", wantUtil: 1, wantConns: nan},
		{name: "series filtered by label value", body: "x{a=\"1\"} 1\nx{a=\"2\"} abc\nx{a=\"q\\\"\\\\\\n\"} 5\n", util: `x{a="1"}`, conns: `x{a="q\"\\\n"}`, wantUtil: 1, wantConns: 5},
		{name: "no such metric", body: gauges, util: "y", req: "y_total", lat: "y_seconds", wantUtil: nan, wantConns: nan},
		{name: "no matching series", body: gauges, util: `x{a="9"}`, wantUtil: nan, wantConns: nan},
		{name: "untyped reads as gauge and counter", body: "u 3\nv_total 12\n", util: "u", req: "v_total", wantUtil: 3, wantConns: nan, wantReqs: []float64{12}},
		{name: "OpenMetrics counter and EOF", body: "# TYPE foo counter\n# UNIT foo requests\nfoo_total{code=\"200\"} 5\nfoo_created{code=\"200\"} 1.7e9\n# EOF\n",
			req: "foo_total", wantUtil: nan, wantConns: nan, wantReqs: []float64{5}},
		{name: "histogram buckets sorted, series by labels", body: hist, lat: "h", wantUtil: nan, wantConns: nan,
			wantBounds: []float64{0.1, 0.5, math.Inf(1)}, wantCounts: [][]float64{{1, 6, 7}, {0, 2, 3}}},
		{name: "histogram named by its buckets", body: hist, lat: `h_bucket{r="b"}`, wantUtil: nan, wantConns: nan,
			wantBounds: []float64{0.1, 0.5, math.Inf(1)}, wantCounts: [][]float64{{0, 2, 3}}},

		{name: "gauge wanted", body: "# TYPE c_total counter\nc_total 1\n", util: "c_total", err: "utilization: c_total is a counter, want a gauge"},
		{name: "gauge wanted, histogram given", body: hist, conns: "h", err: "connections: h is a histogram, want a gauge"},
		{name: "counter wanted", body: gauges, req: "x", err: "requests: x is a gauge, want a counter"},
		{name: "histogram wanted", body: "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_count 1\ns_sum 1\n", lat: "s", err: "latency: s is a summary, want a histogram"},
		{name: "no +Inf bucket", body: "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", lat: "h", err: `latency: h has no le="+Inf" bucket`},
		{name: "histogram without buckets", body: "# TYPE h histogram\nh_count 1\nh_sum 1\n", lat: "h", err: `latency: h has no le="+Inf" bucket`},
		{name: "different buckets", body: hist + "h_bucket{le=\"1\",r=\"b\"} 3\n", lat: "h", err: "latency: the series of h that h selects have different buckets"},
		{name: "bucket twice", body: "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 1\n", lat: "h", err: `latency: h has the bucket le="1" twice`},
		{name: "NaN bucket count", body: "# TYPE h histogram\nh_bucket{le=\"1\",x=\"y\"} NaN\nh_bucket{le=\"+Inf\",x=\"y\"} 1\n", lat: "h", err: `latency: h{x="y"} has the bucket count NaN for le="1"`},
		{name: "series twice", body: "c_total{a=\"1\"} 1\nc_total{a=\"1\"} 2\n", req: "c_total", err: `requests: c_total has the series c_total{a="1"} twice`},
		{name: "unquoted label value", body: "x{a=1} 2\n", util: "x", err: `bad exposition: text format parsing error in line 1: expected '"' at start of label value, found '1'`},
		{name: "value not a number", body: "x 1\nx{a=\"2\"} abc\n", util: "x", err: `bad exposition: text format parsing error in line 2: expected float as value, got "abc"`},
		{name: "HTML", body: "<html><body>Not Found</body></html>\n", util: "x", err: `bad exposition: line 1: "<html><body>Not Found</body></html>" is not a sample, a comment or a blank line`},
		{name: "a long bad line is cut", body: "x 1\n\n  -" + strings.Repeat("x", 100) + "\n", util: "x", err: `bad exposition: line 3: "  -xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..." is not a sample, a comment or a blank line`},
		{name: "truncated", body: "x{a=\"1", util: "x", err: "bad exposition: text format parsing error in line 1: unexpected end of input stream"},
		{name: "exemplar", body: "# TYPE foo counter\nfoo_total 5 # {trace_id=\"1\"} 1\n", req: "foo_total", err: `bad exposition: text format parsing error in line 2: expected integer as timestamp, got "#"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sel := testSelectors(t, c.util, c.conns, c.req, c.lat)
			e, err := extract([]byte(c.body), &sel)
			if c.err != "" {
				if err == nil || err.Error() != c.err {
					t.Fatalf("error %v, want %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameFloat(e.utilization, c.wantUtil) || !sameFloat(e.connections, c.wantConns) {
				t.Errorf("utilization %v connections %v, want %v %v", e.utilization, e.connections, c.wantUtil, c.wantConns)
			}
			var reqs []float64
			for _, s := range e.requests {
				reqs = append(reqs, s.value)
			}
			if !sameFloats(sortedCopy(reqs), c.wantReqs) {
				t.Errorf("requests %v, want %v", reqs, c.wantReqs)
			}
			if len(e.latency) != len(c.wantCounts) {
				t.Fatalf("%d latency series, want %d", len(e.latency), len(c.wantCounts))
			}
			// The series come sorted by signature: match them by counts.
			for _, want := range c.wantCounts {
				found := false
				for _, h := range e.latency {
					if sameFloats(h.counts, want) {
						found = true
						if !sameFloats(h.bounds, c.wantBounds) {
							t.Errorf("bounds %v, want %v", h.bounds, c.wantBounds)
						}
					}
				}
				if !found {
					t.Errorf("no latency series with counts %v in %+v", want, e.latency)
				}
			}
		})
	}
}

func sameFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameFloat(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sortedCopy(v []float64) []float64 {
	out := append([]float64(nil), v...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestBucketQuantile(t *testing.T) {
	inf := math.Inf(1)
	std := []float64{0.1, 0.5, 1, inf}
	cases := []struct {
		name   string
		q      float64
		bounds []float64
		counts []float64
		want   float64
	}{
		// rank 50 in (0.1, 0.5] holding 50: 0.1 + 0.4 × 40/50.
		{"median interpolated", 0.5, std, []float64{10, 60, 90, 100}, 0.42},
		// rank 90 is the top of (0.5, 1].
		{"at a bucket's top", 0.9, std, []float64{10, 60, 90, 100}, 1},
		// rank 5 in the first bucket, from 0: 0.1 × 5/10.
		{"first bucket from 0", 0.05, std, []float64{10, 60, 90, 100}, 0.05},
		// rank 99 falls in +Inf: the last finite bound.
		{"in +Inf", 0.99, std, []float64{10, 60, 90, 100}, 1},
		{"all in +Inf", 0.5, std, []float64{0, 0, 0, 4}, 1},
		// A first bound at or below 0 is returned as is.
		{"first bound negative", 0.1, []float64{-1, 0, 1, inf}, []float64{5, 10, 20, 20}, -1},
		{"first bound 0", 0.25, []float64{0, 1, inf}, []float64{5, 10, 10}, 0},
		// Non-monotonic counts take their envelope: [10 10 20 20], rank 10
		// is the top of the first bucket.
		{"non-monotonic", 0.5, std, []float64{10, 5, 20, 20}, 0.1},
		// A dip of float noise is flattened: [10 60 60 100], rank 60.
		{"float noise", 0.6, std, []float64{10, 60, 60 * (1 - 1e-15), 100}, 0.5},
		{"no observations", 0.5, std, []float64{0, 0, 0, 0}, math.NaN()},
		{"only +Inf", 0.5, []float64{inf}, []float64{3}, math.NaN()},
		{"no +Inf", 0.5, []float64{0.1, 1}, []float64{1, 2}, math.NaN()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counts := append([]float64(nil), c.counts...)
			if got := bucketQuantile(c.q, c.bounds, counts); !sameFloat(got, c.want) {
				t.Errorf("quantile %v = %v, want %v", c.q, got, c.want)
			}
		})
	}
}

// TestTracker: rates and quantiles between consecutive expositions, with
// resets, new and vanished series, and intervals without observations.
func TestTracker(t *testing.T) {
	nan := math.NaN()
	sel := testSelectors(t, "", "", "c_total", "h")
	counter := func(vals ...string) string {
		var b strings.Builder
		b.WriteString("# TYPE c_total counter\n")
		for _, v := range vals {
			b.WriteString(v + "\n")
		}
		return b.String()
	}
	hist := func(counts string) string { // counts for le 0.1 0.5 1 +Inf
		f := strings.Fields(counts)
		return "# TYPE h histogram\n" +
			"h_bucket{le=\"0.1\"} " + f[0] + "\nh_bucket{le=\"0.5\"} " + f[1] + "\nh_bucket{le=\"1\"} " + f[2] + "\nh_bucket{le=\"+Inf\"} " + f[3] + "\n"
	}
	type step struct {
		body     string
		rate     float64
		quantile float64
	}
	cases := []struct {
		name  string
		q     float64
		steps []step // 10 s apart
	}{
		{"rate", 0.5, []step{
			{counter(`c_total{code="200"} 100`, `c_total{code="500"} 10`), nan, nan},
			{counter(`c_total{code="200"} 140`, `c_total{code="500"} 20`), 5, nan},
			{counter(`c_total{code="200"} 140`, `c_total{code="500"} 20`), 0, nan},
		}},
		{"reset counts the new value", 0.5, []step{
			{counter(`c_total 1000`), nan, nan},
			{counter(`c_total 30`), 3, nan},
			{counter(`c_total 50`), 2, nan},
		}},
		{"a reset of one series leaves the others", 0.5, []step{
			{counter(`c_total{i="a"} 1000`, `c_total{i="b"} 500`), nan, nan},
			{counter(`c_total{i="a"} 10`, `c_total{i="b"} 540`), 5, nan},
		}},
		{"new series counts from 0, vanished ones not at all", 0.5, []step{
			{counter(`c_total{code="200"} 100`, `c_total{code="404"} 7`), nan, nan},
			{counter(`c_total{code="200"} 150`, `c_total{code="500"} 20`), 7, nan},
		}},
		{"no series, then some", 0.5, []step{
			{counter(), nan, nan},
			{counter(), nan, nan},
			{counter(`c_total 40`), 4, nan},
		}},
		{"latency from the bucket increases", 0.5, []step{
			{hist("10 60 90 100"), nan, nan},
			// increases 10 50 80 100: rank 50 at the top of (0.1, 0.5].
			{hist("20 110 170 200"), nan, 0.5},
			// increases 0 0 0 0: unknown, not the previous figure.
			{hist("20 110 170 200"), nan, nan},
			// increases 10 10 10 10: rank 5 in the first bucket, from 0.
			{hist("30 120 180 210"), nan, 0.05},
		}},
		{"latency in +Inf", 0.99, []step{
			{hist("0 0 0 0"), nan, nan},
			{hist("10 60 90 100"), nan, 1},
		}},
		{"latency after a reset", 0.5, []step{
			{hist("1000 2000 3000 4000"), nan, nan},
			{hist("10 60 90 100"), nan, 0.42},
		}},
		{"latency of two series summed", 0.5, []step{
			{"# TYPE h histogram\nh_bucket{le=\"1\",i=\"a\"} 0\nh_bucket{le=\"+Inf\",i=\"a\"} 0\nh_bucket{le=\"1\",i=\"b\"} 0\nh_bucket{le=\"+Inf\",i=\"b\"} 0\n", nan, nan},
			// a: 10 below 1; b: 10 in +Inf. rank 10 at the top of (0, 1].
			{"# TYPE h histogram\nh_bucket{le=\"1\",i=\"a\"} 10\nh_bucket{le=\"+Inf\",i=\"a\"} 10\nh_bucket{le=\"1\",i=\"b\"} 0\nh_bucket{le=\"+Inf\",i=\"b\"} 10\n", nan, 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newTracker()
			at := time.Unix(1_700_000_000, 0)
			for i, s := range c.steps {
				e, err := extract([]byte(s.body), &sel)
				if err != nil {
					t.Fatal(err)
				}
				rate, q := tr.update(&e, at, c.q)
				if !sameFloat(rate, s.rate) || !sameFloat(q, s.quantile) {
					t.Errorf("step %d: rate %v quantile %v, want %v %v", i, rate, q, s.rate, s.quantile)
				}
				at = at.Add(10 * time.Second)
			}
			if raceEnabled {
				return
			}
			// The steady state allocates nothing.
			e, _ := extract([]byte(c.steps[len(c.steps)-1].body), &sel)
			if a := testing.AllocsPerRun(100, func() { at = at.Add(time.Second); tr.update(&e, at, c.q) }); a != 0 {
				t.Errorf("update allocates %v times, budget 0", a)
			}
		})
	}
}

// FuzzExtract: any body is an error or an exposition whose series are
// well formed, and two of them give a rate and a quantile that make sense.
func FuzzExtract(f *testing.F) {
	f.Add(nodeBody(f), nodeBody(f))
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"), []byte("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 9\n"))
	f.Add([]byte("c_total{a=\"1\"} 1\nc_total{a=\"2\"} 2\nu 0.5\n"), []byte("c_total{a=\"1\"} 0\n# EOF\n"))
	f.Add([]byte("x{a=1} 2\n"), []byte("{} 1"))
	sel := testSelectors(f, `app_utilization_ratio`, "u", "c_total", "h")
	node := testSelectors(f, "app_utilization_ratio", "http_active_connections", "http_requests_total", `http_request_duration_seconds`)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, sel := range []selectors{sel, node} {
			tr := newTracker()
			at := time.Unix(1_700_000_000, 0)
			for _, body := range [][]byte{a, b} {
				e, err := extract(body, &sel)
				if err != nil {
					if !strings.HasPrefix(err.Error(), "bad exposition: ") && !strings.Contains(err.Error(), ": ") {
						t.Fatalf("error without context: %v", err)
					}
					continue
				}
				checkExposition(t, &e)
				at = at.Add(5 * time.Second)
				rate, q := tr.update(&e, at, 0.9)
				if len(e.latency) > 0 && !math.IsNaN(q) {
					bounds := e.latency[0].bounds
					lo := math.Min(0, bounds[0])
					hi := bounds[max(len(bounds)-2, 0)]
					if q < lo || q > hi {
						t.Fatalf("quantile %v outside [%v, %v]", q, lo, hi)
					}
				}
				_ = rate
			}
		}
	})
}

func checkExposition(t *testing.T, e *exposition) {
	t.Helper()
	for i := 1; i < len(e.requests); i++ {
		if e.requests[i].sig <= e.requests[i-1].sig {
			t.Fatalf("requests not sorted by signature or doubled: %+v", e.requests)
		}
	}
	for i, h := range e.latency {
		if i > 0 && h.sig <= e.latency[i-1].sig {
			t.Fatalf("latency series not sorted by signature or doubled")
		}
		if len(h.bounds) == 0 || len(h.bounds) != len(h.counts) || !math.IsInf(h.bounds[len(h.bounds)-1], 1) {
			t.Fatalf("bad histogram %+v", h)
		}
		if !sameFloats(h.bounds, e.latency[0].bounds) {
			t.Fatalf("series with different bounds: %v and %v", h.bounds, e.latency[0].bounds)
		}
		for j := range h.bounds {
			if j > 0 && !(h.bounds[j] > h.bounds[j-1]) {
				t.Fatalf("bounds not ascending: %v", h.bounds)
			}
			if c := h.counts[j]; math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
				t.Fatalf("bad count %v", c)
			}
		}
	}
}

// BenchmarkExtract is the parsing side of one scrape of a Node.js
// exposition (testdata/node-metrics.txt), selecting every signal: the
// fast path, and expfmt's parser that it stands in for.
func BenchmarkExtract(b *testing.B) {
	body := nodeBody(b)
	sel := testSelectors(b, "app_utilization_ratio", "http_active_connections", `http_requests_total{route="/api/items"}`, `http_request_duration_seconds{route="/api/items"}`)
	for _, c := range []struct {
		name string
		f    func([]byte, *selectors) (exposition, error)
	}{{"fast", extract}, {"expfmt", parseExtract}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.f(body, &sel); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
