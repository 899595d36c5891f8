package dnsserver

import (
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gslb/gslb/zones"
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
}

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
}

// NewHandler returns a handler answering from snap, locating clients with
// geo (nil without a GeoIP database).
func NewHandler(snap *zones.Snapshot, ident Identity, geo zones.Locator, log *slog.Logger) *Handler {
	h := &Handler{ident: ident, geo: geo, log: log}
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
// for a message dropped at once.
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
	var o outcome
	var rcode int
	truncated := false
	reply, rcode, fast := h.serveFast(req, src.Addr(), t, buf, &o, c)
	if !fast {
		o = outcome{}
		r, limit := h.answer(req, src.Addr(), t, &o)
		reply = h.pack(r, limit, buf)
		rcode, truncated = r.Rcode, r.Truncated
	}
	if t == UDP && h.rrl != nil {
		switch h.rrl.check(src.Addr(), rrlKind(rcode), start) {
		case rrlDrop:
			reply = nil
		case rrlSlip:
			// Empty and truncated: a real client retries over TCP.
			r, limit := h.answer(req, src.Addr(), t, &outcome{})
			r.Answer, r.Ns = nil, nil
			var opt []dns.RR
			for _, rr := range r.Extra {
				if rr.Header().Rrtype == dns.TypeOPT {
					opt = append(opt, rr)
				}
			}
			r.Extra = opt
			r.Truncated = true
			reply, truncated = h.pack(r, limit, buf), false
		}
	}
	if h.metrics != nil {
		h.metrics.record(&o, t, rcode, truncated)
	}
	if h.querySample > 0 && h.queryN.Add(1)%h.querySample == 0 {
		h.log.Info("query", "client", src.String(), "transport", t.String(), "name", o.name, "qtype", dns.TypeToString[o.qtype],
			"rcode", rcodeName(rcode), "reply_bytes", len(reply), "truncated", truncated, "ecs", o.ecs, "fast", fast)
	}
	return reply, true
}

// query is a request unpacked and checked.
type query struct {
	msg   *dns.Msg
	opt   *dns.OPT // the client's OPT record, nil without EDNS
	name  string   // query name as received
	lower string   // query name in lower case
	qtype uint16
}

// answer runs the request pipeline. It returns the reply message and the
// largest size the reply may have on the wire.
func (h *Handler) answer(req []byte, src netip.Addr, t Transport, o *outcome) (*dns.Msg, int) {
	r, clientSize := h.build(req, src, t, nil, o)
	if t == TCP {
		return r, dns.MaxMsgSize
	}
	// The client takes 512 octets without EDNS; with EDNS the smaller of
	// its size and ours, never below 512 (RFC 6891 6.2.3, 6.2.5).
	limit := minUDPSize
	if clientSize > 0 {
		limit = min(clientSize, int(h.snap.Load().Config.UDPSize))
		limit = max(limit, minUDPSize)
	}
	return r, limit
}

