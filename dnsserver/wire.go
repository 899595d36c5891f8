package dnsserver

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
	_, ok := findOPT(b)
	return ok
}
