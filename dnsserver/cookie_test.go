package dnsserver

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestServerCookieRFC9018 checks the server cookie against RFC 9018's
// example (appendix A.1), so that gslb makes and checks the same cookies
// as BIND, Knot and NSD do with the same secret.
func TestServerCookieRFC9018(t *testing.T) {
	secret, _ := hex.DecodeString("e5e973e5a6b2a43f48e7dc849e37bfcf")
	var s cookieSecret
	copy(s[:], secret)
	var client [8]byte
	b, _ := hex.DecodeString("2464c4abcf10c957")
	copy(client[:], b)
	got := s.serverCookie(client, netip.MustParseAddr("198.51.100.100"), time.Unix(1559731985, 0))
	if want := "010000005cf79f111f8130c3eee29480"; hex.EncodeToString(got[:]) != want {
		t.Errorf("server cookie %x, want %s", got, want)
	}
}

func TestCookieValid(t *testing.T) {
	s := newCookieSecret()
	addr := netip.MustParseAddr("192.0.2.7")
	now := time.Unix(1_800_000_000, 0)
	c := cookie{client: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, serverLen: 16}
	sc := s.serverCookie(c.client, addr, now)
	copy(c.server[:], sc[:])
	for _, k := range []struct {
		name string
		c    cookie
		addr netip.Addr
		at   time.Time
		want bool
	}{
		{"fresh", c, addr, now.Add(time.Minute), true},
		{"an IPv4-mapped address", c, netip.MustParseAddr("::ffff:192.0.2.7"), now, true},
		{"another address", c, netip.MustParseAddr("192.0.2.8"), now, false},
		{"older than an hour", c, addr, now.Add(61 * time.Minute), false},
		{"from the future", c, addr, now.Add(-10 * time.Minute), false},
		{"tampered", func() cookie { x := c; x.server[15] ^= 1; return x }(), addr, now, false},
		{"another client cookie", func() cookie { x := c; x.client[0] ^= 1; return x }(), addr, now, false},
		{"none", cookie{client: c.client}, addr, now, false},
		{"another secret", c, addr, now, false},
	} {
		sec := s
		if k.name == "another secret" {
			sec = newCookieSecret()
		}
		if got := sec.valid(&k.c, k.addr, k.at); got != k.want {
			t.Errorf("%s: valid %v, want %v", k.name, got, k.want)
		}
	}
}

func TestParseCookie(t *testing.T) {
	for n := 0; n <= 48; n++ {
		_, ok := parseCookie(make([]byte, n))
		want := n == 8 || n >= 16 && n <= 40
		if ok != want {
			t.Errorf("%d octets: ok %v, want %v", n, ok, want)
		}
	}
}

// cookieOpt is a COOKIE option of data.
func cookieOpt(data []byte) []byte {
	return append([]byte{0, optCookie, 0, byte(len(data))}, data...)
}

// replyCookie returns the COOKIE option data of a reply, nil if none.
func replyCookie(t *testing.T, r *dns.Msg) []byte {
	t.Helper()
	o := r.IsEdns0()
	if o == nil {
		return nil
	}
	for _, e := range o.Option {
		if c, ok := e.(*dns.EDNS0_COOKIE); ok {
			b, err := hex.DecodeString(c.Cookie)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	return nil
}

// TestCookies: a client cookie gets a server cookie back, which the
// server then takes as valid; a query with only a COOKIE and no question
// gets NOERROR with the cookies (RFC 7873 5.4); a COOKIE of a wrong
// length is FORMERR; a bad server cookie is answered as usual with a
// fresh one (no BADCOOKIE: gslb does not require cookies); a valid one
// exempts the query from response rate limiting.
func TestCookies(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	src := netip.MustParseAddrPort("192.0.2.66:5353")
	client := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	ask := func(opt []byte, qd int) *dns.Msg {
		return unpack(t, h.Serve(rawQuery(7, 0, qd, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, opt), 1), src, UDP, nil))
	}
	r := ask(cookieOpt(client), 1)
	got := replyCookie(t, r)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || len(got) != 24 || string(got[:8]) != string(client) || got[8] != 1 {
		t.Fatalf("client cookie alone: rcode %s, %d answers, cookie %x", dns.RcodeToString[r.Rcode], len(r.Answer), got)
	}
	var c cookie
	c, _ = parseCookie(got)
	if !h.cookies.valid(&c, src.Addr(), time.Now()) {
		t.Error("the server cookie given is not valid to the server")
	}
	// The server cookie sent back: answered, with a valid cookie again.
	if r := ask(cookieOpt(got), 1); r.Rcode != dns.RcodeSuccess || len(replyCookie(t, r)) != 24 {
		t.Errorf("with the server cookie: %v", r)
	}
	// A bad server cookie: answered as usual, with a fresh cookie.
	bad := append([]byte{}, got...)
	bad[23] ^= 0xff
	if r := ask(cookieOpt(bad), 1); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || string(replyCookie(t, r)[:8]) != string(client) {
		t.Errorf("bad server cookie: %v", r)
	}
	// Only a cookie, no question.
	if r := ask(cookieOpt(client), 0); r.Rcode != dns.RcodeSuccess || len(r.Question) != 0 || len(replyCookie(t, r)) != 24 {
		t.Errorf("no question, a cookie: %v", r)
	}
	// No question, no cookie: FORMERR as before.
	if r := ask(nil, 0); r.Rcode != dns.RcodeFormatError {
		t.Errorf("no question, no cookie: %s", dns.RcodeToString[r.Rcode])
	}
	for _, n := range []int{0, 7, 9, 15, 41} {
		if r := ask(cookieOpt(make([]byte, n)), 1); r.Rcode != dns.RcodeFormatError {
			t.Errorf("a COOKIE of %d octets: %s, want FORMERR", n, dns.RcodeToString[r.Rcode])
		}
	}
	// Rate limiting: 1,000 queries with the valid cookie are all answered
	// in full; without it most are not.
	h.SetRRL(NewRRL(RRLConfig{Answers: 10, NXDomains: 10, Errors: 10, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56}, DefaultRRLTableSize))
	full := func(opt []byte) int {
		n := 0
		for range 1000 {
			out := h.Serve(rawQuery(7, 0, 1, "www.example.com.", dns.TypeA, rawOPT(1232, 0, 0, opt), 1), src, UDP, nil)
			if out != nil && len(unpack(t, out).Answer) == 2 {
				n++
			}
		}
		return n
	}
	if n := full(cookieOpt(got)); n != 1000 {
		t.Errorf("with a valid server cookie %d of 1000 answered in full, want all", n)
	}
	if n := full(cookieOpt(client)); n > 100 {
		t.Errorf("with a client cookie only %d of 1000 answered in full, want the limit's", n)
	}
}
