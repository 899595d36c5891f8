//go:build !linux

package dnsserver

import (
	"errors"
	"net"
	"time"
)

// connUDP serves a net.UDPConn one datagram at a time. Linux has a batched
// reader outside the runtime's poller (udp_linux.go); this one keeps other
// systems working.
type connUDP struct{ c *net.UDPConn }

func newUDPReader(c *net.UDPConn) (udpReader, error) { return connUDP{c}, nil }

func (u connUDP) stop()  { u.c.SetReadDeadline(time.Now()) }
func (u connUDP) close() { u.c.Close() }

func (u connUDP) serve(s *Server) {
	in := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	r := s.h.NewReader()
	for {
		n, src, err := u.c.ReadFromUDPAddrPort(in)
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("udp read failed", "addr", u.c.LocalAddr().String(), "err", err)
			continue
		}
		if src.Port() == 0 {
			s.h.drop()
			continue
		}
		now := time.Now()
		reply := r.Serve(in[:n], src, out[:0], now)
		r.Done(time.Since(now))
		if len(reply) > 0 {
			u.c.WriteToUDPAddrPort(reply, src)
		}
	}
}
