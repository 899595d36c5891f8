package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/zones"
)

// TestReloadLetsOldSnapshotsGo: after a reload, nothing the server keeps
// (readers' answer caches, health bindings, steering, the web side) holds
// the snapshot it replaced, so a reload never keeps two old ones alive.
// Every snapshot is queried (static, service, NXDOMAIN: the answer cache
// keeps each) before the next replaces it.
func TestReloadLetsOldSnapshotsGo(t *testing.T) {
	dir := writeFiles(t, map[string]string{"gslb.toml": mainTOML, "zones/example.test.toml": zoneTOML})
	ta := startAppWatching(t, filepath.Join(dir, "gslb.toml"), "", true)
	var old []weak.Pointer[zones.Snapshot]
	for i := range 4 {
		snap := ta.h.Snapshot()
		for _, name := range []string{"ns1.example.test.", "www.example.test.", "nx.example.test."} {
			query(t, ta.dns, name, dns.TypeA)
		}
		old = append(old, weak.Make(snap))
		text := strings.Replace(zoneTOML, "[records]\n", fmt.Sprintf("[records]\ngen = { TXT = \"%d\" }\n", i), 1)
		if err := os.WriteFile(filepath.Join(dir, "zones/example.test.toml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ta.reload("test"); err != nil {
			t.Fatal(err)
		}
		if ta.h.Snapshot() == snap {
			t.Fatalf("reload %d swapped nothing", i)
		}
	}
	// The background loops (steering, answer samples) run each second:
	// give them one round with the new snapshot.
	time.Sleep(1100 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	for i, p := range old {
		if p.Value() != nil {
			t.Errorf("snapshot %d of 4 is still alive after %d reloads", i+1, len(old)-i)
		}
	}
}
