package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
)

const reportPath = "/api/v1/backends/www.example.test/one/report"

// reportFixture is a fixture with a report store, a fake clock at t0 and
// its log in a buffer.
type reportFixture struct {
	*fixture
	reports *health.Reports
	clock   *fakeClock
	t0      time.Time
	log     *syncBuffer
}

func newReportFixture(t *testing.T, deps func(*Deps)) *reportFixture {
	t.Helper()
	f := &reportFixture{
		reports: health.NewReports(0),
		t0:      time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
		log:     &syncBuffer{},
	}
	f.fixture = newFixture(t, "", twoBackends, func(d *Deps) {
		d.Reports = f.reports
		d.Log = slog.New(slog.NewTextHandler(f.log, nil))
		if deps != nil {
			deps(d)
		}
	})
	f.clock = &fakeClock{t: f.t0}
	f.web.now = f.clock.now
	return f
}

// syncBuffer is a bytes.Buffer the handlers write from their goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiErrorOf is the error message of an API error body, "" if it is none.
func apiErrorOf(body string) string {
	var e apiError
	json.Unmarshal([]byte(body), &e)
	return e.Error
}

func TestReportAPIRefused(t *testing.T) {
	f := newReportFixture(t, nil)
	tooLarge := `{"utilization": 0.5` + strings.Repeat(" ", maxReportBody) + `}`
	tooLargeAfter := `{"utilization": 0.5}` + strings.Repeat(" ", maxReportBody)
	for _, c := range []struct {
		name, method, path, token, body string
		code                            int
		want                            string // the error, exactly
	}{
		{"no token", "POST", reportPath, "", `{"utilization":0.5}`, http.StatusUnauthorized, "missing or wrong bearer token"},
		{"wrong token", "POST", reportPath, "wrong-token-wrong-token", `{"utilization":0.5}`, http.StatusUnauthorized, "missing or wrong bearer token"},
		{"delete without token", "DELETE", reportPath, "", "", http.StatusUnauthorized, "missing or wrong bearer token"},
		{"no such backend", "POST", "/api/v1/backends/www.example.test/three/report", testToken, `{"utilization":0.5}`, http.StatusNotFound, "no such backend"},
		{"no such service", "GET", "/api/v1/backends/nope.example.test/one/report", "", "", http.StatusNotFound, "no such backend"},
		{"no report yet", "GET", reportPath, "", "", http.StatusNotFound, "no current load report: none was sent, or it has expired"},

		{"empty body", "POST", reportPath, testToken, ``, http.StatusBadRequest, `empty request body: want a JSON object such as {"utilization": 0.62, "ttl": "30s"}`},
		{"not an object", "POST", reportPath, testToken, `[0.5]`, http.StatusBadRequest, `bad request body: want a JSON object, not array`},
		{"bad JSON", "POST", reportPath, testToken, `{"utilization":}`, http.StatusBadRequest, `bad request body: invalid character '}' looking for beginning of value`},
		{"more after the object", "POST", reportPath, testToken, `{"utilization":0.5} {}`, http.StatusBadRequest, `bad request body: more after the JSON object`},
		{"unknown field", "POST", reportPath, testToken, `{"utilization":0.5,"cpu":0.3}`, http.StatusBadRequest, `unknown field "cpu": want "utilization", "connections", "request_rate", "capacity" or "ttl"`},
		{"no load", "POST", reportPath, testToken, `{"capacity":200,"ttl":"30s"}`, http.StatusBadRequest, `no load in the report: give "utilization", "connections" or "request_rate"`},
		{"only nulls", "POST", reportPath, testToken, `{"utilization":null}`, http.StatusBadRequest, `no load in the report: give "utilization", "connections" or "request_rate"`},
		{"utilization a string", "POST", reportPath, testToken, `{"utilization":"62%"}`, http.StatusBadRequest, `bad "utilization": want a number, not string`},
		{"utilization negative", "POST", reportPath, testToken, `{"utilization":-0.1}`, http.StatusBadRequest, `bad "utilization" -0.1: want a share from 0 to 100 (1 is full load)`},
		{"utilization a percentage", "POST", reportPath, testToken, `{"utilization":150}`, http.StatusBadRequest, `bad "utilization" 150: want a share from 0 to 100 (1 is full load)`},
		{"utilization overflows", "POST", reportPath, testToken, `{"utilization":1e400}`, http.StatusBadRequest, `bad "utilization": want a number, not number 1e400`},
		{"connections negative", "POST", reportPath, testToken, `{"connections":-1}`, http.StatusBadRequest, `bad "connections" -1: want a finite number, 0 or more`},
		{"request rate negative", "POST", reportPath, testToken, `{"request_rate":-35.5}`, http.StatusBadRequest, `bad "request_rate" -35.5: want a finite number of requests per second, 0 or more`},
		{"capacity zero", "POST", reportPath, testToken, `{"connections":120,"capacity":0}`, http.StatusBadRequest, `bad "capacity" 0: want a finite number above 0, or leave it out`},
		{"capacity negative", "POST", reportPath, testToken, `{"connections":120,"capacity":-200}`, http.StatusBadRequest, `bad "capacity" -200: want a finite number above 0, or leave it out`},
		{"derived load too high", "POST", reportPath, testToken, `{"connections":1e6,"capacity":2}`, http.StatusBadRequest, `"connections" 1e+06 over "capacity" 2 is a utilisation of 500000: want 0 to 100`},
		{"derived from request rate", "POST", reportPath, testToken, `{"request_rate":1e300,"capacity":1e-300}`, http.StatusBadRequest, `"request_rate" 1e+300 over "capacity" 1e-300 is a utilisation of +Inf: want 0 to 100`},
		{"ttl a number", "POST", reportPath, testToken, `{"utilization":0.5,"ttl":30}`, http.StatusBadRequest, `bad "ttl": want a string such as "30s", not number`},
		{"ttl not a duration", "POST", reportPath, testToken, `{"utilization":0.5,"ttl":"30"}`, http.StatusBadRequest, `bad "ttl" "30": want a duration from 1s to 1h0m0s, such as "30s"`},
		{"ttl too short", "POST", reportPath, testToken, `{"utilization":0.5,"ttl":"500ms"}`, http.StatusBadRequest, `bad "ttl" "500ms": want a duration from 1s to 1h0m0s, such as "30s"`},
		{"ttl too long", "POST", reportPath, testToken, `{"utilization":0.5,"ttl":"61m"}`, http.StatusBadRequest, `bad "ttl" "61m": want a duration from 1s to 1h0m0s, such as "30s"`},
		{"too large", "POST", reportPath, testToken, tooLarge, http.StatusRequestEntityTooLarge, `request body larger than 64 KiB`},
		{"too large after the object", "PUT", reportPath, testToken, tooLargeAfter, http.StatusRequestEntityTooLarge, `request body larger than 64 KiB`},
	} {
		code, body := f.do(t, c.method, c.path, c.token, c.body)
		if got := apiErrorOf(body); code != c.code || got != c.want {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, got, c.code, c.want)
		}
	}
	if n := f.reports.Len(); n != 0 {
		t.Errorf("refused requests stored %d reports", n)
	}
	if strings.Contains(f.log.String(), "load report") {
		t.Errorf("refused requests logged a change:\n%s", f.log)
	}
}

