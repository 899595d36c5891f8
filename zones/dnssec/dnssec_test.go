package dnssec

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// readOS is ReadFile on the file system.
func readOS(name string) ([]byte, fs.FileMode, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, 0, err
	}
	src, err := os.ReadFile(name)
	return src, fi.Mode().Perm(), err
}

func rrs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

// TestKeyFiles: a key made by Generate and written as BIND does reads back
// the same, through its .private, its .key or its base name; a PEM key
// reads too; every bad file is a clear error.
func TestKeyFiles(t *testing.T) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		t.Run(AlgorithmName(alg), func(t *testing.T) {
			dir := t.TempDir()
			k, err := Generate("Example.test", alg)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := k.WriteBIND(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, k.BaseName()+".private"); priv != want || !strings.HasPrefix(k.BaseName(), "Kexample.test.+0") {
				t.Fatalf("written %s, want %s", priv, want)
			}
			if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
				t.Errorf("private key mode %04o", fi.Mode().Perm())
			}
			if _, err := k.WriteBIND(dir); err == nil {
				t.Error("WriteBIND overwrote a key")
			}
			base := strings.TrimSuffix(priv, ".private")
			for _, p := range []string{priv, base + ".key", base} {
				got, err := ReadKey(readOS, "example.test.", p)
				if err != nil {
					t.Fatalf("ReadKey(%s): %v", p, err)
				}
				if got.Tag != k.Tag || got.DNSKEY.PublicKey != k.DNSKEY.PublicKey || got.DNSKEY.Flags != 257 {
					t.Errorf("ReadKey(%s): tag %d, want %d", p, got.Tag, k.Tag)
				}
			}
			if _, err := ReadKey(readOS, "other.test.", priv); err == nil || !strings.Contains(err.Error(), "not other.test.") {
				t.Errorf("a key for another zone: %v", err)
			}
			os.Chmod(priv, 0o644)
			if _, err := ReadKey(readOS, "example.test.", priv); err == nil || !strings.Contains(err.Error(), "readable by others") {
				t.Errorf("a private key readable by all: %v", err)
			}
			os.Chmod(priv, 0o600)
			// The private key of another key beside this .key.
			other, _ := Generate("example.test.", alg)
			odir := t.TempDir()
			opriv, _ := other.WriteBIND(odir)
			src, _ := os.ReadFile(opriv)
			os.WriteFile(priv, src, 0o600)
			if _, err := ReadKey(readOS, "example.test.", priv); err == nil {
				t.Error("a private key that does not match its .key was read")
			}
			if _, err := ReadKey(readOS, "example.test.", filepath.Join(dir, "Kmissing")); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "Kmissing.key: ") {
				t.Errorf("a missing key: %v", err)
			}
		})
	}
	dir := t.TempDir()
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		pemKey, err := GeneratePEM(alg)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, AlgorithmName(alg)+".pem")
		os.WriteFile(p, pemKey, 0o600)
		k, err := ReadKey(readOS, "example.test", p)
		if err != nil {
			t.Fatalf("PEM %s: %v", AlgorithmName(alg), err)
		}
		if k.DNSKEY.Algorithm != alg || k.DNSKEY.Hdr.Name != "example.test." {
			t.Errorf("PEM key: %v", k.DNSKEY)
		}
		if err := matches(k.DNSKEY, k.Signer); err != nil {
			t.Errorf("PEM key does not sign for its DNSKEY: %v", err)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not pem"), 0o600)
	if _, err := ReadKey(readOS, "example.test", filepath.Join(dir, "bad.pem")); err == nil || !strings.Contains(err.Error(), "PKCS #8") {
		t.Errorf("bad PEM: %v", err)
	}
	if _, err := Generate("example.test", dns.RSASHA256); err == nil {
		t.Error("Generate made an RSA key")
	}
}

// TestWindowAt: one window per step, whatever the instant in it; at
// least two thirds of the validity left; inception a step back.
func TestWindowAt(t *testing.T) {
	base := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    time.Duration
		step int64
	}{{3 * time.Hour, 3600}, {14 * 24 * time.Hour, 14 * 24 * 3600 / 3}, {5 * time.Minute, 100}} {
		w0 := WindowAt(base, c.v)
		for _, d := range []time.Duration{0, time.Second, time.Duration(c.step-1) * time.Second} {
			at := time.Unix(w0.Start, 0).Add(d)
			w := WindowAt(at, c.v)
			if w != w0 {
				t.Errorf("validity %v: window at %v is %+v, at the step's start %+v", c.v, at, w, w0)
			}
			left := time.Duration(int64(w.Expiration)-at.Unix()) * time.Second
			if left < 2*c.v/3 {
				t.Errorf("validity %v: %v left at %v", c.v, left, at)
			}
			if int64(w.Inception) != w.Start-c.step || !at.After(time.Unix(int64(w.Inception), 0)) {
				t.Errorf("validity %v: inception %d, start %d", c.v, w.Inception, w.Start)
			}
		}
		next := WindowAt(time.Unix(w0.Start+c.step, 0), c.v)
		if next.Start != w0.Start+c.step || !w0.Renewed(c.v).Equal(time.Unix(next.Start, 0)) {
			t.Errorf("validity %v: next window %+v", c.v, next)
		}
	}
}

