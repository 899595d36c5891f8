package zones

// The hashes of gslb, in one place. None is cryptographic: they spread
// keys over tables and make choices look uniform, and an attacker who
// steers them gains no more than the choice of his own client address
// already gives him. The zone serial ("auto") is hash/fnv's 32-bit FNV-1a
// of the file (autoSerial, zonefile.go): it is published in SOA records,
// so its values stay as they are.

// Mix64 scrambles the bits of x with the SplitMix64 finaliser: each input
// bit flips each output bit with a probability close to one half, and no
// two inputs give the same output. It is cheap enough for the query
// path: dnsserver's answer cache and rate limiter key their tables with it.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// fnv64a is the 64-bit FNV-1a hash of b, without the allocation of
// hash/fnv's interface.
func fnv64a[T string | []byte](b T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= 1099511628211
	}
	return h
}

// hashString is the seed of a member with ID s: FNV-1a, then mixed.
func hashString(s string) uint64 { return Mix64(fnv64a(s)) }