func TestReportAPI(t *testing.T) {
	f := newReportFixture(t, nil)
	post := func(method, body string, code int) reportJSON {
		t.Helper()
		got, text := f.do(t, method, reportPath, testToken, body)
		if got != code {
			t.Fatalf("%s %s: %d %s, want %d", method, body, got, text, code)
		}
		var rep reportJSON
		if err := json.Unmarshal([]byte(text), &rep); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		return rep
	}
	eq := func(p *float64, want float64) bool {
		if math.IsNaN(want) {
			return p == nil
		}
		return p != nil && math.Abs(*p-want) < 1e-12
	}

	// A new report: 201, the utilisation given wins over connections.
	rep := post("POST", `{"utilization": 0.62, "connections": 120, "request_rate": 35.5, "capacity": 200, "ttl": "10s"}`, http.StatusCreated)
	if rep.Backend != "www.example.test/one" || !eq(rep.Utilization, 0.62) || !eq(rep.Connections, 120) || !eq(rep.RequestRate, 35.5) ||
		!eq(rep.Capacity, 200) || !eq(rep.Load, 0.62) || !rep.At.Equal(f.t0) || !rep.Expires.Equal(f.t0.Add(10*time.Second)) ||
		!strings.HasPrefix(rep.Source, "api 127.0.0.1:") {
		t.Errorf("first report: %+v", rep)
	}
	if stored, ok := f.reports.Get("www.example.test/one", f.t0); !ok || stored.Utilization != 0.62 || stored.Source != rep.Source {
		t.Errorf("stored: %+v %v", stored, ok)
	}
	log := f.log.String()
	for _, want := range []string{`msg="load report" backend=www.example.test/one source="api 127.0.0.1:`, " utilization=0.62 connections=120 request_rate=35.5 capacity=200 load=0.62 expires=2026-11-24T12:00:10Z"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}

	// A second one replaces it: 200, the load derived, the ttl 30s by
	// default, absent fields null.
	f.clock.set(f.t0.Add(5 * time.Second))
	rep = post("PUT", `{"connections": 50, "capacity": 200}`, http.StatusOK)
	if !eq(rep.Utilization, math.NaN()) || !eq(rep.RequestRate, math.NaN()) || !eq(rep.Load, 0.25) ||
		!rep.Expires.Equal(f.t0.Add(35*time.Second)) {
		t.Errorf("second report: %+v", rep)
	}
	code, text := f.do(t, "GET", "/api/v1/backends/WWW.Example.Test./one/report", "", "")
	for _, want := range []string{`"utilization": null`, `"connections": 50`, `"capacity": 200`, `"load": 0.25`, `"expires": "2026-11-24T12:00:35Z"`} {
		if code != http.StatusOK || !strings.Contains(text, want) {
			t.Errorf("GET: %d, lacks %s:\n%s", code, want, text)
		}
	}

	// Without capacity there is no load; capacity is null.
	rep = post("POST", `{"request_rate": 35.5, "ttl": "1h"}`, http.StatusOK)
	if rep.Load != nil || rep.Capacity != nil || !eq(rep.RequestRate, 35.5) {
		t.Errorf("report without capacity: %+v", rep)
	}
	if code, text := f.do(t, "GET", reportPath, "", ""); code != http.StatusOK || !strings.Contains(text, `"capacity": null`) || !strings.Contains(text, `"load": null`) {
		t.Errorf("GET without capacity: %d\n%s", code, text)
	}

	// After its expiry the report is gone, for the API and the store.
	f.clock.set(f.t0.Add(5*time.Second + time.Hour))
	if code, text := f.do(t, "GET", reportPath, "", ""); code != http.StatusNotFound || apiErrorOf(text) != "no current load report: none was sent, or it has expired" {
		t.Errorf("GET after expiry: %d %s", code, text)
	}
	if _, ok := f.reports.Get("www.example.test/one", f.clock.now()); ok {
		t.Error("the store still gives the expired report")
	}
	// A new one after the expiry is created anew.
	post("POST", `{"utilization": 1.5}`, http.StatusCreated)

	// DELETE removes it, and says so in the log; again is no error.
	if code, text := f.do(t, "DELETE", reportPath, testToken, ""); code != http.StatusNoContent || text != "" {
		t.Errorf("DELETE: %d %q", code, text)
	}
	if code, _ := f.do(t, "GET", reportPath, "", ""); code != http.StatusNotFound || f.reports.Len() != 0 {
		t.Errorf("GET after DELETE: %d, %d reports", code, f.reports.Len())
	}
	if !strings.Contains(f.log.String(), `msg="load report deleted" backend=www.example.test/one source="api 127.0.0.1:`) {
		t.Errorf("DELETE not logged:\n%s", f.log)
	}
	if code, _ := f.do(t, "DELETE", reportPath, testToken, ""); code != http.StatusNoContent {
		t.Errorf("second DELETE: %d", code)
	}
	// Backend two is its own.
	if code, _ := f.do(t, "GET", "/api/v1/backends/www.example.test/two/report", "", ""); code != http.StatusNotFound {
		t.Errorf("GET of two: %d", code)
	}
}

