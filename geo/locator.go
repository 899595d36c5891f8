package geo

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// handle counts the lookups using a DB, so that a replaced DB is closed
// only when the last of them is done.
type handle struct {
	db      *DB
	refs    atomic.Int64
	retired atomic.Bool
	once    sync.Once
}

func (h *handle) release() {
	if h.refs.Add(-1) == 0 && h.retired.Load() {
		h.close()
	}
}

func (h *handle) close() { h.once.Do(func() { h.db.Close() }) }

// Locator holds the current database and swaps in a new one when its file
// changes. Lookups never wait for a reload.
type Locator struct {
	loc, asn Source
	log      *slog.Logger
	cur      atomic.Pointer[handle]
	reloads  atomic.Uint64
	lookups  atomic.Uint64
	misses   atomic.Uint64
	mu       sync.Mutex // serialises reloads
}

// NewLocator opens the databases. A missing or corrupt database is an
// error here; on later reloads, the old database stays.
func NewLocator(loc, asn Source, log *slog.Logger) (*Locator, error) {
	db, err := Open(loc, asn)
	if err != nil {
		return nil, err
	}
	l := &Locator{loc: loc, asn: asn, log: log}
	l.cur.Store(&handle{db: db})
	return l, nil
}

// acquire returns the current handle with a reference taken.
func (l *Locator) acquire() *handle {
	for {
		h := l.cur.Load()
		h.refs.Add(1)
		if l.cur.Load() == h {
			return h
		}
		// Swapped meanwhile: let go and take the new one.
		h.release()
	}
}

// Lookup locates an address in the current database, with its AS number.
func (l *Locator) Lookup(ip netip.Addr) Location { return l.lookup(ip, true) }

// LookupLocation locates an address without the ASN database.
func (l *Locator) LookupLocation(ip netip.Addr) Location { return l.lookup(ip, false) }

func (l *Locator) lookup(ip netip.Addr, withASN bool) Location {
	h := l.acquire()
	loc := h.db.lookup(ip, withASN)
	h.release()
	l.lookups.Add(1)
	if !loc.Found {
		l.misses.Add(1)
	}
	return loc
}

// Stats returns how many lookups were made and how many found nothing.
func (l *Locator) Stats() (lookups, misses uint64) { return l.lookups.Load(), l.misses.Load() }

// DB describes the current database.
func (l *Locator) DB() (dbType string, buildTime time.Time, asnType string) {
	h := l.acquire()
	defer h.release()
	return h.db.Type, h.db.BuildTime, h.db.ASNType
}

// Reloads returns how many times a new database was swapped in.
func (l *Locator) Reloads() uint64 { return l.reloads.Load() }

// Reload opens the databases again and swaps them in. On error the old
// ones stay.
func (l *Locator) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	db, err := Open(l.loc, l.asn)
	if err != nil {
		return err
	}
	old := l.cur.Swap(&handle{db: db})
	old.retired.Store(true)
	if old.refs.Load() == 0 {
		old.close()
	}
	l.reloads.Add(1)
	return nil
}

// Close closes the current database once no lookup uses it.
func (l *Locator) Close() {
	h := l.cur.Load()
	h.retired.Store(true)
	if h.refs.Load() == 0 {
		h.close()
	}
}

// Watch reloads the databases when their files change, until ctx is done.
// It watches the folders (a new database is usually renamed into place) and
// waits for a quiet moment before reloading.
func (l *Locator) Watch(ctx context.Context, debounce time.Duration) error {
	if l.loc.Path == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	files := map[string]bool{}
	for _, s := range []Source{l.loc, l.asn} {
		if s.Path == "" {
			continue
		}
		abs, _ := filepath.Abs(s.Path)
		files[abs] = true
		if err := w.Add(filepath.Dir(abs)); err != nil {
			return err
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if abs, _ := filepath.Abs(ev.Name); files[abs] && ev.Op != fsnotify.Chmod {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			l.log.Warn("GeoIP watch error", "err", err)
		case <-timer.C:
			if err := l.Reload(); err != nil {
				l.log.Error("GeoIP database reload failed; still using the previous one", "err", err)
				continue
			}
			t, bt, _ := l.DB()
			l.log.Info("GeoIP database reloaded", "type", t, "build_time", bt.UTC().Format(time.RFC3339))
		}
	}
}
