package dnsserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many datagrams one system call moves.
const batch = 64

// Buffer layout. Receive and reply slots are small and packed, so that a
// batch touches few cache lines and pages; their strides are odd numbers
// of cache lines, so that the starts of the datagrams fall in different
// cache sets. A datagram longer than its receive slot runs on into the
// slot's overflow area, which is only touched (and only paged in) when that
// happens: no query is ever cut short. A reply larger than its slot is
// allocated.
const (
	inStride  = 17 * 64 // 1088 bytes: plenty for a query
	inSlot    = inStride
	overflow  = 65535 - inSlot
	outStride = 21 * 64 // 1344 bytes: what fits in a 1280-byte IPv6 path MTU and more
	outSlot   = outStride
)

// udpBuffer is the receive buffer asked for each UDP socket.
const udpBuffer = 4 << 20

// mmsghdr is struct mmsghdr of <sys/socket.h>: a message header and the
// number of bytes the call moved for it. Go pads it as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// udpBatch holds everything one UDP reader needs, allocated once: the
// message headers, I/O vectors, peer addresses and buffers of a receive
// and a send batch. A reply's peer address is the request's, as the
// kernel wrote it; nothing is converted or allocated per datagram.
type udpBatch struct {
	in     [batch]mmsghdr
	inIov  [batch][2]unix.Iovec         // the slot, then its overflow area
	names  [batch]unix.RawSockaddrInet6 // large enough for IPv4 too
	out    [batch]mmsghdr
	outIov [batch]unix.Iovec
	inBuf  []byte
	over   []byte
	outBuf []byte
	long   []byte // a long datagram, made whole
}

func newUDPBatch() *udpBatch {
	b := &udpBatch{
		inBuf:  make([]byte, batch*inStride),
		over:   make([]byte, batch*overflow),
		outBuf: make([]byte, batch*outStride),
	}
	for i := range batch {
		b.inIov[i][0].Base = &b.inBuf[i*inStride]
		b.inIov[i][0].SetLen(inSlot)
		b.inIov[i][1].Base = &b.over[i*overflow]
		b.inIov[i][1].SetLen(overflow)
		b.in[i].hdr.Iov = &b.inIov[i][0]
		b.in[i].hdr.SetIovlen(2)
		b.in[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		b.out[i].hdr.Iov = &b.outIov[i]
		b.out[i].hdr.SetIovlen(1)
	}
	return b
}

// recv reads up to a batch of datagrams. Without wait it never blocks
// (MSG_DONTWAIT), so it is a raw system call: the scheduler need not hand
// this thread's processor to another. With wait it blocks until at least
// one datagram comes (the socket is in blocking mode, with a receive
// timeout), as an ordinary system call, so that the runtime may run other
// goroutines meanwhile.
func (b *udpBatch) recv(fd uintptr, wait bool) (int, syscall.Errno) {
	for i := range b.in {
		b.in[i].hdr.Namelen = unix.SizeofSockaddrInet6
	}
	msgs := uintptr(unsafe.Pointer(&b.in[0]))
	var n uintptr
	var errno syscall.Errno
	if wait {
		n, _, errno = unix.Syscall6(unix.SYS_RECVMMSG, fd, msgs, batch, unix.MSG_WAITFORONE, 0, 0)
	} else {
		n, _, errno = unix.RawSyscall6(unix.SYS_RECVMMSG, fd, msgs, batch, unix.MSG_DONTWAIT, 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// send writes the replies b.out[from:to] without blocking; it returns how
// many went out.
func (b *udpBatch) send(fd uintptr, from, to int) (int, syscall.Errno) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[from])), uintptr(to-from), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// source returns datagram i's payload and sender. ok is false for a
// datagram that cannot be answered: cut short, from an unknown address
// family or from port 0 (which would fail the whole sendmmsg batch).
func (b *udpBatch) source(i int) (payload []byte, src netip.AddrPort, ok bool) {
	m := &b.in[i]
	if m.hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil, netip.AddrPort{}, false
	}
	sa := &b.names[i]
	switch {
	case sa.Family == unix.AF_INET && m.hdr.Namelen >= unix.SizeofSockaddrInet4:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		src = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(sa4.Port))
	case sa.Family == unix.AF_INET6 && m.hdr.Namelen >= unix.SizeofSockaddrInet6:
		src = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), portOf(sa.Port))
	default:
		return nil, netip.AddrPort{}, false
	}
	if src.Port() == 0 {
		return nil, netip.AddrPort{}, false
	}
	n := int(m.n)
	if n <= inSlot {
		return b.inBuf[i*inStride : i*inStride+n], src, true
	}
	b.long = append(append(b.long[:0], b.inBuf[i*inStride:i*inStride+inSlot]...), b.over[i*overflow:i*overflow+n-inSlot]...)
	return b.long, src, true
}

// portOf reads a port as the kernel stores it, in network byte order.
func portOf(p uint16) uint16 {
	var b [2]byte
	*(*uint16)(unsafe.Pointer(&b[0])) = p
	return binary.BigEndian.Uint16(b[:])
}

// replyBuf returns reply slot k, empty.
func (b *udpBatch) replyBuf(k int) []byte {
	return b.outBuf[k*outStride : k*outStride : k*outStride+outSlot]
}