// build unpacks and answers the request. clientSize is the UDP size the
// client advertised with EDNS, 0 without EDNS. A non-nil trace collects
// the decision in words.
func (h *Handler) build(req []byte, src netip.Addr, t Transport, trace *zones.Trace, o *outcome) (r *dns.Msg, clientSize int) {
	snap := h.snap.Load()
	m := new(dns.Msg)
	if err := m.Unpack(req); err != nil {
		// The header parsed (we checked its length) but the rest did not:
		// FORMERR, with an OPT record if the query had one.
		if rawHasOPT(req) {
			return formerr(req, snap.Config.UDPSize), minUDPSize
		}
		return formerr(req, 0), 0
	}
	q := query{msg: m}
	nopt := 0
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			nopt++
			q.opt = o
		}
	}
	r = reply(m)
	size := 0
	if q.opt != nil {
		r.Extra = append(r.Extra, h.opt(snap, q.opt))
		size = int(q.opt.UDPSize())
	}
	// Opcodes other than QUERY: NOTIMP, with every flag clear.
	if m.Opcode != dns.OpcodeQuery {
		r.Rcode = dns.RcodeNotImplemented
		r.RecursionDesired, r.CheckingDisabled = false, false
		if len(m.Question) != 1 {
			r.Question = nil
		}
		return r, size
	}
	if len(m.Question) != 1 || nopt > 1 || optMisplaced(m) || (q.opt != nil && q.opt.Hdr.Name != ".") {
		r.Rcode = dns.RcodeFormatError
		if len(m.Question) != 1 {
			r.Question = nil
		}
		return r, size
	}
	if q.opt != nil && q.opt.Version() != 0 {
		// RFC 6891 6.1.3: BADVERS, no answer, our version (0) in the OPT.
		r.Rcode = dns.RcodeBadVers
		return r, size
	}
	var subnet *ecs
	if q.opt != nil {
		rdata, _ := findOPT(req)
		var err error
		if subnet, err = parseECS(rdata); err != nil {
			r.Rcode = dns.RcodeFormatError
			return r, size
		}
	}
	qs := m.Question[0]
	q.name, q.qtype = qs.Name, qs.Qtype
	q.lower = strings.ToLower(qs.Name)
	o.name, o.qtype = qs.Name, qs.Qtype
	switch qs.Qclass {
	case dns.ClassINET:
	case dns.ClassCHAOS:
		h.chaos(snap, r, &q)
		return r, size
	default:
		r.Rcode = dns.RcodeRefused
		return r, size
	}
	switch q.qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Answers are computed per query; there is nothing to transfer.
		if t == TCP {
			r.Rcode = dns.RcodeRefused
		} else {
			r.Rcode = dns.RcodeNotImplemented
		}
		return r, size
	}
	z := snap.Zone(q.lower)
	if z != nil {
		o.zone = z.Name()
	}
	if z == nil {
		// Not ours: REFUSED, no referral upwards.
		r.Rcode = dns.RcodeRefused
		return r, size
	}
	zq := zones.Query{Name: q.name, Lower: q.lower, Type: q.qtype, Geo: h.geo, Trace: trace}
	src = src.Unmap()
	zq.Client = zones.NewClient(src, src.BitLen())
	located := false
	if subnet != nil && subnet.source > 0 && snap.Config.TrustECS(src) {
		zq.Client = zones.NewClient(subnet.addr, int(subnet.source))
		if a := subnet.addr; a.Is4In6() {
			// An IPv4-mapped subnet is an IPv4 client.
			zq.Client = zones.NewClient(a.Unmap(), max(0, int(subnet.source)-96))
		}
		located = true
	}
	if trace != nil {
		switch {
		case located:
			trace.Add("client: EDNS Client Subnet %s/%d (from resolver %s)", subnet.addr, subnet.source, src)
		case subnet != nil && subnet.source > 0:
			trace.Add("client: resolver %s (its client subnet option is not trusted: geo.ecs)", src)
		default:
			trace.Add("client: %s (no client subnet)", src)
		}
	}
	a := z.Lookup(&zq)
	fill(r, z, a)
	o.ecs = subnet != nil
	if subnet != nil {
		// RFC 7871 7.2.1: echo family, source prefix and address; SCOPE is
		// the prefix length the answer depended on.
		scope := 0
		if located {
			scope = a.Scope
		}
		o := r.Extra[len(r.Extra)-1].(*dns.OPT)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: subnet.family, SourceNetmask: subnet.source, SourceScope: uint8(scope)}
		switch subnet.family {
		case 1:
			e.Address = subnet.addr.AsSlice()
		case 2:
			e.Address = subnet.addr.AsSlice()
		default:
			e.Address = net.IPv4zero
		}
		o.Option = append(o.Option, e)
		if trace != nil {
			trace.Add("ECS scope in the reply: /%d", scope)
		}
	}
	return r, size
}

// reply starts a reply to m: ID, opcode and question echoed, RD and CD
// copied, QR set; AA, TC, RA, AD and Z clear.
func reply(m *dns.Msg) *dns.Msg {
	r := &dns.Msg{}
	r.Id = m.Id
	r.Response = true
	r.Opcode = m.Opcode
	r.RecursionDesired = m.RecursionDesired
	r.CheckingDisabled = m.CheckingDisabled
	r.Question = m.Question
	r.Compress = true
	return r
}

// fill maps a lookup result to the reply: the one place that decides rcode,
// AA and the authority section (RFC 1034 4.3.2, RFC 2308).
func fill(r *dns.Msg, z *zones.Zone, a zones.Answer) {
	r.Answer = a.Answer
	switch a.Result {
	case zones.Success:
		r.Authoritative = true
	case zones.NoData:
		r.Authoritative = true
		r.Ns = []dns.RR{z.NegativeSOA()}
	case zones.NXDomain:
		r.Authoritative = true
		r.Rcode = dns.RcodeNameError
		r.Ns = []dns.RR{z.NegativeSOA()}
	case zones.Delegation:
		r.Ns = a.Ns
	}
	if len(a.Extra) > 0 {
		// Keep the OPT record, if any, last.
		r.Extra = append(a.Extra[:len(a.Extra):len(a.Extra)], r.Extra...)
	}
}

