package zones

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// newTestWatcher is a watcher that logs nowhere, with the given debounce.
func newTestWatcher(t *testing.T, debounce time.Duration) *Watcher {
	t.Helper()
	wr, err := NewWatcher(slog.New(slog.NewTextHandler(io.Discard, nil)), debounce)
	if err != nil {
		t.Fatal(err)
	}
	return wr
}

// TestWatcherDispatch: one watcher, three watches in two folders; each is
// called for its own files only, once per burst, and a folder a watch adds
// later is followed.
func TestWatcherDispatch(t *testing.T) {
	conf, data := t.TempDir(), t.TempDir()
	extra := filepath.Join(conf, "more")
	if err := os.Mkdir(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	wr := newTestWatcher(t, 50*time.Millisecond)
	var configs, geos, admins atomic.Int32
	var withExtra atomic.Bool
	mmdb := filepath.Join(data, "City.mmdb")
	state := filepath.Join(data, "admin-overrides.toml")
	add := func(w Watch) {
		if err := wr.Add(w); err != nil {
			t.Fatal(err)
		}
	}
	add(Watch{Name: "configuration", Dirs: func() []string {
		if withExtra.Load() {
			return []string{conf, extra}
		}
		return []string{conf}
	}, Changed: func() { configs.Add(1) }})
	add(Watch{Name: "GeoIP database", Dirs: func() []string { return []string{data} }, Match: FileMatch(mmdb), Changed: func() { geos.Add(1) }})
	add(Watch{Name: "admin state", Dirs: func() []string { return []string{data} }, Match: FileMatch(state), Changed: func() { admins.Add(1) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { wr.Run(ctx); close(done) }()
	defer func() {
		cancel()
		<-done
	}()

	write := func(p string) {
		t.Helper()
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (config %d, geo %d, admin %d)", what, configs.Load(), geos.Load(), admins.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// A burst of writes to one zone file: one call.
	for range 5 {
		write(filepath.Join(conf, "zone.toml"))
	}
	wait("the configuration watch", func() bool { return configs.Load() == 1 })
	// Not a *.toml file: nobody is called. The GeoIP file: only its watch.
	write(filepath.Join(conf, "notes.txt"))
	tmp := filepath.Join(data, ".City.mmdb.tmp")
	write(tmp)
	if err := os.Rename(tmp, mmdb); err != nil { // as geoipupdate replaces it
		t.Fatal(err)
	}
	wait("the GeoIP watch", func() bool { return geos.Load() == 1 })
	write(state)
	wait("the admin watch", func() bool { return admins.Load() == 1 })
	if configs.Load() != 1 || geos.Load() != 1 {
		t.Errorf("calls: config %d, geo %d; want 1 each (another watch's file changed)", configs.Load(), geos.Load())
	}

	// A folder the configuration names after a reload is watched from the
	// next call on.
	withExtra.Store(true)
	write(filepath.Join(conf, "zone.toml"))
	wait("the second configuration call", func() bool { return configs.Load() == 2 })
	write(filepath.Join(extra, "new.toml"))
	wait("a change in the added folder", func() bool { return configs.Load() == 3 })
}

func TestWatcherNoFolder(t *testing.T) {
	wr := newTestWatcher(t, time.Millisecond)
	defer wr.fs.Close()
	missing := filepath.Join(t.TempDir(), "missing")
	err := wr.Add(Watch{Name: "GeoIP database", Dirs: func() []string { return []string{missing} }, Changed: func() {}})
	if err == nil || err.Error() != "cannot watch any folder of the GeoIP database" {
		t.Errorf("err %v", err)
	}
}

// TestWatcherOneFolderManySpellings: watches that name one folder in
// different ways (relative, absolute, through a symbolic link) all hear
// its changes, also after one of them stops naming it.
func TestWatcherOneFolderManySpellings(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	wr := newTestWatcher(t, 20*time.Millisecond)
	var rel, abs, linked atomic.Int32
	for _, w := range []Watch{
		{Name: "relative", Dirs: func() []string { return []string{"."} }, Match: FileMatch("a.toml"), Changed: func() { rel.Add(1) }},
		{Name: "absolute", Dirs: func() []string { return []string{dir} }, Match: FileMatch(filepath.Join(dir, "b.toml")), Changed: func() { abs.Add(1) }},
		{Name: "linked", Dirs: func() []string {
			// Asked again after its first call: it stops naming the folder.
			if linked.Load() > 0 {
				return nil
			}
			return []string{link}
		}, Match: FileMatch(filepath.Join(link, "c.toml")), Changed: func() { linked.Add(1) }},
	} {
		if err := wr.Add(w); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { wr.Run(ctx); close(done) }()
	defer func() {
		cancel()
		<-done
	}()
	touch := func(name string, n *atomic.Int32, want int32) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for n.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d calls, want %d (relative %d, absolute %d, linked %d)", name, n.Load(), want, rel.Load(), abs.Load(), linked.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	touch("a.toml", &rel, 1)
	touch("b.toml", &abs, 1)
	touch("c.toml", &linked, 1)
	// The linked watch no longer names the folder: the others still hear.
	touch("a.toml", &rel, 2)
	touch("b.toml", &abs, 2)
}
