package dnssec

import (
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkSign: a signature the cache holds (hit), and one it does not
// (miss: every iteration a new RRset, as for names that do not exist),
// for each algorithm.
func BenchmarkSign(b *testing.B) {
	w := WindowAt(time.Now(), DefaultValidity)
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		k, _ := Generate("example.com.", alg)
		set := []dns.RR{
			&dns.A{Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{192, 0, 2, 1}},
			&dns.A{Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{192, 0, 2, 2}},
		}
		b.Run("hit/"+AlgorithmName(alg), func(b *testing.B) {
			c := NewCache(0)
			c.Sign(k, "example.com.", set, 300, w)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Sign(k, "example.com.", set, 300, w); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("miss/"+AlgorithmName(alg), func(b *testing.B) {
			c := NewCache(0)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				n := NSEC("n"+strconv.Itoa(i)+".example.com.", 60, []uint16{dns.TypeNXNAME})
				if _, err := c.Sign(k, "example.com.", []dns.RR{n}, 300, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
