package dnsserver

import (
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
	"github.com/miekg/dns"
)

// Transport tells how a query arrived.
type Transport uint8

// Transports.
const (
	UDP Transport = iota
	TCP
)

// String names the transport.
func (t Transport) String() string {
	if t == TCP {
		return "tcp"
	}
	return "udp"
}

// Identity holds what the handler answers about itself.
type Identity struct {
	// Hostname stands in for an identity configured as "auto".
	Hostname string
	// Version stands in for a version configured as "auto".
	Version string
	// ID, when set, is the identity whatever the configuration says (the
	// -id flag: instances sharing one configuration tell themselves apart).
	ID string
}

// Handler answers DNS queries from the current snapshot. It is safe for
// concurrent use; Swap replaces the snapshot while queries run.
type Handler struct {
	snap    atomic.Pointer[zones.Snapshot]
	ident   Identity
	geo     zones.Locator
	geoGen  reloader // geo, when it can tell its database changed
	log     *slog.Logger
	panics  atomic.Uint64
	metrics *Metrics
	rrl     *RRL

	querySample uint64 // log one query in so many; 0: none
	queryN      atomic.Uint64

	rand func() uint64 // random numbers of weighted choices; nil: math/rand/v2

	cookies cookieSecret // the secret of server cookies (cookie.go)

	sigs *dnssec.Cache // the signatures of signed zones (sign.go)

	signClock func() time.Time // the time signatures are made for; nil: time.Now
}

// SetSignatureCache makes the handler keep signatures in c, which a
// server keeps across reloads. Call it before serving.
func (h *Handler) SetSignatureCache(c *dnssec.Cache) { h.sigs = c }

// SetSigningClock makes the handler choose signature windows for the
// times now gives instead of the system clock (nil: the system clock).
// Only a test build uses it: one whose clock is held, standing for a
// server that stopped re-signing. Call it before serving.
func (h *Handler) SetSigningClock(now func() time.Time) { h.signClock = now }

// signingTime is the time the handler signs for.
func (h *Handler) signingTime() time.Time {
	if h.signClock != nil {
		return h.signClock()
	}
	return time.Now()
}

// SignatureCache is the cache of signatures the handler uses.
func (h *Handler) SignatureCache() *dnssec.Cache { return h.sigs }

// SetCookieSecret makes server cookies with secret rather than the random
// one the handler drew: instances answering for one address share it, so
// that a cookie one made the others accept (RFC 9018). Call it before
// serving.
func (h *Handler) SetCookieSecret(secret [16]byte) { h.cookies = secret }

// SetRand makes weighted choices draw from rand (nil: math/rand/v2), so
// that gslb test can repeat a run from a seed. rand must be safe for the
// concurrency the handler is used with. Call it before serving.
func (h *Handler) SetRand(rand func() uint64) { h.rand = rand }

// SetRRL rate-limits UDP responses with r (nil: no limit). Call it before
// serving.
func (h *Handler) SetRRL(r *RRL) { h.rrl = r }

// SetMetrics makes the handler count into m. Call it before serving.
func (h *Handler) SetMetrics(m *Metrics) { h.metrics = m }

// SetQueryLog logs one query in every n at info level (0: none). Call it
// before serving.
func (h *Handler) SetQueryLog(n uint64) { h.querySample = n }

// reloader counts the reloads of a GeoIP database; *geo.Locator is one.
type reloader interface{ Reloads() uint64 }

// outcome is what the metrics and the query log need to know of a query.
type outcome struct {
	stats *zoneStats // the zone's counters when known, else looked up by zone
	zone  string
	name  string
	qtype uint16
	ecs   bool
	// cookie tells that the query carried a valid server cookie: its
	// source address is proven, so rate limiting leaves it alone.
	cookie bool
}

// NewHandler returns a handler answering from snap, locating clients with
// geo (nil without a GeoIP database).
func NewHandler(snap *zones.Snapshot, ident Identity, geo zones.Locator, log *slog.Logger) *Handler {
	h := &Handler{ident: ident, geo: geo, log: log, cookies: newCookieSecret(), sigs: dnssec.NewCache(0)}
	h.geoGen, _ = geo.(reloader)
	h.snap.Store(snap)
	return h
}

// Swap installs a new snapshot; queries already running finish on the old
// one.
func (h *Handler) Swap(s *zones.Snapshot) { h.snap.Store(s) }

// Snapshot returns the snapshot in use.
func (h *Handler) Snapshot() *zones.Snapshot { return h.snap.Load() }

// Panics returns how many queries ended in a recovered panic.
func (h *Handler) Panics() uint64 { return h.panics.Load() }

