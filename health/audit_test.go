package health

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gslb/gslb/internal/audit"
	"github.com/gslb/gslb/internal/hlc"
)

// summary is a record as the tests compare it.
func summary(e audit.Entry) string {
	s := e.Action + " " + e.Backend + " by " + e.By
	if e.From != "" {
		s += " from " + e.From
	}
	if e.Via != "" {
		s += " via " + e.Via
	}
	return s
}

func summaries(t *audit.Trail) []string {
	var out []string
	for _, e := range t.Recent(0, "") {
		out = append(out, summary(e))
	}
	return out
}

// TestAdminAudit: every way an override changes is recorded once, with
// who, from where, and via which member.
func TestAdminAudit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr, _ := audit.Open("", 0, log)
	file := filepath.Join(t.TempDir(), "admin.toml")
	a := NewAdmin(file, 0, log)
	a.Audit(tr)
	a.Replicate(hlc.New("ns1", nil), func([]Change) {})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Set("www.example.test/a", &Override{State: AdminDrain, Reason: "kernel"}, "admin token from 192.0.2.9:4242"))
	must(a.Set("www.example.test/a", &Override{State: AdminDrain, Reason: "kernel"}, "admin token from 192.0.2.9:4242")) // the same: no record
	must(a.Set("www.example.test/b", &Override{State: AdminDown, Expires: time.Now().Add(-time.Second)}, "ctl"))
	a.Expire(time.Now())
	must(a.Set("www.example.test/a", nil, "admin token from 192.0.2.9:4243"))
	// A hand edit of the state file.
	must(os.WriteFile(file, []byte("[backends.\"www.example.test/c\"]\nstate = \"up\"\n"), 0o600))
	must(a.LoadFile())
	// From the fleet: set on ns2 by an operator there, cleared on ns3.
	other := hlc.New("ns2", nil)
	a.Merge([]Change{{ID: "www.example.test/d", Override: &Override{State: AdminDrain, Source: "admin token from 198.51.100.1:1"}, Stamp: other.Now()}}, "cluster")
	third := hlc.New("ns3", nil)
	a.Merge([]Change{{ID: "www.example.test/d", Stamp: third.Now(), Source: "admin token from 198.51.100.2:2"}}, "cluster")
	want := []string{
		"override_set www.example.test/a by admin token from 192.0.2.9:4242",
		"override_set www.example.test/b by ctl",
		"override_expired www.example.test/b by expiry",
		"override_cleared www.example.test/a by admin token from 192.0.2.9:4243",
		"override_set www.example.test/c by state file",
		"override_set www.example.test/d by admin token from 198.51.100.1:1 via ns2",
		"override_cleared www.example.test/d by admin token from 198.51.100.2:2 via ns3",
	}
	if got := summaries(tr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := tr.Recent(0, "www.example.test/a")[0].Detail; d["state"] != "drain" || d["reason"] != "kernel" {
		t.Errorf("detail of the first record: %v", d)
	}
}

// TestRegistryAudit: registrations, changes, deregistrations (with and
// without drain), leases run out and changes from the fleet are
// recorded; plain renewals are not. A backend deregistered with drain
// takes no renewal and is removed at its time.
func TestRegistryAudit(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tr, _ := audit.Open("", 0, log)
	r := NewRegistry("", log)
	r.Audit(tr)
	var gone []string
	r.OnGone(func(id string) { gone = append(gone, id) })
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	reg := func(name, addr string) Registration {
		return Registration{ID: "api/" + name, Service: "api", Name: name, Address: addr, Weight: 1, Lease: 10 * time.Second, Source: "registration token t:1 from 127.0.0.1:5"}
	}
	put := func(x Registration) {
		t.Helper()
		if _, _, err := r.Put(x, 10, now); err != nil {
			t.Fatal(err)
		}
	}
	put(reg("w1", "192.0.2.1"))
	put(reg("w1", "192.0.2.1")) // a renewal: not recorded
	put(reg("w1", "192.0.2.11"))
	put(reg("w2", "192.0.2.2"))
	put(reg("w3", "192.0.2.3"))
	if _, err := r.Remove("api/w1", "admin token from 192.0.2.9:1"); err != nil {
		t.Fatal(err)
	}
	kept, ok, err := r.Retire("api/w2", now.Add(5*time.Second), "registration token t:1 from 127.0.0.1:6", now)
	if err != nil || !ok || !kept.Retire.Equal(now.Add(5*time.Second)) || !kept.Expires.Equal(kept.Retire) {
		t.Fatalf("Retire: %+v %v %v", kept, ok, err)
	}
	if _, _, err := r.Put(reg("w2", "192.0.2.2"), 10, now.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "deregistered with drain") {
		t.Errorf("a renewal while retiring: %v", err)
	}
	if again, _, _ := r.Retire("api/w2", now.Add(9*time.Second), "x", now.Add(time.Second)); !again.Retire.Equal(kept.Retire) {
		t.Errorf("a second Retire moved the time to %v", again.Retire)
	}
	r.Expire(now.Add(5 * time.Second))  // w2 retires
	r.Expire(now.Add(10 * time.Second)) // w3's lease runs out
	// From the fleet.
	in := reg("w4", "192.0.2.4")
	in.Renewed, in.Expires = now.Add(11*time.Second), now.Add(21*time.Second)
	r.Merge(RegistrationChange{ID: in.ID, Registration: &in, At: in.Renewed, Node: "ns2"}, now.Add(11*time.Second))
	r.Merge(RegistrationChange{ID: in.ID, At: now.Add(12 * time.Second), By: "admin token from 198.51.100.1:1", Node: "ns3"}, now.Add(12*time.Second))
	want := []string{
		"registered api/w1 by registration token t:1 from 127.0.0.1:5",
		"reregistered api/w1 by registration token t:1 from 127.0.0.1:5",
		"registered api/w2 by registration token t:1 from 127.0.0.1:5",
		"registered api/w3 by registration token t:1 from 127.0.0.1:5",
		"deregistered api/w1 by admin token from 192.0.2.9:1",
		"retiring api/w2 by registration token t:1 from 127.0.0.1:6",
		"deregistered api/w2 by drain end",
		"lease_expired api/w3 by lease",
		"registered api/w4 by registration token t:1 from 127.0.0.1:5 via ns2",
		"deregistered api/w4 by admin token from 198.51.100.1:1 via ns3",
	}
	if got := summaries(tr); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g := strings.Join(gone, " "); g != "api/w1 api/w2 api/w3" {
		t.Errorf("OnGone called for %s, want api/w1 api/w2 api/w3 (a removal from the fleet is cleared where it was made)", g)
	}
	if d := tr.Recent(0, "api/w1")[1].Detail; d["address"] != "192.0.2.11" || d["lease"] != "10s" {
		t.Errorf("detail of the re-registration: %v", d)
	}
}
