//go:build !linux

package dnsserver

import (
	"errors"
	"net"
	"time"
)

// serveUDP answers datagrams one at a time, until shutdown. Linux has a
// batched version (udp_linux.go); this one keeps other systems working.
func (s *Server) serveUDP(c *net.UDPConn) {
	defer s.wg.Done()
	in := make([]byte, 65535)
	out := make([]byte, 0, 4096)
	r := s.h.NewReader()
	for {
		n, src, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("udp read failed", "addr", c.LocalAddr().String(), "err", err)
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
			c.WriteToUDPAddrPort(reply, src)
		}
	}
}
