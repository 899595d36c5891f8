package cluster

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/hlc"
)

// FuzzDecode: any bytes a member receives are a valid message or an
// error, never a panic; a frame that decodes encodes back to the same
// bytes, and its entries fit in what was received.
func FuzzDecode(f *testing.F) {
	f.Add(appendFrame(nil, &frame{Origin: "a", Incarnation: 7, Seq: 3, SentAt: 1764770000000, ConfigHash: "abc", Entries: []entry{{1, votePass}, {2, voteWithdraw}}}))
	f.Add(appendFrame(nil, &frame{Origin: "b", Full: true, Entries: []entry{{9, voteFail}}}))
	f.Add(adminMessage([]health.Change{{ID: "www.example.test/one", Override: &health.Override{State: "drain"}, Stamp: hlc.Stamp{Wall: 1, Node: "a"}}}))
	f.Add([]byte{kindVotes, frameVersion, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{kindAdmin, '[', '{'})
	f.Add(appendSteerFrame(nil, &steerFrame{Origin: "a", Incarnation: 7, Tick: 1764770000000, ConfigHash: "abc", Entries: []steerEntry{{Key: 1, Multiplier: 1.5, Share: 0.25, Unsettled: true}}}))
	f.Add(reportMessage(health.ReportChange{ID: "www.example.test/one", Report: &health.Report{Utilization: 0.5, Connections: math.NaN(), RequestRate: math.NaN(), At: time.UnixMilli(1764770000000), Expires: time.UnixMilli(1764770060000)}, At: time.UnixMilli(1764770000000)}))
	f.Add(registrationMessage(health.RegistrationChange{ID: "api.example.test/web-1", Registration: &health.Registration{ID: "api.example.test/web-1", Service: "api.example.test", Name: "web-1", Address: "10.0.0.7", Weight: 1, Lease: 30 * time.Second, Renewed: time.UnixMilli(1764770000000), Expires: time.UnixMilli(1764770030000)}, At: time.UnixMilli(1764770000000)}))
	f.Add(registrationMessage(health.RegistrationChange{ID: "api.example.test/web-1", At: time.UnixMilli(1764770000000)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		switch b[0] {
		case kindVotes:
			fr, err := parseFrame(b)
			if err != nil {
				return
			}
			if len(fr.Entries)*entrySize > len(b) {
				t.Fatalf("%d entries from %d bytes", len(fr.Entries), len(b))
			}
			if back := appendFrame(nil, fr); !bytes.Equal(back, b) {
				// Varints have one shortest form; a longer one in the
				// input decodes the same and encodes shorter.
				if again, err := parseFrame(back); err != nil || again.Seq != fr.Seq || len(again.Entries) != len(fr.Entries) {
					t.Fatalf("re-encoded frame differs: %v", err)
				}
			}
		case kindAdmin:
			_, _ = parseAdmin(b)
		case kindSteer:
			fr, err := parseSteerFrame(b)
			if err != nil {
				return
			}
			if len(fr.Entries)*steerEntrySize > len(b) {
				t.Fatalf("%d entries from %d bytes", len(fr.Entries), len(b))
			}
			for _, e := range fr.Entries {
				if !(e.Multiplier >= 0 && e.Multiplier <= maxMultiplier && e.Share >= 0 && e.Share <= 1) {
					t.Fatalf("entry out of bounds: %+v", e)
				}
			}
		case kindRegistrations:
			changes, err := parseRegistrations(b)
			if err != nil {
				return
			}
			for _, c := range changes {
				if r := c.Registration; r != nil && (r.ID != c.ID || r.Lease < health.MinLease || r.Lease > health.MaxLease) {
					t.Fatalf("a registration out of bounds: %+v", r)
				}
			}
		case kindReports:
			changes, err := parseReports(b)
			if err != nil {
				return
			}
			for _, c := range changes {
				if r := c.Report; r != nil && (!r.Expires.After(r.At) || r.Utilization < 0 || r.Capacity < 0) {
					t.Fatalf("a report out of bounds: %+v", r)
				}
			}
		}
	})
}
