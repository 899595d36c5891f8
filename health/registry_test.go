package health

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRegistry: a registration, its renewals (the first one and changes
// call OnChange, later ones only refresh the lease), the bound per
// service, expiry, removal, and a restart that keeps what has not expired.
func TestRegistry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "registrations.json")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := NewRegistry(file, log)
	changes := 0
	r.OnChange(func() { changes++ })
	now := time.Unix(1_800_000_000, 0)
	web := func(name string) Registration {
		return Registration{ID: "api.example.com/" + name, Service: "api.example.com", Name: name, Address: "10.0.0.7", Weight: 1, Lease: 10 * time.Second, Source: "agent"}
	}
	if _, _, err := r.Put(Registration{ID: "x/y", Lease: time.Second}, 2, now); err == nil || err.Error() != "lease_ttl 1s: want 5s..1h0m0s" {
		t.Errorf("a 1 s lease: %v", err)
	}
	got, created, err := r.Put(web("web-7"), 2, now)
	if err != nil || !created || !got.Expires.Equal(now.Add(10*time.Second)) || got.Renewals != 0 || changes != 1 {
		t.Fatalf("register: %+v %v %v, %d changes", got, created, err, changes)
	}
	got, created, err = r.Put(web("web-7"), 2, now.Add(3*time.Second))
	if err != nil || created || got.Renewals != 1 || !got.Registered.Equal(now) || !got.Expires.Equal(now.Add(13*time.Second)) || changes != 2 {
		t.Fatalf("first renewal: %+v %v %v, %d changes", got, created, err, changes)
	}
	if _, _, err = r.Put(web("web-7"), 2, now.Add(6*time.Second)); err != nil || changes != 2 {
		t.Fatalf("a later renewal: %v, %d changes (want none)", err, changes)
	}
	moved := web("web-7")
	moved.Weight = 3
	if _, _, err = r.Put(moved, 2, now.Add(7*time.Second)); err != nil || changes != 3 {
		t.Fatalf("a changed weight: %v, %d changes", err, changes)
	}
	if _, _, err := r.Put(web("web-8"), 2, now.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Put(web("web-9"), 2, now.Add(7*time.Second)); !errors.Is(err, ErrRegistryFull) {
		t.Errorf("a third registration with max 2: %v", err)
	}
	// A restart: the file has both, as of their last write.
	again := NewRegistry(file, log)
	if err := again.Load(now.Add(8*time.Second), 1<<20); err != nil {
		t.Fatal(err)
	}
	if all := again.All(); len(all) != 2 || all[0].Name != "web-7" || all[0].Weight != 3 || all[1].Name != "web-8" {
		t.Errorf("after a restart: %+v", all)
	}
	// web-8's lease runs out at +17 s, web-7's at +17 s too (renewed at +7).
	if gone := r.Expire(now.Add(16 * time.Second)); len(gone) != 0 {
		t.Errorf("expired early: %+v", gone)
	}
	if ok, err := r.Remove("api.example.com/web-8", "test"); !ok || err != nil {
		t.Errorf("remove: %v %v", ok, err)
	}
	if gone := r.Expire(now.Add(17 * time.Second)); len(gone) != 1 || gone[0].Name != "web-7" {
		t.Errorf("expired at +17 s: %+v", gone)
	}
	if len(r.All()) != 0 {
		t.Errorf("left: %+v", r.All())
	}
	// A restart after the leases ran out keeps nothing.
	late := NewRegistry(file, log)
	if err := late.Load(now.Add(time.Hour), 1<<20); err != nil || len(late.All()) != 0 {
		t.Errorf("after the leases: %v %+v", err, late.All())
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file: %v %v", fi.Mode(), err)
	}
}