// drop counts a datagram dropped before it reached Serve.
func (h *Handler) drop() {
	if h.metrics != nil {
		h.metrics.dropped.Add(1)
	}
}

// EDNS option codes we act on.
const (
	optNSID = 3
)

// minUDPSize is the payload every DNS client accepts (RFC 1035 2.3.4).
const minUDPSize = 512

// Serve answers one query from src. req is the message as received; buf,
// if large enough, holds the reply. It returns the reply, or nil when the
// message must not be answered (a response, or bytes that are not a DNS
// header).
func (h *Handler) Serve(req []byte, src netip.AddrPort, t Transport, buf []byte) []byte {
	start := time.Now()
	reply, handled := h.serve(nil, req, src, t, buf, start)
	if handled && h.metrics != nil {
		h.metrics.latency[t].observe(time.Since(start), 1)
	}
	return reply
}

// Reader answers the datagrams of one UDP reader goroutine. It keeps an
// answer cache of its own, and times queries a batch at a time, so that
// the clock is read twice a batch rather than twice a query. It is not
// safe for concurrent use.
type Reader struct {
	h     *Handler
	cache *answerCache
	n     int // queries answered since the last Done
}

// NewReader returns a reader answering with h.
func (h *Handler) NewReader() *Reader {
	return &Reader{h: h, cache: newAnswerCache()}
}

// Idle tells the reader it has nothing to read: if a reload replaced the
// snapshot its answer cache holds, it lets the cache go, so that an idle
// reader does not keep an old snapshot alive until its next query. The
// UDP readers call it when their receive timeout ends a wait.
func (r *Reader) Idle() {
	r.cache.release(r.h.Snapshot())
}

// Serve answers one datagram as Handler.Serve does; now is when its batch
// was received.
func (r *Reader) Serve(req []byte, src netip.AddrPort, buf []byte, now time.Time) []byte {
	reply, handled := r.h.serve(r.cache, req, src, UDP, buf, now)
	if handled {
		r.n++
	}
	return reply
}

// Done records the time the queries since the last Done took together, as
// that much each of them, in the latency histogram.
func (r *Reader) Done(took time.Duration) {
	if r.n == 0 || r.h.metrics == nil {
		r.n = 0
		return
	}
	r.h.metrics.latency[UDP].observe(took/time.Duration(r.n), r.n)
	r.n = 0
}

// serve answers a query with an answer cache (nil: none); handled is false
// for a message dropped at once. The steps: a cheap header check; recovery
// from a panic; the answer cache (UDP); read, decide, encode and keep;
// response rate limiting; metrics and the query log.
func (h *Handler) serve(c *answerCache, req []byte, src netip.AddrPort, t Transport, buf []byte, start time.Time) (reply []byte, handled bool) {
	// Step 1: a cheap header check before anything else.
	if len(req) < 12 || req[2]&0x80 != 0 {
		h.drop()
		return nil, false
	}
	// Step 2: a panic while answering costs this query, not the server.
	defer func() {
		if p := recover(); p != nil {
			h.panics.Add(1)
			if h.metrics != nil {
				h.metrics.panics.Add(1)
			}
			h.log.Error("panic while answering a query", "panic", p, "stack", string(debug.Stack()))
			reply, handled = servfail(req), true
		}
	}()
	snap := h.snap.Load()
	var o outcome
	var rcode int
	truncated, fast := false, true
	// Step 3: the answer cache. A request it answers is byte for byte one
	// answered before, so it need not be read again.
	var slot *cacheEntry
	if c != nil && t == UDP && snap.Config.AnswerCache {
		var e *cacheEntry
		if e, slot = c.find(req, snap, h.geoGeneration(), src.Addr().Unmap(), start.Unix()); e != nil {
			reply, rcode = e.answer(req, buf, &o, h.metrics)
		}
	}
	// Step 4: read, decide, encode, and keep the reply if it may be.
	if reply == nil {
		reply, rcode, truncated, fast = h.answerWire(snap, req, src.Addr(), t, buf, c, slot, false, &o)
	}
	// Step 5: response rate limiting.
	if t == UDP && h.rrl != nil && !o.cookie {
		switch h.rrl.check(src.Addr(), rrlKind(rcode), start) {
		case rrlDrop:
			reply = nil
		case rrlSlip:
			// Empty and truncated: a real client retries over TCP.
			reply, truncated = h.slip(snap, req, src.Addr(), buf), false
		}
	}
	// Step 6: metrics and the query log.
	if h.metrics != nil {
		h.metrics.record(&o, t, rcode, truncated)
	}
	if h.querySample > 0 && h.queryN.Add(1)%h.querySample == 0 {
		h.log.Info("query", "client", src.String(), "transport", t.String(), "name", o.name, "qtype", dns.TypeToString[o.qtype],
			"rcode", rcodeName(rcode), "reply_bytes", len(reply), "truncated", truncated, "ecs", o.ecs, "fast", fast)
	}
	return reply, true
}

