package zones

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// StartWatch calls reload when a file that match accepts changes, until
// ctx is done (match nil: any *.toml file). It watches the directories that
// hold the files, because editors often replace a file by renaming a new one
// over it, and calls reload once per burst of events (after debounce of
// quiet). dirs returns the current set of directories to watch; it is
// asked again after every reload so that new zone folders are followed.
//
// StartWatch sets the watches up before it returns, so that no change made
// afterwards is missed, and returns the loop to run.
func StartWatch(ctx context.Context, log *slog.Logger, debounce time.Duration, dirs func() []string, match func(name string) bool, reload func()) (run func() error, err error) {
	if match == nil {
		match = func(name string) bool { return filepath.Ext(name) == ".toml" }
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	watched := map[string]bool{}
	sync := func() {
		want := map[string]bool{}
		for _, d := range dirs() {
			want[d] = true
			if !watched[d] {
				if err := w.Add(d); err != nil {
					log.Warn("cannot watch configuration folder", "dir", d, "err", err)
					continue
				}
				watched[d] = true
			}
		}
		for d := range watched {
			if !want[d] {
				w.Remove(d)
				delete(watched, d)
			}
		}
	}
	sync()
	return func() error {
		defer w.Close()
		return watchLoop(ctx, log, w, debounce, match, reload, sync)
	}, nil
}

func watchLoop(ctx context.Context, log *slog.Logger, w *fsnotify.Watcher, debounce time.Duration, match func(string) bool, reload, sync func()) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !match(ev.Name) || ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			log.Warn("configuration watch error", "err", err)
		case <-timer.C:
			reload()
			sync()
		}
	}
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
