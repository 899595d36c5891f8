package cluster

import (
	"bytes"
	"testing"

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
		}
	})
}
