package dnssec

import (
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
