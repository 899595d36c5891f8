package main

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// limitListener caps the HTTP side's connections, in all and per client
// address, so that idle or slow HTTP clients cannot take the file
// descriptors DNS over TCP needs. A connection over a cap is closed as
// soon as it is accepted (the client sees a reset) and counted.
type limitListener struct {
	net.Listener
	max, perClient int

	mu      sync.Mutex
	total   int
	clients map[netip.Addr]int
	refused atomic.Uint64
}

func newLimitListener(l net.Listener, max, perClient int) *limitListener {
	return &limitListener{Listener: l, max: max, perClient: perClient, clients: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := remoteAddr(c)
		l.mu.Lock()
		over := l.total >= l.max || l.clients[addr] >= l.perClient
		if !over {
			l.total++
			l.clients[addr]++
		}
		l.mu.Unlock()
		if over {
			l.refused.Add(1)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l, addr: addr}, nil
	}
}

// Refused is how many connections the caps closed.
func (l *limitListener) Refused() uint64 { return l.refused.Load() }

// release gives a closed connection's place back.
func (l *limitListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.clients[addr]--; l.clients[addr] <= 0 {
		delete(l.clients, addr)
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitConn releases its place once, when closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	addr netip.Addr
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.addr) })
	return err
}

// httpConnCap is the HTTP connection cap in effect: the configured one,
// but never more than a quarter of the files the process may open, so
// that HTTP cannot take what DNS over TCP needs.
func httpConnCap(configured int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 0 && rl.Cur/4 < uint64(configured) {
		return max(1, int(rl.Cur/4))
	}
	return configured
}
