package zones

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher is the one file watcher of a running server: the configuration
// and zone files, the GeoIP databases and the admin state each add a Watch
// to it, and it runs one fsnotify watcher for all of them.
//
// It watches folders, not files, because editors and tools such as
// geoipupdate replace a file by renaming a new one over it, which ends a
// watch on the file itself. Each Watch is called once per burst of events
// on its files, after a quiet time (the debounce), and then every Watch's
// folders are asked again, so that a zone folder added by a reload is
// followed.
type Watcher struct {
	log      *slog.Logger
	debounce time.Duration
	fs       *fsnotify.Watcher

	mu      sync.Mutex
	watches []*watchState
	watched map[string]bool // folders given to fsnotify
}

// Watch is one set of files to watch and what to do when they change.
type Watch struct {
	// Name says what the files are, for the log ("configuration", "GeoIP
	// database").
	Name string
	// Dirs returns the folders that hold the files. It is asked when the
	// watch is added and again after every call of Changed.
	Dirs func() []string
	// Match tells whether a changed path (a folder of Dirs joined with a
	// file name) is one of the files (nil: any *.toml file).
	Match func(path string) bool
	// Changed is called, from the watcher's goroutine, after the files
	// changed and then stayed quiet for Debounce.
	Changed func()
	// Debounce is the quiet time to wait for (0: the watcher's).
	Debounce time.Duration
}

type watchState struct {
	Watch
	dirs map[string]bool // the folders Dirs last returned, cleaned
	due  time.Time       // when Changed is due; zero: nothing pending
}

// NewWatcher returns a watcher that waits, by default, for debounce of
// quiet before it calls a Watch. Add the watches, then Run it.
func NewWatcher(log *slog.Logger, debounce time.Duration) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &Watcher{log: log, debounce: debounce, fs: fw, watched: map[string]bool{}}, nil
}

// Add sets up the watches of w's folders before it returns, so that no
// change made afterwards is missed. A folder that cannot be watched is
// logged and left out; Add fails only when none of w's folders can be.
func (wr *Watcher) Add(w Watch) error {
	if w.Match == nil {
		w.Match = func(name string) bool { return filepath.Ext(name) == ".toml" }
	}
	if w.Debounce <= 0 {
		w.Debounce = wr.debounce
	}
	st := &watchState{Watch: w}
	wr.mu.Lock()
	defer wr.mu.Unlock()
	wr.watches = append(wr.watches, st)
	wr.refresh(st)
	if len(st.dirs) == 0 {
		return errors.New("cannot watch any folder of the " + w.Name)
	}
	wr.sync()
	return nil
}

// refresh asks a watch for its folders again. wr.mu is held.
func (wr *Watcher) refresh(st *watchState) {
	st.dirs = map[string]bool{}
	for _, d := range st.Dirs() {
		d = canonicalDir(d)
		if !wr.watched[d] {
			if err := wr.fs.Add(d); err != nil {
				wr.log.Warn("cannot watch folder", "files", st.Name, "dir", d, "err", err)
				continue
			}
			wr.watched[d] = true
		}
		st.dirs[d] = true
	}
}

// canonicalDir is the one spelling of a folder: absolute, symbolic links
// resolved (when they resolve). Two spellings of one folder must not make
// two watches: fsnotify gives both the one inotify watch, reports its
// events under the later spelling only, and removing either ends both.
func canonicalDir(d string) string {
	if a, err := filepath.Abs(d); err == nil {
		d = a
	}
	if r, err := filepath.EvalSymlinks(d); err == nil {
		d = r
	}
	return filepath.Clean(d)
}

// sync drops the folders no watch needs any more. wr.mu is held.
func (wr *Watcher) sync() {
	for d := range wr.watched {
		needed := false
		for _, st := range wr.watches {
			needed = needed || st.dirs[d]
		}
		if !needed {
			wr.fs.Remove(d)
			delete(wr.watched, d)
		}
	}
}

// Run dispatches file events until ctx is done, then closes the watcher.
// Errors of the file system's notifications are logged.
func (wr *Watcher) Run(ctx context.Context) {
	defer wr.fs.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-wr.fs.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if next, ok := wr.event(ev.Name, time.Now()); ok {
				timer.Reset(time.Until(next))
			}
		case err, ok := <-wr.fs.Errors:
			if !ok {
				return
			}
			wr.log.Warn("file watch error", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: any file may have changed.
				if next, ok := wr.all(time.Now()); ok {
					timer.Reset(time.Until(next))
				}
			}
		case <-timer.C:
			if next, ok := wr.fire(time.Now()); ok {
				timer.Reset(time.Until(next))
			}
		}
	}
}

// event marks the watches whose files name is one of as due a debounce
// from now, and returns the earliest due time.
func (wr *Watcher) event(name string, now time.Time) (time.Time, bool) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	dir := filepath.Dir(name) // a folder as refresh spelt it
	for _, st := range wr.watches {
		if st.dirs[dir] && st.Match(name) {
			st.due = now.Add(st.Debounce)
		}
	}
	return wr.next()
}

// all marks every watch as due a debounce from now, and returns the
// earliest due time.
func (wr *Watcher) all(now time.Time) (time.Time, bool) {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	for _, st := range wr.watches {
		st.due = now.Add(st.Debounce)
	}
	return wr.next()
}

// next returns the earliest due time of a pending watch. wr.mu is held.
func (wr *Watcher) next() (time.Time, bool) {
	var first time.Time
	for _, st := range wr.watches {
		if !st.due.IsZero() && (first.IsZero() || st.due.Before(first)) {
			first = st.due
		}
	}
	return first, !first.IsZero()
}

// fire calls every watch that is due, then asks every watch for its
// folders again, and returns when the next one is due.
func (wr *Watcher) fire(now time.Time) (time.Time, bool) {
	wr.mu.Lock()
	var due []*watchState
	for _, st := range wr.watches {
		if !st.due.IsZero() && !st.due.After(now) {
			st.due = time.Time{}
			due = append(due, st)
		}
	}
	wr.mu.Unlock()
	// Called without the lock: a Changed may take long (a reload).
	for _, st := range due {
		st.Changed()
	}
	wr.mu.Lock()
	defer wr.mu.Unlock()
	if len(due) > 0 {
		for _, st := range wr.watches {
			wr.refresh(st)
		}
		wr.sync()
	}
	return wr.next()
}

// Dirs returns the folders that hold the snapshot's files, to watch for
// changes.
func (s *Snapshot) Dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range s.Files {
		d := filepath.Dir(f)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// FileMatch returns a Match that accepts exactly the named files, however
// their paths are written: as given, or in their folder's one spelling
// (canonicalDir), which is how the watcher reports them.
func FileMatch(files ...string) func(path string) bool {
	abs := map[string]bool{}
	for _, f := range files {
		if a, err := filepath.Abs(f); err == nil {
			abs[a] = true
			abs[filepath.Join(canonicalDir(filepath.Dir(a)), filepath.Base(a))] = true
		}
	}
	return func(path string) bool {
		a, err := filepath.Abs(path)
		return err == nil && abs[a]
	}
}
