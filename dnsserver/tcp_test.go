package dnsserver

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func frame(t *testing.T, qname string, id uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)
	m.Id = id
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func readFrame(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read message: %v", err)
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTCP(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	srv, addr := startServer(t, snap)
	// waitIdle waits until the server has seen every client close.
	waitIdle := func() {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for srv.tcpConns() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d TCP connections still open", srv.tcpConns())
			}
			time.Sleep(time.Millisecond)
		}
	}

	t.Run("pipelined queries", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var all []byte
		names := []string{"www.example.com.", "mail.example.com.", "nope.example.com.", "example.org."}
		for i, n := range names {
			all = append(all, frame(t, n, uint16(100+i))...)
		}
		if _, err := c.Write(all); err != nil {
			t.Fatal(err)
		}
		want := map[uint16]int{100: dns.RcodeSuccess, 101: dns.RcodeSuccess, 102: dns.RcodeNameError, 103: dns.RcodeRefused}
		for range names {
			r := readFrame(t, c)
			rc, ok := want[r.Id]
			if !ok || rc != r.Rcode {
				t.Errorf("reply id %d rcode %s unexpected", r.Id, dns.RcodeToString[r.Rcode])
			}
			delete(want, r.Id)
		}
	})

	t.Run("byte at a time", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetNoDelay(true)
		for _, b := range frame(t, "www.example.com.", 42) {
			if _, err := c.Write([]byte{b}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		if r := readFrame(t, c); r.Id != 42 || len(r.Answer) != 2 {
			t.Errorf("reply %v", r)
		}
	})

	t.Run("idle timeout closes", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if err == nil {
			t.Fatal("read data from an idle connection")
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("connection still open after 3s; idle timeout is 300ms")
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("closed after %v, before the idle timeout", d)
		}
	})

	t.Run("connection cap", func(t *testing.T) {
		// The cap is 4: four idle connections are held, a fifth is
		// closed at once, and after they go a new one is served.
		waitIdle()
		var held []net.Conn
		for range 4 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, c)
			c.Write(frame(t, "www.example.com.", 1))
			readFrame(t, c)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(frame(t, "www.example.com.", 2))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 2)); err == nil {
			t.Error("a connection over the cap was served")
		}
		c.Close()
		for _, h := range held {
			h.Close()
		}
		waitIdle()
		r := exchange(t, "tcp", addr, func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("www.example.com.", dns.TypeA); return m }())
		if len(r.Answer) != 2 {
			t.Errorf("after the cap cleared: %v", r)
		}
	})

	t.Run("short length prefix closes", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0, 3, 1, 2, 3})
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := c.Read(make([]byte, 2)); err == nil {
			t.Errorf("read %d bytes after a 3-byte message", n)
		}
	})
}

func TestTCPPerClientAndQueryLimits(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{TCPConnections: 100, TCPConnectionsPerClient: 2, TCPQueriesPerConnection: 3, TCPIdleTimeout: 2 * time.Second}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	addr := s.Addrs()[0].String()

	// A connection answers 3 queries, then is closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.Write(frame(t, "www.example.com.", uint16(i)))
		readFrame(t, c)
	}
	c.Write(frame(t, "www.example.com.", 9))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 2)); err == nil {
		t.Error("a fourth query was answered; the limit is 3 per connection")
	}
	c.Close()

	// Two connections per client address; a third is closed at once.
	deadline := time.Now().Add(2 * time.Second)
	for s.tcpConns() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var held []net.Conn
	for range 2 {
		c, _ := net.Dial("tcp", addr)
		c.Write(frame(t, "www.example.com.", 1))
		readFrame(t, c)
		held = append(held, c)
	}
	third, _ := net.Dial("tcp", addr)
	third.Write(frame(t, "www.example.com.", 2))
	third.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := third.Read(make([]byte, 2)); err == nil {
		t.Error("a third connection from one client was served; the cap is 2")
	}
	third.Close()
	for _, c := range held {
		c.Close()
	}
}

// TestTCPFullTableMakesRoom: when one client fills the connection table,
// another client is still served: the oldest idle connection of the
// client with most is closed to make room; busy ones are not (issue 18).
func TestTCPFullTableMakesRoom(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{TCPConnections: 10, TCPConnectionsPerClient: 64, TCPIdleTimeout: 10 * time.Second}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	addr := s.Addrs()[0].String()
	dialFrom := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Client A fills the table, one query each so that each is known.
	var held []net.Conn
	for i := range 10 {
		c := dialFrom("127.0.0.2")
		c.Write(frame(t, "www.example.com.", uint16(i)))
		readFrame(t, c)
		held = append(held, c)
		time.Sleep(2 * time.Millisecond) // distinct ages
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// Client B is served.
	b := dialFrom("127.0.0.3")
	defer b.Close()
	b.Write(frame(t, "www.example.com.", 42))
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	if r := readFrame(t, b); r.Id != 42 {
		t.Errorf("client B: id %d", r.Id)
	}
	// A's oldest connection was the one closed.
	held[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := held[0].Read(make([]byte, 1)); err == nil {
		t.Error("A's oldest connection is still open")
	}
	held[9].Write(frame(t, "www.example.com.", 7))
	held[9].SetReadDeadline(time.Now().Add(2 * time.Second))
	if r := readFrame(t, held[9]); r.Id != 7 {
		t.Errorf("A's newest connection: id %d", r.Id)
	}
	if n := s.evicted.Load(); n != 1 {
		t.Errorf("%d connections closed to make room, want 1", n)
	}
	// A itself gets no room at A's own expense: an eleventh from A is
	// refused.
	c := dialFrom("127.0.0.2")
	defer c.Close()
	c.Write(frame(t, "www.example.com.", 3))
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 2)); err == nil {
		t.Error("the client with most connections got an eleventh")
	}
	if open, refused, evicted := s.TCPStats(); open != 10 || refused != 1 || evicted != 1 {
		t.Errorf("TCPStats: %d open, %d refused, %d evicted; want 10, 1, 1", open, refused, evicted)
	}
}