// TestCache: a signature verifies; the same RRset in another order, case
// or TTL is a hit; another window, key, TTL or record is a miss; misses
// of one key at once sign once; a full slot is replaced.
func TestCache(t *testing.T) {
	k, _ := Generate("example.test.", dns.ECDSAP256SHA256)
	k2, _ := Generate("example.test.", dns.ED25519)
	c := NewCache(1024)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	w := WindowAt(now, DefaultValidity)
	set := rrs(t, "www.example.test. 30 IN A 192.0.2.1", "www.example.test. 30 IN A 192.0.2.2")
	sig, err := c.Sign(k, "example.test.", set, 300, w)
	if err != nil {
		t.Fatal(err)
	}
	if sig.OrigTtl != 300 || sig.Inception != w.Inception || sig.Expiration != w.Expiration || sig.Labels != 3 || sig.KeyTag != k.Tag || sig.TypeCovered != dns.TypeA {
		t.Errorf("signature %v", sig)
	}
	// Validators verify with the original TTL.
	check := rrs(t, "www.example.test. 7 IN A 192.0.2.2", "www.example.test. 7 IN A 192.0.2.1")
	for _, rr := range check {
		rr.Header().Ttl = 300
	}
	if err := sig.Verify(k.DNSKEY, check); err != nil {
		t.Errorf("verify: %v", err)
	}
	if !sig.ValidityPeriod(now) {
		t.Error("not valid now")
	}
	again, _ := c.Sign(k, "example.test.", rrs(t, "WWW.example.test. 7 IN A 192.0.2.2", "www.example.test. 5 IN A 192.0.2.1"), 300, w)
	if again != sig {
		t.Error("the same RRset in another order, case and TTL was not a hit")
	}
	for name, miss := range map[string]func() (*dns.RRSIG, error){
		"window": func() (*dns.RRSIG, error) {
			return c.Sign(k, "example.test.", set, 300, WindowAt(now.Add(DefaultValidity), DefaultValidity))
		},
		"validity": func() (*dns.RRSIG, error) {
			// Same step start, another validity: another expiration.
			return c.Sign(k, "example.test.", set, 300, Window{Inception: w.Inception, Expiration: w.Expiration - 7*86400, Start: w.Start})
		},
		"key":    func() (*dns.RRSIG, error) { return c.Sign(k2, "example.test.", set, 300, w) },
		"ttl":    func() (*dns.RRSIG, error) { return c.Sign(k, "example.test.", set, 301, w) },
		"record": func() (*dns.RRSIG, error) { return c.Sign(k, "example.test.", set[:1], 300, w) },
		"rdata": func() (*dns.RRSIG, error) {
			return c.Sign(k, "example.test.", rrs(t, "www.example.test. 30 IN A 192.0.2.3"), 300, w)
		},
		"type": func() (*dns.RRSIG, error) {
			return c.Sign(k, "example.test.", rrs(t, "www.example.test. 30 IN AAAA 2001:db8::1"), 300, w)
		},
		"newowner": func() (*dns.RRSIG, error) {
			return c.Sign(k, "example.test.", rrs(t, "ww2.example.test. 30 IN A 192.0.2.1"), 300, w)
		},
	} {
		before := c.Stats().Signed
		s, err := miss()
		if err != nil || s == sig || c.Stats().Signed != before+1 {
			t.Errorf("another %s: %v, signed %d times more", name, err, c.Stats().Signed-before)
		}
	}
	// Concurrent misses of one key sign once.
	fresh := rrs(t, "api.example.test. 30 IN A 192.0.2.9")
	before := c.Stats().Signed
	var wg sync.WaitGroup
	got := make([]*dns.RRSIG, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = c.Sign(k, "example.test.", fresh, 60, w)
		}()
	}
	wg.Wait()
	if n := c.Stats().Signed - before; n != 1 {
		t.Errorf("16 concurrent misses signed %d times", n)
	}
	for _, g := range got {
		if g != got[0] || g == nil {
			t.Fatal("concurrent callers got different signatures")
		}
	}
	// A cache of one slot: each new RRset replaces the last.
	one := NewCache(1)
	one.Sign(k, "example.test.", set, 300, w)
	one.Sign(k, "example.test.", fresh, 300, w)
	if s := one.Stats(); s.Entries != 1 || s.Evicted != 1 {
		t.Errorf("a one-slot cache: %+v", s)
	}
}

