package geo

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// handle counts the references to a DB: one held by the Locator while the
// DB is current, one per lookup using it. The DB is closed when the count
// reaches zero, so a replaced DB is closed only when the last lookup using
// it is done. The Locator's own reference keeps the count above zero for as
// long as a lookup can still take a valid reference: a lookup's reference is
// valid only if the handle was still current after it was counted.
type handle struct {
	db   *DB
	refs atomic.Int64
	once sync.Once
}

func newHandle(db *DB) *handle {
	h := &handle{db: db}
	h.refs.Store(1)
	return h
}

func (h *handle) release() {
	if h.refs.Add(-1) == 0 {
		h.once.Do(func() { h.db.Close() })
	}
}

// Locator holds the current database and swaps in a new one when Reload
// is called (the server's file watcher calls it when a file of Files
// changes). Lookups never wait for a reload.
type Locator struct {
	loc, asn  Source
	log       *slog.Logger
	cur       atomic.Pointer[handle]
	reloads   atomic.Uint64
	lookups   atomic.Uint64
	misses    atomic.Uint64
	mu        sync.Mutex // serialises reloads
	closeOnce sync.Once
}

// NewLocator opens the databases. A missing or corrupt database is an
// error here; on later reloads, the old database stays.
func NewLocator(loc, asn Source, log *slog.Logger) (*Locator, error) {
	db, err := Open(loc, asn)
	if err != nil {
		return nil, err
	}
	l := &Locator{loc: loc, asn: asn, log: log}
	l.cur.Store(newHandle(db))
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

// Reload opens the databases again, swaps them in and logs the new
// database's type and build time. On error the old ones stay, and the error
// is the caller's to log.
func (l *Locator) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	db, err := Open(l.loc, l.asn)
	if err != nil {
		return err
	}
	l.cur.Swap(newHandle(db)).release()
	l.reloads.Add(1)
	l.log.Info("GeoIP database reloaded", "type", db.Type, "build_time", db.BuildTime.UTC().Format(time.RFC3339))
	return nil
}

// Close gives up the Locator's reference to the current database, which is
// closed once no lookup uses it. Calling Close again does nothing.
func (l *Locator) Close() {
	l.closeOnce.Do(func() { l.cur.Load().release() })
}

// Files returns the paths of the database files, to watch for changes:
// none for databases read from memory.
func (l *Locator) Files() []string {
	var out []string
	for _, s := range []Source{l.loc, l.asn} {
		if s.Path != "" {
			out = append(out, s.Path)
		}
	}
	return out
}
