package audit

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSplitSource(t *testing.T) {
	for _, c := range []struct{ in, by, from string }{
		{"admin token from 127.0.0.1:4242", "admin token", "127.0.0.1:4242"},
		{"registration token tokens.txt:3 from [::1]:80", "registration token tokens.txt:3", "[::1]:80"},
		{"state file", "state file", ""},
		{"expiry", "expiry", ""},
		{"", "", ""},
	} {
		by, from := SplitSource(c.in)
		if by != c.by || from != c.from {
			t.Errorf("SplitSource(%q) = %q, %q; want %q, %q", c.in, by, from, c.by, c.from)
		}
	}
}

func readLines(t *testing.T, file string) []Entry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %q: %v", file, sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestTrail: every record in the file, one JSON object a line, and in the
// ring; the file rotated at its size with one old file kept; appended to
// across a reopening.
func TestTrail(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.log")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr, err := Open(file, 2000, log)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tr.Register(reg)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tr.now = func() time.Time { at = at.Add(time.Second); return at }
	for i := range 30 {
		tr.Record(Entry{Action: Registered, Backend: "www.example.test/b" + string(rune('a'+i%26)), By: "registration token t:1", From: "127.0.0.1:1",
			Detail: map[string]string{"address": "192.0.2.1", "lease": "30s"}})
	}
	tr.Record(Entry{Action: OverrideSet, Backend: "www.example.test/ba", By: "admin token", From: "192.0.2.9:4242", Detail: map[string]string{"state": "drain"}})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	cur, old := readLines(t, file), readLines(t, file+".1")
	if len(cur)+len(old) > 31 || len(cur) == 0 || len(old) == 0 {
		t.Fatalf("%d records in the file, %d in the old one: want them rotated, 31 in all at most", len(cur), len(old))
	}
	if fi, _ := os.Stat(file + ".1"); fi.Size() > 2000 {
		t.Errorf("rotated file of %d bytes, past the 2000 allowed", fi.Size())
	}
	last := cur[len(cur)-1]
	if last.Action != OverrideSet || last.By != "admin token" || last.From != "192.0.2.9:4242" || last.Detail["state"] != "drain" || !last.Time.Equal(at) {
		t.Errorf("last record %+v", last)
	}
	if got := tr.Recent(0, ""); len(got) != 31 || got[30].Action != OverrideSet {
		t.Errorf("ring: %d records", len(got))
	}
	if got := tr.Recent(0, "www.example.test/ba"); len(got) != 3 {
		t.Errorf("records of www.example.test/ba: %d, want 3 (two registrations and the override)", len(got))
	}
	if got := tr.Recent(5, ""); len(got) != 5 || got[4].Action != OverrideSet {
		t.Errorf("Recent(5): %d records", len(got))
	}
	if v := testutil.ToFloat64(tr.records.WithLabelValues(Registered)); v != 30 {
		t.Errorf("gslb_audit_records_total{action=registered} = %v", v)
	}
	// Reopened, it appends.
	tr, err = Open(file, 0, log)
	if err != nil {
		t.Fatal(err)
	}
	tr.Record(Entry{Action: Reload, By: "SIGHUP", Detail: map[string]string{"result": "ok"}})
	tr.Close()
	if again := readLines(t, file); len(again) != len(cur)+1 || again[len(again)-1].Action != Reload {
		t.Errorf("after reopening: %d records, want %d", len(again), len(cur)+1)
	}
	if s, _ := os.ReadFile(file); !strings.HasSuffix(string(s), "\n") {
		t.Error("file does not end with a newline")
	}
}

// TestTrailRing: the ring keeps the latest ringSize records, oldest first;
// with no file, nothing is written and nothing fails.
func TestTrailRing(t *testing.T) {
	tr, err := Open("", 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ringSize + 10 {
		tr.Record(Entry{Action: Reload, By: "SIGHUP", Detail: map[string]string{"n": string(rune('0' + i%10))}})
	}
	got := tr.Recent(0, "")
	if len(got) != ringSize || got[0].Detail["n"] != "0" || got[len(got)-1].Detail["n"] != "9" {
		t.Errorf("ring of %d, first %v last %v", len(got), got[0].Detail, got[len(got)-1].Detail)
	}
	var nilTrail *Trail
	nilTrail.Record(Entry{Action: Reload})
	if nilTrail.Recent(0, "") != nil {
		t.Error("nil trail has records")
	}
}

// TestTrailUnwritable: a file that cannot be written is counted and the
// record kept in the ring.
func TestTrailUnwritable(t *testing.T) {
	dir := t.TempDir()
	tr, err := Open(filepath.Join(dir, "audit.log"), 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	tr.f.Close() // writes now fail
	tr.Record(Entry{Action: Reload, By: "api"})
	if v := testutil.ToFloat64(tr.errs); v != 1 {
		t.Errorf("gslb_audit_write_errors_total = %v, want 1", v)
	}
	if len(tr.Recent(0, "")) != 1 {
		t.Error("record not in the ring")
	}
	if _, err := Open(filepath.Join(dir, "missing", "audit.log"), 0, nil); err == nil || !strings.Contains(err.Error(), "audit file") {
		t.Errorf("Open in a missing folder: %v", err)
	}
}
