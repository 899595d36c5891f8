package health

import (
	"math"
	"testing"
)

// fastSelectorSets are the selectors the fast path is compared under.
func fastSelectorSets(t testing.TB) []selectors {
	return []selectors{
		testSelectors(t, "a", `a{x="1"}`, "c_total", "h"),
		testSelectors(t, `g{x="1",y="2"}`, "a_count", `c_total{x="1"}`, `h_bucket{x="1"}`),
		testSelectors(t, "h", "c_total", "a", "a"),
		testSelectors(t, "app_utilization_ratio", "http_active_connections", `http_requests_total{route="/api/items"}`, `http_request_duration_seconds{route="/api/items"}`),
		testSelectors(t, "", "", "http_requests_total", "nodejs_gc_duration_seconds"),
	}
}

// fastSeeds are bodies in and out of the fast path's subset.
var fastSeeds = []string{
	"a 1\na{x=\"1\"} 2\n",
	"# TYPE a gauge\na{x=\"1\",y=\"2\"} 2\na{x=\"2\"} 3\n# TYPE c_total counter\nc_total{x=\"1\"} 7\nc_total{x=\"2\"} 9\n",
	"# TYPE h histogram\nh_bucket{le=\"0.1\",x=\"1\"} 1\nh_bucket{le=\"1\",x=\"1\"} 3\nh_bucket{le=\"+Inf\",x=\"1\"} 4\nh_sum{x=\"1\"} 2\nh_count{x=\"1\"} 4\n",
	"# TYPE h histogram\nh_bucket{x=\"1\",le=\"+Inf\"} 4\nh_bucket{x=\"1\",le=\"1\"} 3\nh_bucket{le=\"+Inf\",x=\"2\"} 1\nh_bucket{le=\"1\",x=\"2\"} 1\n",
	"# TYPE h histogram\nh{le=\"1\"} 1\nh{le=\"+Inf\"} 2\nh_count 2\n",
	"# TYPE h histogram\nh_count 2\n",
	"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
	"# TYPE a histogram\na_bucket{le=\"1\"} 1\na_bucket{le=\"+Inf\"} 1\n",
	"# TYPE a summary\na{quantile=\"0.5\"} 1\na_count 1\na_sum 1\n",
	"# TYPE a gauge\n# TYPE a gauge\na 1\n",
	"a 1\n# TYPE a gauge\n",
	"# TYPE h histogram\n# TYPE h_count gauge\nh_count 1\n",
	"# TYPE a GAUGE\na 1\n",
	"a 1 1700000000000\n",
	"a{x=\"\\\"\"} 1\n",
	"a{x=\"\"} 1\na 2\n",
	"a{x=\"1\",x=\"2\"} 1\n",
	"a{__name__=\"b\"} 1\n",
	"a{x=\"1\",} 1\na{} 2\n",
	"a  1\n",
	"a\t1\n",
	" a 1\n",
	"a 1",
	"a 0x1p3\na 1_0\na +Inf\na NaN\na -0\na 1e400\n",
	"c_total 1\nc_total 2\n",
	"# TYPE h histogram\nh_bucket{le=\"1\"} -1\nh_bucket{le=\"+Inf\"} 1\nh_count -1\n",
	"# TYPE h histogram\nh_bucket{le=\"1\"} NaN\nh_bucket{le=\"+Inf\"} 1.5\n",
	"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\n",
	"{\"a\"} 1\n\"a\" 2\n",
	"<html>\n",
	"# HELP a help\n# TYPE a gauge\na 1\n# EOF\n",
	"a{x=\"1\"} 1\r\n",
	"a{x=\"\xff\"} 1\n",
}

// FuzzFastExtract: whenever the fast path answers, expfmt's parser gives
// the same exposition.
func FuzzFastExtract(f *testing.F) {
	f.Add(string(nodeBody(f)))
	for _, s := range fastSeeds {
		f.Add(s)
	}
	sets := fastSelectorSets(f)
	f.Fuzz(func(t *testing.T, body string) {
		for i, sel := range sets {
			fast, ok := fastExtract([]byte(body), &sel)
			if !ok {
				continue
			}
			slow, err := parseExtract([]byte(body), &sel)
			if err != nil {
				t.Fatalf("selectors %d: the fast path read %q, expfmt says %v", i, body, err)
			}
			if d := expositionDiff(fast, slow); d != "" {
				t.Fatalf("selectors %d, body %q: fast and expfmt differ: %s", i, body, d)
			}
		}
	})
}

func expositionDiff(a, b exposition) string {
	if !sameFloat(a.utilization, b.utilization) || !sameFloat(a.connections, b.connections) {
		return "gauges"
	}
	if len(a.requests) != len(b.requests) {
		return "request series"
	}
	for i := range a.requests {
		if a.requests[i].sig != b.requests[i].sig || !sameFloat(a.requests[i].value, b.requests[i].value) {
			return "requests"
		}
	}
	if len(a.latency) != len(b.latency) {
		return "latency series"
	}
	for i := range a.latency {
		if a.latency[i].sig != b.latency[i].sig || !sameFloats(a.latency[i].bounds, b.latency[i].bounds) || !sameFloats(a.latency[i].counts, b.latency[i].counts) {
			return "latency"
		}
	}
	return ""
}

// TestFastExtractAnswers: what client libraries write takes the fast
// path, and what it declines gets the same answer from expfmt.
func TestFastExtractAnswers(t *testing.T) {
	sets := fastSelectorSets(t)
	for _, c := range []struct {
		body string
		sel  int
	}{
		{string(nodeBody(t)), 3},
		{string(nodeBody(t)), 4},
		{fastSeeds[1], 0},
		{fastSeeds[2], 1},
		{fastSeeds[3], 0},
		{fastSeeds[4], 0},
		{fastSeeds[18], 0},
		{"# HELP a help\n# TYPE a gauge\na 1\n# EOF\n", 0},
	} {
		if _, ok := fastExtract([]byte(c.body), &sets[c.sel]); !ok {
			t.Errorf("the fast path declines %q", c.body)
		}
	}
	declined := 0
	for _, body := range fastSeeds {
		for _, sel := range sets {
			fast, ok := fastExtract([]byte(body), &sel)
			slow, err := parseExtract([]byte(body), &sel)
			if !ok {
				declined++
				continue
			}
			if err != nil || expositionDiff(fast, slow) != "" {
				t.Errorf("%q: fast %+v, expfmt %+v %v", body, fast, slow, err)
			}
		}
	}
	if declined == 0 {
		t.Error("the fast path declined nothing")
	}
}

// TestFastExtractNode pins the fast reading of the node exposition.
func TestFastExtractNode(t *testing.T) {
	sel := fastSelectorSets(t)[3]
	body := nodeBody(t)
	e, ok := fastExtract(body, &sel)
	if !ok || e.utilization != 0.42 || e.connections != 41 || len(e.requests) != 3 || len(e.latency) != 1 || len(e.latency[0].bounds) != 15 || !math.IsInf(e.latency[0].bounds[14], 1) {
		t.Fatalf("%v %+v", ok, e)
	}
	// The exposition's own slices: 2 for the requests, 2 a histogram
	// series, and the parse of 3 values that do not fit a small buffer.
	if a := testing.AllocsPerRun(100, func() { fastExtract(body, &sel) }); !raceEnabled && a > 16 {
		t.Errorf("%v allocations, budget 16", a)
	}
}
