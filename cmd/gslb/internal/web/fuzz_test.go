package web

import (
	"bytes"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
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
