package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Limits bound what clients can make the server hold.
type Limits struct {
	// TCPConnections caps concurrent TCP connections per listener; a
	// connection over the cap is closed at once.
	TCPConnections int
	// TCPConnectionsPerClient caps one client address's concurrent
	// connections over all listeners (0: no cap).
	TCPConnectionsPerClient int
	// TCPQueriesPerConnection closes a connection after so many queries
	// (0: no limit), so that one client cannot hold a connection forever.
	TCPQueriesPerConnection int
	// TCPIdleTimeout closes a TCP connection that sends no complete query
	// for so long.
	TCPIdleTimeout time.Duration
	// UDPReaders is how many sockets share each UDP address with
	// SO_REUSEPORT, each with a reader of its own (0: GOMAXPROCS).
	UDPReaders int
}

// Server runs UDP and TCP listeners on a set of addresses and answers with
// a Handler.
type Server struct {
	h      *Handler
	addrs  []string
	limits Limits
	log    *slog.Logger

	readers  []udpReader
	bound    []netip.AddrPort
	tcp      []*net.TCPListener
	wg       sync.WaitGroup
	closing  atomic.Bool
	stopOnce sync.Once

	// evicted counts idle connections closed to make room (evictFor);
	// refused, connections closed at once for want of room.
	evicted, refused atomic.Uint64

	mu        sync.Mutex
	conns     map[net.Conn]*tcpConn
	perClient map[netip.Addr]int // open connections by client address
}

// tcpConn tracks whether a connection is between queries, where shutdown
// may close it at once.
type tcpConn struct {
	busy   atomic.Bool
	active *atomic.Int64 // the listener's connection count
	client netip.Addr
	// last is when the connection last finished a query (or opened), in
	// Unix nanoseconds: the oldest idle one is closed first to make room.
	last atomic.Int64
	conn *net.TCPConn
	// evicting tells that evictFor closed it to make room; it no longer
	// counts as its client's (s.mu).
	evicting bool
}

// NewServer returns a server for the addresses; Start binds them.
func NewServer(h *Handler, addrs []string, limits Limits, log *slog.Logger) *Server {
	if limits.TCPConnections <= 0 {
		limits.TCPConnections = 1000
	}
	if limits.TCPIdleTimeout <= 0 {
		limits.TCPIdleTimeout = 10 * time.Second
	}
	return &Server{h: h, addrs: addrs, limits: limits, log: log, conns: map[net.Conn]*tcpConn{}, perClient: map[netip.Addr]int{}}
}

// Start binds UDP and TCP on every address and starts answering. If any
// address cannot be bound, nothing is left listening and the error names it.
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.Serve()
	return nil
}

// Listen binds UDP and TCP on every address, as Start does, without
// answering yet: Serve starts that. If any address cannot be bound,
// nothing is left listening and the error names it.
func (s *Server) Listen() error {
	var udp []*net.UDPConn // bound, not yet given to a reader
	for _, a := range s.addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			s.closeAll(udp)
			return fmt.Errorf("listen address %q: %w", a, err)
		}
		u, t, err := listenPair(ap)
		if err != nil {
			s.closeAll(udp)
			return err
		}
		s.tcp = append(s.tcp, t)
		bound := u.LocalAddr().(*net.UDPAddr).AddrPort()
		s.bound = append(s.bound, bound)
		// One UDP socket per CPU with SO_REUSEPORT, so that the kernel
		// spreads the queries and each reader has its own socket. The
		// port was first bound without it, which proves that no other
		// process holds it.
		n := s.limits.UDPReaders
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		if n == 1 {
			udp = append(udp, u)
			continue
		}
		u.Close()
		for range n {
			uc, err := listenReusePort(netip.AddrPortFrom(ap.Addr(), bound.Port()))
			if err != nil {
				s.closeAll(udp)
				return err
			}
			udp = append(udp, uc)
		}
	}
	for i, u := range udp {
		r, err := newUDPReader(u)
		if err != nil {
			s.closeAll(udp[i:])
			return err
		}
		s.readers = append(s.readers, r)
	}
	return nil
}

