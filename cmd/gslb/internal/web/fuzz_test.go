package web

import (
	"bytes"
	"math"
	"net/http"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/zones"
)

// FuzzParseOverride: any request body of PUT .../admin is an error or a
// valid override that has not expired.
func FuzzParseOverride(f *testing.F) {
	f.Add([]byte(`{"state":"drain","reason":"kernel upgrade","for":"30m"}`))
	f.Add([]byte(`{"state":"up","expires":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"state":"down","for":"1s","expires":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"state":"drain","extra":1}`))
	f.Add([]byte(`[]`))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOverride(bytes.NewReader(body), now)
		if err != nil {
			return
		}
		switch o.State {
		case health.AdminUp, health.AdminDown, health.AdminDrain:
		default:
			t.Fatalf("accepted state %q", o.State)
		}
		if !o.Expires.IsZero() && !o.Expires.After(now) {
			t.Fatalf("accepted an override that expired: %v", o.Expires)
		}
	})
}

// FuzzReportBody: any request body of POST .../report is an error or a
// report with a load signal, every value in its range, received now and
// expiring within the ttl's bounds.
func FuzzReportBody(f *testing.F) {
	f.Add([]byte(`{"utilization": 0.62, "connections": 120, "request_rate": 35.5, "capacity": 200, "ttl": "30s"}`))
	f.Add([]byte(`{"connections": 50, "capacity": 200}`))
	f.Add([]byte(`{"request_rate": 1e300, "capacity": 1e-300}`))
	f.Add([]byte(`{"utilization": 1.5, "ttl": "1h"}`))
	f.Add([]byte(`{"utilization": -0, "ttl": "1s"}`))
	f.Add([]byte(`{"capacity": 200}`))
	f.Add([]byte(`{"utilization": 0.5, "cpu": 1}`))
	f.Add([]byte(`{"utilization": 0.5} {}`))
	f.Add([]byte(`{"ttl": 30, "utilization": "x"}`))
	f.Add([]byte(`[]`))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseReport(bytes.NewReader(body), now)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		u, c, r := rep.Utilization, rep.Connections, rep.RequestRate
		if math.IsNaN(u) && math.IsNaN(c) && math.IsNaN(r) {
			t.Fatal("accepted a report without a load signal")
		}
		if !math.IsNaN(u) && !(u >= 0 && u <= 100) {
			t.Fatalf("accepted utilization %v", u)
		}
		for _, v := range []float64{c, r} {
			if !math.IsNaN(v) && !(v >= 0 && !math.IsInf(v, 0)) {
				t.Fatalf("accepted connections or request rate %v", v)
			}
		}
		if !(rep.Capacity == 0 || rep.Capacity > 0 && !math.IsInf(rep.Capacity, 0)) {
			t.Fatalf("accepted capacity %v", rep.Capacity)
		}
		if l, ok := rep.Load(); ok && !(l >= 0 && l <= 100) {
			t.Fatalf("accepted a report of load %v", l)
		}
		if ttl := rep.Expires.Sub(now); !rep.At.Equal(now) || ttl < time.Second || ttl > time.Hour {
			t.Fatalf("accepted at %v, expiring %v later", rep.At, ttl)
		}
	})
}

// FuzzParseRegistration: any body is a registration within its bounds or
// an error, never a panic; what parses passes or fails CheckRegistration
// without a panic either.
func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(`{"address": "10.0.0.7", "pool": "eu", "weight": 2, "capacity": 200, "check": {"port": 8080, "path": "/ready"}, "lease_ttl": "30s"}`))
	f.Add([]byte(`{"address": "2001:db8::7"}`))
	f.Add([]byte(`{"address": "10.0.0.7", "lease_ttl": "1s"}`))
	f.Add([]byte(`{"address": "10.0.0.7", "check": {"port": -1}}`))
	f.Add([]byte(`{"address": "10.0.0.7", "policy": "geo"}`))
	f.Add([]byte(`{"address": "10.0.0.7"} {}`))
	f.Add([]byte(`[]`))
	s, err := zones.Load(zones.FSFiles(fstest.MapFS{
		"gslb.toml": {Data: []byte("zones = [\"z.toml\"]\n")},
		"z.toml":    {Data: []byte("origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n[services.api]\nregistration = true\nbackends = [{ name = \"a\", address = \"192.0.2.10\" }]\n")},
	}), "gslb.toml")
	if err != nil {
		f.Fatal(err)
	}
	svc := s.Services()[0]
	f.Fuzz(func(t *testing.T, body []byte) {
		rb, lease, err := ParseRegistration(bytes.NewReader(body), "web-1")
		if err != nil {
			return
		}
		if !rb.Address.IsValid() || lease < health.MinLease || lease > health.MaxLease {
			t.Fatalf("parsed out of bounds: %+v %v", rb, lease)
		}
		_ = zones.CheckRegistration(svc, rb)
	})
}

// FuzzParseDeregister: any query and body of a DELETE is a drain or not,
// or an error, never a panic; a body over the bound is refused.
func FuzzParseDeregister(f *testing.F) {
	f.Add("drain=true", []byte(""))
	f.Add("", []byte(`{"drain": true}`))
	f.Add("drain=0", []byte(`{"drain": false} {}`))
	f.Add("drain=yes", []byte(`{"now": 1}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		r, err := http.NewRequest("DELETE", "http://gslb/api/v1/backends/a/b?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		drain, err := parseDeregister(r)
		if err == nil && len(body) > maxRegistrationBody {
			t.Fatalf("a body of %d bytes accepted (drain %v)", len(body), drain)
		}
	})
}