// TestNSEC: the compact denial record: next name the immediate successor,
// RRSIG and NSEC in the bitmap, sorted, once each.
func TestNSEC(t *testing.T) {
	n := NSEC("nx.example.test.", 60, []uint16{dns.TypeNXNAME})
	if n.NextDomain != `\000.nx.example.test.` || len(n.TypeBitMap) != 3 || n.TypeBitMap[0] != dns.TypeRRSIG || n.TypeBitMap[2] != dns.TypeNXNAME {
		t.Errorf("%v", n)
	}
	if _, err := dns.NewRR(n.String()); err != nil {
		t.Errorf("%v does not parse: %v", n, err)
	}
	m := NSEC("www.example.test.", 60, []uint16{dns.TypeAAAA, dns.TypeNSEC, dns.TypeTXT})
	if s := m.String(); !strings.HasSuffix(s, "TXT AAAA RRSIG NSEC") {
		t.Errorf("bitmap %s", s)
	}
}

// TestSuccessor: the next name of compact denial is the first name after
// the owner in canonical order, within 255 octets (RFC 4471 3.1.2).
func TestSuccessor(t *testing.T) {
	// name of n octets on the wire: labels of 63 ("a"s), then one of the
	// rest, under example.test. (14 octets).
	long := func(first string, wire int) string {
		name := first + ".example.test."
		for l := len(first) + 1 + 14; l < wire; {
			k := min(63, wire-l-1)
			name = first + "." + strings.Repeat("b", k) + name[len(first):]
			l += k + 1
		}
		return name
	}
	l63 := strings.Repeat("c", 63)
	tests := []struct {
		name, owner, want string
	}{
		{"short: a zero label in front", "nx.example.test.", `\000.nx.example.test.`},
		{"253 octets: still in front", long("x", 253), `\000.` + long("x", 253)},
		{"254 octets: a zero octet added to the first label", long("x", 254), `x\000` + long("x", 254)[1:]},
		{"mixed case kept", long("Ab", 254), `Ab\000` + long("Ab", 254)[2:]},
		{"255 octets: the first label's last octet raised", long("xy", 255), "xz" + long("xy", 255)[2:]},
		{"a first label of 63: raised", long(l63, 254), strings.Repeat("c", 62) + "d" + long(l63, 254)[63:]},
		{"upper case raised as lower case", long("aZ", 255), "a{" + long("aZ", 255)[2:]},
		{"after @ comes [", long("a@", 255), "a[" + long("a@", 255)[2:]},
		{"0xff octets dropped", `a\255` + long("aq", 255)[2:], "b" + long("aq", 255)[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Successor(tt.owner)
			if got != tt.want {
				t.Errorf("Successor(%d octets)\n got %s\nwant %s", wireLen(t, tt.owner), got, tt.want)
			}
			if n := wireLen(t, got); n > 255 {
				t.Errorf("%d octets", n)
			}
			n := NSEC(tt.owner, 60, []uint16{dns.TypeNXNAME})
			m := new(dns.Msg)
			m.SetQuestion(tt.owner, dns.TypeA)
			m.Ns = []dns.RR{n}
			wire, err := m.Pack()
			if err != nil {
				t.Fatalf("pack: %v", err)
			}
			if err := new(dns.Msg).Unpack(wire); err != nil {
				t.Errorf("the NSEC does not unpack: %v", err)
			}
		})
	}
}

func wireLen(t *testing.T, name string) int {
	t.Helper()
	var buf [512]byte
	n, err := dns.PackDomainName(name, buf[:], 0, nil, false)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// TestKeyTagZero: a key whose tag is 0, which miekg/dns does not sign
// with, is refused with a message saying so, not as a mismatch.
func TestKeyTagZero(t *testing.T) {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	// The tag is a folded sum of the RDATA's 16-bit words: with one word
	// 0xffff, some value of the next makes it 0.
	raw := make([]byte, 64)
	raw[0], raw[1] = 0xff, 0xff
	for i := 0; k.KeyTag() != 0 || k.PublicKey == ""; i++ {
		if i > 0xffff {
			t.Fatal("no public key of tag 0 found")
		}
		binary.BigEndian.PutUint16(raw[2:], uint16(i))
		k.PublicKey = base64.StdEncoding.EncodeToString(raw)
	}
	s, err := Generate("example.test.", dns.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := matches(k, s.Signer); err == nil || !strings.Contains(err.Error(), "key tag is 0") {
		t.Errorf("a key of tag 0: %v", err)
	}
}
