package dnsserver

import "encoding/binary"

// skipName returns the offset after the domain name at off, or -1 if the
// name runs past the message. A compression pointer ends the name.
func skipName(b []byte, off int) int {
	for {
		if off >= len(b) {
			return -1
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				return off + 1
			}
			off += 1 + c
		case 0xC0:
			if off+2 > len(b) {
				return -1
			}
			return off + 2
		default:
			return -1 // the reserved label types 0x40 and 0x80
		}
	}
}

// rawHasOPT reports whether the additional section of a message that
// miekg/dns could not unpack holds an OPT record, so that even a FORMERR
// reply to an EDNS query carries OPT (RFC 6891 7).
func rawHasOPT(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	off := 12
	for i := 0; i < qd; i++ {
		if off = skipName(b, off); off < 0 || off+4 > len(b) {
			return false
		}
		off += 4
	}
	for i := 0; i < rrs+ar; i++ {
		if off = skipName(b, off); off < 0 || off+10 > len(b) {
			return false
		}
		typ := binary.BigEndian.Uint16(b[off:])
		if i >= rrs && typ == 41 {
			return true
		}
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	}
	return false
}
