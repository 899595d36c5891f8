// Package dnsserver answers DNS queries: it owns the wire protocol, the UDP
// and TCP listeners and the DNS semantics an authoritative server must get
// right (RFC 1034/1035, 2181, 2308, 4592, 6891, 7766, 8482).
//
// The Handler turns request bytes into reply bytes along one path
// (handler.go, serve):
//
//  1. a cheap header check drops responses and runt packets;
//  2. a panic while answering becomes SERVFAIL, counted;
//  3. over UDP, the reader's answer cache (cache.go) may answer a request
//     it has seen byte for byte;
//  4. one of two readers fills one request value (request.go): readFast
//     reads the common query in place, readMsg unpacks anything with
//     miekg/dns and records what is wrong with it;
//  5. decide (decide.go) makes every choice of the reply once: rcode and
//     flags, the client address (EDNS Client Subnet when trusted), the
//     zone lookup, the OPT record, the ECS scope and the UDP size limit;
//  6. one of two encoders writes the response (encode.go): encodeFast the
//     common reply straight into the output buffer, compressed exactly as
//     miekg/dns compresses, else miekg/dns packs and truncates it; the
//     answer cache keeps what it may;
//  7. response rate limiting, metrics and the query log.
//
// FuzzServe holds the fast reader and encoder to the general ones: every
// query the fast path answers gets the same reply, byte for byte, from the
// general path.
//
// The Handler reads the configuration from an atomically swapped
// zones.Snapshot and never blocks. The Server binds the listeners and
// feeds them to the Handler.
package dnsserver
