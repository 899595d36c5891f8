package dnsserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gslb/gslb/zones"
	"github.com/miekg/dns"
)

// testConfig is the main configuration of the tests; %s is replaced by
// extra settings.
const testConfig = `zones = ["example.com.toml"]
[identity]
id = "ns1.test"
[limits]
tcp_idle_timeout = "300ms"
tcp_connections = 4
`

// testZone is the zone the DNS semantics tests query.
const testZone = `origin = "example.com."
ttl = 300
ns = ["ns1", "ns2.example.net."]
[soa]
rname = "hostmaster"
negative_ttl = 60
ttl = 3600
[records]
ns1 = { A = "192.0.2.1", AAAA = "2001:db8::1" }
"@" = { MX = "10 mail", TXT = "apex" }
mail = { A = "192.0.2.25" }
"a.b" = { A = "192.0.2.3" }
alias = { CNAME = "mail" }
dangling = { CNAME = "missing" }
"*.wild" = { A = "192.0.2.99" }
"sub.wild" = { TXT = "exists" }
child = { NS = ["ns.child", "ns.example.net."] }
"ns.child" = { A = "192.0.2.53" }
big = { TXT = [
  "0123456789012345678901234567890123456789012345678901234567890-00",
  "0123456789012345678901234567890123456789012345678901234567890-01",
  "0123456789012345678901234567890123456789012345678901234567890-02",
  "0123456789012345678901234567890123456789012345678901234567890-03",
  "0123456789012345678901234567890123456789012345678901234567890-04",
  "0123456789012345678901234567890123456789012345678901234567890-05",
  "0123456789012345678901234567890123456789012345678901234567890-06",
  "0123456789012345678901234567890123456789012345678901234567890-07",
  "0123456789012345678901234567890123456789012345678901234567890-08",
  "0123456789012345678901234567890123456789012345678901234567890-09",
] }
[services.www]
ttl = 30
backends = [
  { name = "a", address = "192.0.2.10" },
  { name = "b", address = "192.0.2.11" },
  { name = "c", address = "2001:db8::10" },
]
`

// loadSnapshot compiles a configuration from text.
func loadSnapshot(t testing.TB, config, zone string) *zones.Snapshot {
	t.Helper()
	fsys := fstest.MapFS{
		"gslb.toml":        {Data: []byte(config)},
		"example.com.toml": {Data: []byte(zone)},
	}
	s, err := zones.Load(zones.FSFiles(fsys), "gslb.toml")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer runs a server on loopback ports chosen by the system and
// returns its address; it stops when the test ends.
func startServer(t testing.TB, snap *zones.Snapshot) (*Server, string) {
	t.Helper()
	h := NewHandler(snap, Identity{Hostname: "host.test", Version: "gslb test"}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{
		TCPConnections: snap.Config.TCPConnections,
		TCPIdleTimeout: snap.Config.TCPIdleTimeout,
	}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, s.Addrs()[0].String()
}

// exchangeRaw sends a raw message over UDP and returns the raw reply, or
// nil when none came within the timeout.
func exchangeRaw(t testing.TB, addr string, msg []byte, timeout time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// exchange sends m over the network ("udp" or "tcp") and unpacks the reply.
func exchange(t testing.TB, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return r
}

// TestUDPReaders checks the UDP readers on real sockets: several readers
// share the port, a datagram longer than a receive slot is read whole,
// many datagrams at once are all answered, and shutdown stops the readers
// at once and frees the port.
func TestUDPReaders(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{UDPReaders: 3}, discard())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	if len(s.readers) != 3 {
		t.Errorf("%d UDP readers, want 3", len(s.readers))
	}

	t.Run("a long datagram is read whole", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetQuestion("mail.example.com.", dns.TypeA)
		m.SetEdns0(4096, false)
		pad := &dns.EDNS0_PADDING{Padding: make([]byte, 3000)}
		m.IsEdns0().Option = append(m.IsEdns0().Option, pad)
		req, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if len(req) < 3000 {
			t.Fatalf("request of %d bytes: want one longer than a receive slot", len(req))
		}
		reply := exchangeRaw(t, addr, req, 2*time.Second)
		r := new(dns.Msg)
		if err := r.Unpack(reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("rcode %s, %d answers; want NOERROR and 1", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	})

	t.Run("a burst is answered in full", func(t *testing.T) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		const n = 150 // within the client's socket buffer
		for i := range n {
			c.Write(rawQuery(uint16(i), 0x0100, 1, "mail.example.com.", dns.TypeA, nil, 0))
		}
		seen := map[uint16]bool{}
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for len(seen) < n {
			_, err := c.Read(buf)
			if err != nil {
				break
			}
			seen[uint16(buf[0])<<8|uint16(buf[1])] = true
		}
		// Loopback drops nothing below the socket buffers' size.
		if len(seen) != n {
			t.Errorf("%d of %d queries answered", len(seen), n)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 100*time.Millisecond { // below the 200 ms receive timeout: woken
		t.Errorf("shutdown took %v", took)
	}
	// The sockets are closed: the port can be bound again without
	// SO_REUSEPORT.
	pc, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("port still held after shutdown: %v", err)
	}
	pc.Close()
}

// TestListenThenServe: between Listen and Serve the sockets are bound
// but nothing is answered; a query sent then waits in the socket and is
// answered once Serve starts, over UDP and TCP.
func TestListenThenServe(t *testing.T) {
	snap := loadSnapshot(t, testConfig, testZone)
	h := NewHandler(snap, Identity{Hostname: "host.test", Version: "gslb test"}, nil, discard())
	s := NewServer(h, []string{"127.0.0.1:0"}, Limits{UDPReaders: 1}, discard())
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	addr := s.Addrs()[0].String()
	type result struct {
		r   *dns.Msg
		err error
		at  time.Time
	}
	ask := func(network string) chan result {
		ch := make(chan result, 1)
		go func() {
			m := new(dns.Msg)
			m.SetQuestion("www.example.com.", dns.TypeA)
			r, _, err := (&dns.Client{Net: network, Timeout: 3 * time.Second}).Exchange(m, addr)
			ch <- result{r, err, time.Now()}
		}()
		return ch
	}
	udp, tcp := ask("udp"), ask("tcp")
	time.Sleep(300 * time.Millisecond)
	for _, ch := range []chan result{udp, tcp} {
		select {
		case r := <-ch:
			t.Fatalf("answered before Serve: %v %v", r.r, r.err)
		default:
		}
	}
	served := time.Now()
	s.Serve()
	for name, ch := range map[string]chan result{"udp": udp, "tcp": tcp} {
		r := <-ch
		if r.err != nil || r.r.Rcode != dns.RcodeSuccess || len(r.r.Answer) == 0 {
			t.Fatalf("%s: after Serve: %v %v", name, r.r, r.err)
		}
		if r.at.Before(served) {
			t.Errorf("%s: answered before Serve", name)
		}
	}
}