// Serve starts answering on the listeners Listen bound. Queries that
// arrived in between wait in the sockets' buffers (UDP) and the listen
// backlog (TCP), and are answered now.
func (s *Server) Serve() {
	for _, r := range s.readers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer r.close()
			r.serve(s)
		}()
	}
	for _, t := range s.tcp {
		s.wg.Add(1)
		go s.serveTCP(t)
	}
}

// udpReader answers the datagrams of one UDP socket: udp_linux.go and
// udp_other.go make them.
type udpReader interface {
	serve(s *Server) // answers until stop
	stop()           // makes serve return soon
	close()          // releases the socket, once serve has returned
}

// closeAll releases what a failed Start holds: udp are the sockets not
// yet given to a reader.
func (s *Server) closeAll(udp []*net.UDPConn) {
	for _, u := range udp {
		u.Close()
	}
	for _, r := range s.readers {
		r.close()
	}
	s.readers = nil
	for _, t := range s.tcp {
		t.Close()
	}
	s.tcp, s.bound = nil, nil
}

// listenPair binds UDP and TCP on the same address. With port 0 the
// system picks the UDP port, and the TCP port must then be free too: a few
// tries find a port free for both.
func listenPair(ap netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	// Name the family: Go would make "[::]" a dual-stack socket.
	family := "4"
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = "6"
	}
	lc := net.ListenConfig{Control: v6only}
	tries := 1
	if ap.Port() == 0 {
		tries = 20
	}
	var err error
	for range tries {
		var pc net.PacketConn
		pc, err = lc.ListenPacket(context.Background(), "udp"+family, ap.String())
		if err != nil {
			return nil, nil, fmt.Errorf("listen on %s/udp: %w", ap, err)
		}
		u := pc.(*net.UDPConn)
		tap := netip.AddrPortFrom(ap.Addr(), uint16(u.LocalAddr().(*net.UDPAddr).Port))
		var ln net.Listener
		ln, err = lc.Listen(context.Background(), "tcp"+family, tap.String())
		if err == nil {
			return u, ln.(*net.TCPListener), nil
		}
		u.Close()
		err = fmt.Errorf("listen on %s/tcp: %w", tap, err)
	}
	return nil, nil, err
}

// Addrs returns the bound addresses, one per listen address (UDP and TCP
// share the port).
func (s *Server) Addrs() []netip.AddrPort { return s.bound }

