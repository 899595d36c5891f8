package dnsserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/dchest/siphash"
)

// DNS Cookies (RFC 7873), with server cookies as RFC 9018 makes them so
// that every server holding the same secret makes and checks the same
// ones (BIND, Knot and NSD do): version 1, three reserved octets, a
// timestamp, and SipHash-2-4 of the client cookie, those fields and the
// client's address.
//
// gslb does not require cookies: a query without one, or with a server
// cookie it did not make (or too old), is answered as any other, with a
// fresh server cookie (RFC 7873 5.2.3, 5.2.4). A valid server cookie
// proves the client's address is not spoofed: such a query is exempt from
// response rate limiting.

const (
	optCookie = 10
	// cookieMaxAge is how long a server cookie stays valid (RFC 9018
	// 4.3: an hour); cookieSkew how far in the future its time may be.
	cookieMaxAge = time.Hour
	cookieSkew   = 5 * time.Minute
)

// cookie is the COOKIE option of a request.
type cookie struct {
	client    [8]byte
	server    [32]byte
	serverLen int // 0: the client sent no server cookie
}

// parseCookie reads a COOKIE option's data. RFC 7873 5.2.2: a client
// cookie alone (8 octets) or with a server cookie of 8 to 32 octets; any
// other length is FORMERR.
func parseCookie(data []byte) (cookie, bool) {
	var c cookie
	if len(data) != 8 && (len(data) < 16 || len(data) > 40) {
		return c, false
	}
	copy(c.client[:], data)
	c.serverLen = copy(c.server[:], data[8:])
	return c, true
}

// findCookie reads the COOKIE option from an OPT record's data: ok false
// when one is malformed or there are two.
func findCookie(rdata []byte) (c cookie, found, ok bool) {
	for off := 0; off+4 <= len(rdata); {
		code := binary.BigEndian.Uint16(rdata[off:])
		n := int(binary.BigEndian.Uint16(rdata[off+2:]))
		if off+4+n > len(rdata) {
			return c, found, false
		}
		if code == optCookie {
			if found {
				return c, true, false
			}
			if c, ok = parseCookie(rdata[off+4 : off+4+n]); !ok {
				return c, true, false
			}
			found = true
		}
		off += 4 + n
	}
	return c, found, true
}

// cookieSecret is the server secret of the cookies' hash.
type cookieSecret [16]byte

// newCookieSecret draws a random secret.
func newCookieSecret() cookieSecret {
	var s cookieSecret
	rand.Read(s[:])
	return s
}

// serverCookie makes the 16-octet server cookie for a client cookie and
// address at now.
func (s *cookieSecret) serverCookie(client [8]byte, addr netip.Addr, now time.Time) [16]byte {
	var sc [16]byte
	sc[0] = 1 // version; sc[1:4] reserved, zero
	binary.BigEndian.PutUint32(sc[4:], uint32(now.Unix()))
	binary.BigEndian.PutUint64(sc[8:], s.hash(client, sc[:8], addr))
	return sc
}

func (s *cookieSecret) hash(client [8]byte, head []byte, addr netip.Addr) uint64 {
	var in [8 + 8 + 16]byte
	copy(in[:], client[:])
	copy(in[8:], head)
	a := addr.Unmap().AsSlice()
	n := copy(in[16:], a)
	k0 := binary.LittleEndian.Uint64(s[:8])
	k1 := binary.LittleEndian.Uint64(s[8:])
	// The hash's 64 bits, in the byte order RFC 9018's examples use.
	h := siphash.Hash(k0, k1, in[:16+n])
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h)
	return binary.BigEndian.Uint64(b[:])
}

// valid tells whether c carries a server cookie this secret made for the
// client's address, recent enough.
func (s *cookieSecret) valid(c *cookie, addr netip.Addr, now time.Time) bool {
	if c.serverLen != 16 || c.server[0] != 1 {
		return false
	}
	t := time.Unix(int64(binary.BigEndian.Uint32(c.server[4:])), 0)
	if now.Sub(t) > cookieMaxAge || t.Sub(now) > cookieSkew {
		return false
	}
	want := s.serverCookie(c.client, addr, t)
	return subtle.ConstantTimeCompare(want[8:], c.server[8:16]) == 1
}
