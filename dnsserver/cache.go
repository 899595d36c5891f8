package dnsserver

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"

	"github.com/gslb/gslb/zones"
)

// The answer cache keeps fast-path replies that are a function of what it
// can check cheaply, so that a repeated query is answered by a copy: the
// request bytes after the ID (flags, question, EDNS and its client subnet
// option), the snapshot, the GeoIP database, whether the client subnet is
// trusted from this source, the source address within the answer's scope
// (the subnet's address is in the request bytes), and which of the
// answering service's backends serve. It is consulted before the request
// is parsed: a hit is byte for byte a request the fast path has read.
// Answers with members chosen at random or in turn are never kept. Signed
// replies (written by miekg/dns) are kept too, until their signatures'
// window moves on (the next answer would carry new signatures). A cache
// belongs to one reader goroutine, so it needs no locks; a health change,
// a reload or a new database makes its entries miss rather than lie.

const (
	cacheEntries  = 1024 // a power of two
	cacheKeyMax   = 128  // longer requests are not kept
	cacheReplyMax = 512  // nor longer replies
)

// answerCache is a direct-mapped table of replies.
type answerCache struct {
	seed    maphash.Seed
	entries []cacheEntry
	snap    *zones.Snapshot // the snapshot of the entries
	pending uint64          // the hash of the last miss, for store
	geoGen  uint64          // the GeoIP generation of the last find
}

// cacheEntry is one kept reply.
type cacheEntry struct {
	hash    uint64
	snap    *zones.Snapshot // nil: empty
	geoGen  uint64
	client  netip.Prefix // the client addresses the reply holds for
	anyone  bool         // the reply holds for every client
	located bool         // the client address came from a trusted ECS option
	ecsSrc  bool         // the request has a client subnet of source > 0
	hasECS  bool         // the request has a client subnet option
	svc     *zones.Service
	mask    uint64 // svc's serving backends when the reply was made
	tally   zones.Tally
	rcode   uint8
	until   int64   // unix seconds from which the reply is stale (0: never): signatures renewed
	outcome outcome // for the metrics and the query log
	key     []byte  // request bytes after the ID
	reply   []byte  // with the ID of the request that made it
	keyBuf  [cacheKeyMax]byte
	replBuf [cacheReplyMax]byte
}

func newAnswerCache() *answerCache {
	return &answerCache{seed: maphash.MakeSeed(), entries: make([]cacheEntry, cacheEntries)}
}

// hashKey hashes the request after its ID and the source's network (/24,
// /56), which spreads the replies of one name over clients.
func (c *answerCache) hashKey(req []byte, src netip.Addr) uint64 {
	var net uint64
	if src.Is4() {
		a := src.As4()
		net = uint64(a[0])<<16 | uint64(a[1])<<8 | uint64(a[2])
	} else {
		a := src.As16()
		net = binary.BigEndian.Uint64(a[:])>>8 | 1<<63
	}
	return maphash.Bytes(c.seed, req[2:]) ^ zones.Mix64(net)
}

// find returns the entry answering req from src, or nil and the slot
// where its reply may be stored (nil if it must not be).
func (c *answerCache) find(req []byte, snap *zones.Snapshot, geoGen uint64, src netip.Addr, now int64) (hit, slot *cacheEntry) {
	if len(req) < 12 || len(req)-2 > cacheKeyMax {
		return nil, nil
	}
	c.release(snap)
	c.geoGen = geoGen
	h := c.hashKey(req, src)
	e := &c.entries[h&(cacheEntries-1)]
	if e.snap == snap && e.hash == h && e.geoGen == geoGen && (e.until == 0 || now < e.until) && string(e.key) == string(req[2:]) && e.valid(snap, src) {
		return e, nil
	}
	c.pending = h
	return nil, e
}

// release empties the cache if its entries are of another snapshot than
// snap (a reload), so that none keeps an old snapshot alive.
func (c *answerCache) release(snap *zones.Snapshot) {
	if snap != c.snap {
		if c.snap != nil {
			clear(c.entries)
		}
		c.snap = snap
	}
}

// valid tells whether the entry, stored for the same request bytes, holds
// for a query from src now.
func (e *cacheEntry) valid(snap *zones.Snapshot, src netip.Addr) bool {
	// The same trust in the client subnet: then a located entry was made
	// for the very subnet in the request; otherwise for the source.
	if e.ecsSrc && snap.Config.TrustECS(src) != e.located {
		return false
	}
	if !e.located && !e.anyone && !e.client.Contains(src) {
		return false
	}
	if e.svc != nil {
		if m, _ := e.svc.ServingMask(); m != e.mask {
			return false
		}
	}
	return true
}

// answer writes the kept reply into buf with the ID of req, counts it
// again in the answer metrics, and returns its rcode.
func (e *cacheEntry) answer(req, buf []byte, o *outcome, m *Metrics) (out []byte, rcode int) {
	if m != nil {
		m.cacheHits.Add(1)
	}
	out = append(buf[:0], e.reply...)
	out[0], out[1] = req[0], req[1]
	e.tally.Count()
	*o = e.outcome
	return out, int(e.rcode)
}

// store keeps reply, the response r to the request q read from req, in
// the slot the last find returned; o is what the metrics know of it.
func (c *answerCache) store(e *cacheEntry, req, reply []byte, q *request, r *response, o *outcome) {
	if len(reply) > cacheReplyMax {
		return
	}
	e.hash = c.pending
	e.snap, e.geoGen = c.snap, c.geoGen
	e.located, e.svc, e.mask, e.tally = r.located, r.svc, r.mask, r.a.Tally
	e.anyone = r.a.Scope == 0
	e.client = netip.PrefixFrom(r.addr, r.a.Scope).Masked()
	e.rcode = uint8(r.rcode)
	e.until = r.until
	e.hasECS, e.ecsSrc = q.hasECS, q.ecsSource()
	e.outcome = *o
	e.key = append(e.keyBuf[:0], req[2:]...)
	e.reply = append(e.replBuf[:0], reply...)
}