// listenReusePort binds one of a group of UDP sockets sharing a port.
func listenReusePort(ap netip.AddrPort) (*net.UDPConn, error) {
	family := "4"
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		family = "6"
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		if err := v6only(network, address, c); err != nil {
			return err
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp"+family, ap.String())
	if err != nil {
		return nil, fmt.Errorf("listen on %s/udp: %w", ap, err)
	}
	return pc.(*net.UDPConn), nil
}

func (s *Server) serveTCP(l *net.TCPListener) {
	defer s.wg.Done()
	var active atomic.Int64 // connections of this listener
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("tcp accept failed", "addr", l.Addr().String(), "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		client := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		tc := &tcpConn{active: &active, client: client, conn: c}
		tc.last.Store(time.Now().UnixNano())
		s.mu.Lock()
		refuse := s.closing.Load() || s.limits.TCPConnectionsPerClient > 0 && s.perClient[client] >= s.limits.TCPConnectionsPerClient
		if !refuse && active.Load() >= int64(s.limits.TCPConnections) {
			// The table is full: room for a client with fewer connections
			// than the one with most, by closing that one's oldest idle
			// connection; else no room.
			refuse = !s.evictFor(client)
		}
		if !refuse {
			s.conns[c] = tc
			s.perClient[client]++
		}
		s.mu.Unlock()
		if refuse {
			if !s.closing.Load() {
				s.refused.Add(1)
			}
			c.Close()
			continue
		}
		active.Add(1)
		s.wg.Add(1)
		go s.serveConn(c, tc)
	}
}

// TCPStats returns the TCP connections open now over every listener,
// those refused for want of room (the table full, or the client at its
// cap) and the idle ones closed to make room for another client.
func (s *Server) TCPStats() (open int, refused, evicted uint64) {
	s.mu.Lock()
	open = len(s.conns)
	s.mu.Unlock()
	return open, s.refused.Load(), s.evicted.Load()
}

// serveConn answers the queries of one TCP connection in order (RFC 7766:
// pipelined queries are read as they come; replies keep their IDs).
func (s *Server) serveConn(c *net.TCPConn, tc *tcpConn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if !tc.evicting {
			if s.perClient[tc.client]--; s.perClient[tc.client] <= 0 {
				delete(s.perClient, tc.client)
			}
		}
		s.mu.Unlock()
		// Count the connection gone before the client can see it close.
		tc.active.Add(-1)
		c.Close()
	}()
	var lenBuf [2]byte
	remote := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	msg := make([]byte, 0, 512)
	out := make([]byte, 0, 4096)
	idle := s.limits.TCPIdleTimeout
	for queries := 0; !s.closing.Load(); queries++ {
		if max := s.limits.TCPQueriesPerConnection; max > 0 && queries >= max {
			return
		}
		c.SetReadDeadline(time.Now().Add(idle))
		if s.closing.Load() {
			return // Shutdown may have set its deadline just before ours
		}
		if _, err := io.ReadFull(c, lenBuf[:1]); err != nil {
			return
		}
		if _, err := io.ReadFull(c, lenBuf[1:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n < 12 {
			return // not even a header: nothing sensible can follow
		}
		if cap(msg) < n {
			msg = make([]byte, n)
		}
		msg = msg[:n]
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		// Busy from a complete query to its reply: Shutdown lets that
		// finish, and interrupts a client stalled in the middle of one.
		tc.busy.Store(true)
		// Pack the reply behind room for its length, to send both in one
		// write.
		reply := s.h.Serve(msg, remote, TCP, out[2:cap(out)])
		if reply != nil {
			var frame []byte
			if &reply[0] == &out[2:cap(out)][0] {
				frame = out[:2+len(reply)]
			} else {
				frame = append(make([]byte, 2, 2+len(reply)), reply...)
			}
			binary.BigEndian.PutUint16(frame, uint16(len(reply)))
			c.SetWriteDeadline(time.Now().Add(idle))
			if _, err := c.Write(frame); err != nil {
				return
			}
		}
		tc.busy.Store(false)
		tc.last.Store(time.Now().UnixNano())
	}
}

// evictFor closes the oldest idle connection of the client with the most
// connections, if client has fewer than it, and reports whether it did.
// s.mu is held. The closed connection's goroutine finishes on its own;
// until then the table holds one more than its cap.
func (s *Server) evictFor(client netip.Addr) bool {
	var top netip.Addr
	most := 0
	for a, n := range s.perClient {
		if n > most || n == most && a.Less(top) {
			top, most = a, n
		}
	}
	if most <= s.perClient[client]+1 {
		return false // no client holds notably more than this one
	}
	var victim *tcpConn
	for _, tc := range s.conns {
		if tc.client != top || tc.busy.Load() || tc.evicting {
			continue
		}
		if victim == nil || tc.last.Load() < victim.last.Load() {
			victim = tc
		}
	}
	if victim == nil {
		return false
	}
	victim.conn.SetReadDeadline(time.Now()) // ends its read: it closes
	victim.evicting = true
	// No longer its client's: the next eviction weighs the client as it
	// will be.
	if s.perClient[top]--; s.perClient[top] <= 0 {
		delete(s.perClient, top)
	}
	s.evicted.Add(1)
	return true
}

// tcpConns returns how many TCP connections are open.
func (s *Server) tcpConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting queries, answers those in flight and returns
// when all listeners are closed or ctx is done. It may be called more than
// once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.closing.Store(true)
		for _, t := range s.tcp {
			t.Close()
		}
		// Wake the UDP readers; each finishes the batch it holds.
		for _, r := range s.readers {
			r.stop()
		}
		// Close idle TCP connections; busy ones finish their query.
		s.mu.Lock()
		for c, tc := range s.conns {
			if !tc.busy.Load() {
				c.SetReadDeadline(time.Now())
			}
		}
		s.mu.Unlock()
	})
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}
	return err
}

// v6only makes IPv6 sockets IPv6-only, so that "[::]:53" and "0.0.0.0:53"
// can both be listened on, as NSD and Knot allow.
func v6only(network, address string, c syscall.RawConn) error {
	if !strings.HasSuffix(network, "6") {
		return nil
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