// setReply makes reply k go to the sender of datagram i.
func (b *udpBatch) setReply(k, i int, reply []byte) {
	b.outIov[k].Base = &reply[0]
	b.outIov[k].SetLen(len(reply))
	b.out[k].hdr.Name = b.in[i].hdr.Name
	b.out[k].hdr.Namelen = b.in[i].hdr.Namelen
}

// rawUDP is a UDP socket served with raw system calls, outside the
// runtime's poller. A socket the poller watches has an epoll entry on its
// wait queue, and the kernel then signals write space to epoll as the
// buffer of every reply sent is freed: profiles showed that wakeup as the
// largest cost a Go server had over a C one. The reader instead drains the
// socket with recvmmsg and, when it is empty, blocks in poll(2) on it and
// on an eventfd that stop signals.
type rawUDP struct {
	fd   int // the socket
	wake int // eventfd: stop writes it
	addr string
}

// newUDPReader takes the socket of c out of the runtime's poller: it keeps
// a duplicate of the descriptor and closes c, which removes c's epoll
// entry.
func newUDPReader(c *net.UDPConn) (udpReader, error) {
	addr := c.LocalAddr().String()
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("udp socket %s: %w", addr, err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = unix.FcntlInt(f, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("udp socket %s: %w", addr, err)
	}
	if derr != nil {
		return nil, fmt.Errorf("udp socket %s: dup: %w", addr, derr)
	}
	// Room for bursts: a few thousand queries. Past the system's limit
	// (net.core.rmem_max) only with CAP_NET_ADMIN; best effort either way.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpBuffer) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, udpBuffer)
	}
	// Path MTU discovery off, as NSD and gdnsd do: forged ICMP "fragmentation
	// needed" cannot shrink our replies' path MTU (a fragmentation attack
	// on resolvers), and the send path skips the route's PMTU lookup
	// (visible in profiles). Replies keep to edns_udp_size (1232 by
	// default), which fits any path; larger ones are fragmented at the
	// interface's MTU.
	if sa, err := unix.Getsockname(fd); err == nil {
		if _, v6 := sa.(*unix.SockaddrInet6); v6 {
			unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT)
		} else if unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT) != nil {
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
		}
	}
	// Blocking mode, for recvWait (other calls pass MSG_DONTWAIT), with a
	// receive timeout as a backstop for stop.
	unix.SetNonblock(fd, false)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 0, Usec: 200000})
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("udp socket %s: eventfd: %w", addr, err)
	}
	c.Close()
	return &rawUDP{fd: fd, wake: wake, addr: addr}, nil
}

func (u *rawUDP) stop() {
	one := [8]byte{7: 1}
	unix.Write(u.wake, one[:])
	// Wakes a reader blocked in recvmmsg (Linux wakes the sleepers of
	// even an unconnected UDP socket, though it returns ENOTCONN).
	unix.Shutdown(u.fd, unix.SHUT_RD)
}

func (u *rawUDP) close() {
	unix.Close(u.fd)
	unix.Close(u.wake)
}

// wait blocks until the socket has the event (POLLIN or POLLOUT) or stop
// was called; it reports false for the latter.
func (u *rawUDP) wait(event int16) bool {
	pfd := [2]unix.PollFd{{Fd: int32(u.fd), Events: event}, {Fd: int32(u.wake), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if n > 0 && pfd[1].Revents != 0 {
			return false
		}
		if n > 0 {
			return true
		}
	}
}

// serve reads datagrams in batches with recvmmsg, answers each and writes
// the replies in batches with sendmmsg, until stop.
func (u *rawUDP) serve(s *Server) {
	b := newUDPBatch()
	r := s.h.NewReader()
	fd := uintptr(u.fd)
	for !s.closing.Load() {
		n, errno := b.recv(fd, false)
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EINTR:
			// Empty: block in recvmmsg itself until a datagram comes.
			n, errno = b.recv(fd, true)
			if errno == unix.EAGAIN || errno == unix.EINTR || n == 0 {
				// Nothing within the receive timeout.
				r.Idle()
				continue
			}
			if errno != 0 {
				s.log.Warn("udp read failed", "addr", u.addr, "err", errno)
				continue
			}
		default:
			s.log.Warn("udp read failed", "addr", u.addr, "err", errno)
			if !u.wait(unix.POLLIN) {
				return
			}
			continue
		}
		now := time.Now()
		k := 0
		for i := range n {
			req, src, ok := b.source(i)
			if !ok {
				s.h.drop()
				continue
			}
			reply := r.Serve(req, src, b.replyBuf(k), now)
			if len(reply) == 0 {
				continue
			}
			b.setReply(k, i, reply)
			k++
		}
		r.Done(time.Since(now))
		for sent := 0; sent < k; {
			w, errno := b.send(fd, sent, k)
			switch errno {
			case 0:
			case unix.EAGAIN, unix.EINTR:
				if !u.wait(unix.POLLOUT) {
					return
				}
				continue
			default:
				// The first message failed (say, no route to its
				// sender): skip it, send the rest.
				s.log.Debug("udp write failed", "addr", u.addr, "err", errno)
				w = 1
			}
			sent += w
		}
	}
}