func TestReportAPIFull(t *testing.T) {
	reports := health.NewReports(1)
	f := newReportFixture(t, func(d *Deps) { d.Reports = reports })
	f.reports = reports
	if code, text := f.do(t, "POST", reportPath, testToken, `{"utilization":0.5}`); code != http.StatusCreated {
		t.Fatalf("%d %s", code, text)
	}
	code, text := f.do(t, "POST", "/api/v1/backends/www.example.test/two/report", testToken, `{"utilization":0.5}`)
	if code != http.StatusServiceUnavailable || apiErrorOf(text) != "load report for www.example.test/two: too many load reports (at most 1)" {
		t.Errorf("beyond the bound: %d %s", code, text)
	}
}

func TestReportAPIOff(t *testing.T) {
	// Without a token: 403, as the admin API.
	f := newReportFixture(t, func(d *Deps) { d.Token = "" })
	code, text := f.do(t, "POST", reportPath, "anything-anything", `{"utilization":0.5}`)
	if code != http.StatusForbidden || apiErrorOf(text) != writeAPIOff {
		t.Errorf("no token configured: %d %s, want 403", code, text)
	}
	// Without a store: 501 for every method, token or not.
	g := newReportFixture(t, func(d *Deps) { d.Reports = nil })
	for _, m := range []string{"POST", "PUT", "GET", "DELETE"} {
		code, text := g.do(t, m, reportPath, testToken, `{"utilization":0.5}`)
		if code != http.StatusNotImplemented || apiErrorOf(text) != "the load report API is off: this server keeps no load reports" {
			t.Errorf("%s without a store: %d %s, want 501", m, code, text)
		}
	}
	// Other methods are not allowed.
	if code, _ := f.do(t, "PATCH", reportPath, testToken, `{}`); code != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %d, want 405", code)
	}
}

func TestParseReportDefaults(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	rep, err := ParseReport(strings.NewReader(`{"utilization": 0}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := rep.Load(); !ok || l != 0 || !math.IsNaN(rep.Connections) || !math.IsNaN(rep.RequestRate) || rep.Capacity != 0 ||
		!rep.At.Equal(now) || !rep.Expires.Equal(now.Add(30*time.Second)) || rep.Source != "" {
		t.Errorf("%+v", rep)
	}
	// The bounds themselves are accepted.
	for _, body := range []string{`{"utilization":100,"ttl":"1s"}`, `{"utilization":0,"ttl":"1h"}`, `{"connections":0}`, `{"connections":200,"capacity":2}`} {
		if _, err := ParseReport(strings.NewReader(body), now); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
}