// optMisplaced reports an OPT record outside the additional section.
func optMisplaced(m *dns.Msg) bool {
	for _, s := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range s {
			if rr.Header().Rrtype == dns.TypeOPT {
				return true
			}
		}
	}
	return false
}

// opt builds our OPT record for a reply to an EDNS query: our UDP size,
// version 0, DO copied, and only the options we support and were asked for.
func (h *Handler) opt(snap *zones.Snapshot, req *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(snap.Config.UDPSize)
	if req.Do() {
		o.SetDo()
	}
	for _, e := range req.Option {
		if e.Option() == optNSID && snap.Config.NSID {
			if id := h.identity(snap); id != "" {
				o.Option = append(o.Option, &dns.EDNS0_NSID{Code: optNSID, Nsid: hex.EncodeToString([]byte(id))})
			}
		}
	}
	return o
}

// identity returns the configured server identity, "" if hidden.
func (h *Handler) identity(snap *zones.Snapshot) string {
	if h.ident.ID != "" {
		return h.ident.ID
	}
	if snap.Config.Identity == "auto" {
		return h.ident.Hostname
	}
	return snap.Config.Identity
}

// chaos answers the CHAOS-class names that tell a server's identity and
// version; everything else in class CHAOS is refused.
func (h *Handler) chaos(snap *zones.Snapshot, r *dns.Msg, q *query) {
	var text string
	switch q.lower {
	case "version.bind.", "version.server.":
		text = snap.Config.Version
		if text == "auto" {
			text = h.ident.Version
		}
	case "id.server.", "hostname.bind.":
		text = h.identity(snap)
	}
	if text == "" {
		r.Rcode = dns.RcodeRefused
		return
	}
	r.Authoritative = true
	if q.qtype != dns.TypeTXT && q.qtype != dns.TypeANY {
		return
	}
	r.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{text},
	}}
}

// pack encodes the reply, fitting a UDP reply into the client's buffer:
// additional records go first, and if the answer still does not fit the
// reply is sent empty with TC set, so that the client retries over TCP
// rather than use a partial RRset.
func (h *Handler) pack(r *dns.Msg, limit int, buf []byte) []byte {
	out, err := r.PackBuffer(buf)
	if err != nil {
		h.log.Error("cannot pack reply", "err", err, "question", r.Question)
		return servfailMsg(r, buf)
	}
	if len(out) <= limit {
		return out
	}
	// Drop additional records, keeping the OPT record.
	var opt []dns.RR
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		}
	}
	if len(opt) != len(r.Extra) {
		r.Extra = opt
		if out, err = r.PackBuffer(buf); err == nil && len(out) <= limit {
			return out
		}
	}
	r.Truncated = true
	r.Answer, r.Ns = nil, nil
	out, err = r.PackBuffer(buf)
	if err != nil || len(out) > limit {
		r.Question = nil
		out, _ = r.PackBuffer(buf)
	}
	return out
}

// formerr answers a message whose header parsed but whose body did not.
// With udpSize > 0 it carries an OPT record advertising it.
func formerr(req []byte, udpSize uint16) *dns.Msg {
	r := &dns.Msg{}
	r.Id = uint16(req[0])<<8 | uint16(req[1])
	r.Response = true
	r.Opcode = int(req[2]>>3) & 0xF
	r.Rcode = dns.RcodeFormatError
	if udpSize > 0 {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(udpSize)
		r.Extra = []dns.RR{o}
	}
	return r
}

// servfail is the reply of last resort, built from the request bytes alone.
func servfail(req []byte) []byte {
	out := make([]byte, 12)
	copy(out, req[:4])
	out[2] = 0x80 | req[2]&0x79 // QR, opcode and RD kept
	out[3] = dns.RcodeServerFailure
	return out
}

func servfailMsg(r *dns.Msg, buf []byte) []byte {
	r.Answer, r.Ns, r.Extra = nil, nil, nil
	r.Rcode = dns.RcodeServerFailure
	out, err := r.PackBuffer(buf)
	if err != nil {
		return nil
	}
	return out
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
	r, _ := h.build(req, src, TCP, tr, &outcome{})
	return r, tr.Lines, nil
}
