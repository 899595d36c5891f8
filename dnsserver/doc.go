// Package dnsserver answers DNS queries: it owns the wire protocol, the UDP
// and TCP listeners and the DNS semantics an authoritative server must get
// right (RFC 1034/1035, 2181, 2308, 4592, 6891, 7766, 8482).
//
// The Handler turns request bytes into reply bytes. It reads the current
// configuration from an atomically swapped zones.Snapshot and never blocks.
// The Server binds the listeners and feeds them to the Handler.
package dnsserver
