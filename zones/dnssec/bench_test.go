package dnssec

import (
	"fmt"
	"net"
	"os"
	"runtime"
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

// TestCacheMemory measures the heap the signature cache holds for n
// services (an A RRset of two records and an AAAA RRset each, ECDSA P-256):
// GSLB_DNSSEC_MEM=1 go test -run TestCacheMemory -v ./zones/dnssec/
func TestCacheMemory(t *testing.T) {
	if os.Getenv("GSLB_DNSSEC_MEM") == "" {
		t.Skip("a measurement: GSLB_DNSSEC_MEM=1 runs it")
	}
	k, _ := Generate("example.com.", dns.ECDSAP256SHA256)
	w := WindowAt(time.Now(), DefaultValidity)
	for _, n := range []int{8, 1000, 10000} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c := NewCache(0)
		for i := range n {
			name := "svc" + strconv.Itoa(i) + ".example.com."
			a := []dns.RR{
				&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{192, 0, 2, byte(i)}},
				&dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: []byte{198, 51, 100, byte(i)}},
			}
			aaaa := []dns.RR{&dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: 30}, AAAA: net.ParseIP("2001:db8::1")}}
			c.Sign(k, "example.com.", a, 300, w)
			c.Sign(k, "example.com.", aaaa, 300, w)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		s := c.Stats()
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		fmt.Printf("signature cache: %d services, %d signatures held (of %d slots): %.2f MiB of heap, %.0f bytes a signature beyond the table\n",
			n, s.Entries, len(c.slots), float64(heap)/(1<<20), float64(heap-int64(len(c.slots))*8)/float64(s.Entries))
		runtime.KeepAlive(c)
	}
}
