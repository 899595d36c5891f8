package dnsserver

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// optECS is the EDNS Client Subnet option code (RFC 7871).
const optECS = 8

// ecs is a client subnet option as sent.
type ecs struct {
	family uint16
	source uint8
	addr   netip.Addr // masked to source bits; invalid for family 0
}

var errECS = errors.New("malformed client subnet option")

// parseECS finds the client subnet option in the rdata of an OPT record.
// It returns nil without one, and an error for a malformed option or two of
// them (both FORMERR by RFC 7871 section 7.1.2).
func parseECS(rdata []byte) (*ecs, error) {
	var found *ecs
	for off := 0; off+4 <= len(rdata); {
		code := binary.BigEndian.Uint16(rdata[off:])
		n := int(binary.BigEndian.Uint16(rdata[off+2:]))
		off += 4
		if off+n > len(rdata) {
			return nil, errECS
		}
		data := rdata[off : off+n]
		off += n
		if code != optECS {
			continue
		}
		if found != nil {
			return nil, errECS // two ECS options
		}
		e, err := decodeECS(data)
		if err != nil {
			return nil, err
		}
		found = &e
	}
	return found, nil
}

// decodeECS reads the data of one client subnet option.
func decodeECS(b []byte) (ecs, error) {
	if len(b) < 4 {
		return ecs{}, errECS
	}
	e := ecs{family: binary.BigEndian.Uint16(b), source: b[2]}
	addr := b[4:]
	var size int
	switch e.family {
	case 0:
		// dig sends family 0 with source 0 for "+subnet=0"; nothing else
		// is valid with it.
		if e.source != 0 || len(addr) != 0 {
			return ecs{}, errECS
		}
		return e, nil
	case 1:
		size = 4
	case 2:
		size = 16
	default:
		return ecs{}, errECS
	}
	// A scope longer than the address is malformed too (miekg/dns says
	// so on the general path): FORMERR on both.
	if int(e.source) > size*8 || int(b[3]) > size*8 || len(addr) != (int(e.source)+7)/8 {
		return ecs{}, errECS
	}
	var full [16]byte
	copy(full[:], addr)
	// No bits may be set past the source prefix.
	if e.source%8 != 0 && len(addr) > 0 && addr[len(addr)-1]&(0xff>>(e.source%8)) != 0 {
		return ecs{}, errECS
	}
	if size == 4 {
		e.addr = netip.AddrFrom4([4]byte(full[:4]))
	} else {
		e.addr = netip.AddrFrom16(full)
	}
	return e, nil
}

// findOPT returns the rdata of the OPT record in the additional section of
// a message, if any.
func findOPT(b []byte) ([]byte, bool) {
	if len(b) < 12 {
		return nil, false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	for i := 0; i < qd; i++ {
		if off = skipName(b, off); off < 0 || off+4 > len(b) {
			return nil, false
		}
		off += 4
	}
	for i := 0; i < rrs+ar; i++ {
		if off = skipName(b, off); off < 0 || off+10 > len(b) {
			return nil, false
		}
		typ := binary.BigEndian.Uint16(b[off:])
		n := int(binary.BigEndian.Uint16(b[off+8:]))
		if off+10+n > len(b) {
			return nil, false
		}
		if i >= rrs && typ == 41 {
			return b[off+10 : off+10+n], true
		}
		off += 10 + n
	}
	return nil, false
}