// geoGeneration counts the GeoIP database's reloads, 0 if it cannot tell.
func (h *Handler) geoGeneration() uint64 {
	if h.geoGen == nil {
		return 0
	}
	return h.geoGen.Reloads()
}

// answerWire answers req from snap: the fast reader when it takes the
// request (unless general is set), else miekg/dns's; then decide; then the
// fast encoder when it takes the response, else miekg/dns's. A reply the
// cache may keep is stored in slot (nil: none). fast tells whether the fast
// reader and encoder made the reply.
func (h *Handler) answerWire(snap *zones.Snapshot, req []byte, src netip.Addr, t Transport, buf []byte,
	c *answerCache, slot *cacheEntry, general bool, o *outcome) (out []byte, rcode int, truncated, fast bool) {
	var q request
	var r response
	read := !general && readFast(req, &q)
	if !read {
		q = request{}
		readMsg(req, &q)
		slot = nil
	}
	r.recordServing = slot != nil
	h.decide(snap, &q, src, t, nil, &r)
	o.cookie = r.cookieOK
	if q.problem == 0 {
		o.name, o.qtype = q.name, q.qtype
		if r.zone != nil {
			o.zone, o.ecs = r.zone.Name(), q.hasECS
		}
	}
	if read {
		if out, fast = encodeFast(req, &q, &r, buf); fast {
			if slot != nil && h.metrics != nil {
				h.metrics.cacheMisses.Add(1) // a reply the cache could have had
			}
			if slot != nil && r.keepable() {
				if h.metrics != nil {
					o.stats = h.metrics.zone(o.zone)
				}
				c.store(slot, req, out, &q, &r, o)
			}
			return out, r.rcode, false, true
		}
	}
	out, truncated = h.encodeMsg(&q, &r, buf)
	if r.until != 0 && read && slot != nil && !truncated && r.cookie == nil && r.nsid == "" && r.keepable() {
		// A signed reply: kept until its signatures' window moves on.
		if h.metrics != nil {
			h.metrics.cacheMisses.Add(1)
			o.stats = h.metrics.zone(o.zone)
		}
		c.store(slot, req, out, &q, &r, o)
	}
	return out, r.rcode, truncated, false
}

// slip is the reply rate limiting sends instead of dropping one: the
// answer without records, truncated, so that a real client retries over
// TCP.
func (h *Handler) slip(snap *zones.Snapshot, req []byte, src netip.Addr, buf []byte) []byte {
	r, limit := h.answerMsg(snap, req, src, UDP, nil)
	// No records but the OPT record, which msg puts last.
	extra := r.Extra
	r.Answer, r.Ns, r.Extra = nil, nil, nil
	if n := len(extra); n > 0 && extra[n-1].Header().Rrtype == dns.TypeOPT {
		r.Extra = extra[n-1:]
	}
	r.Truncated = true
	return h.pack(r, limit, buf)
}

// answerMsg reads and answers req with miekg/dns, not the fast reader and
// encoder: the path of rare replies and of explain. It returns the reply
// message and the largest size it may have on the wire.
func (h *Handler) answerMsg(snap *zones.Snapshot, req []byte, src netip.Addr, t Transport, trace *zones.Trace) (*dns.Msg, int) {
	var q request
	var r response
	readMsg(req, &q)
	h.decide(snap, &q, src, t, trace, &r)
	return r.msg(&q), r.limit
}

// answer is answerMsg on the snapshot in use, for tests.
func (h *Handler) answer(req []byte, src netip.Addr, t Transport) (*dns.Msg, int) {
	return h.answerMsg(h.snap.Load(), req, src, t, nil)
}

// Explain answers m as if it came from src over TCP (so nothing is
// truncated) and returns the reply with the decision in plain words: the
// same code path as serving, with a trace attached.
func (h *Handler) Explain(m *dns.Msg, src netip.Addr) (*dns.Msg, []string, error) {
	req, err := m.Pack()
	if err != nil {
		return nil, nil, err
	}
	tr := &zones.Trace{}
	r, _ := h.answerMsg(h.snap.Load(), req, src, TCP, tr)
	return r, tr.Lines, nil
}
