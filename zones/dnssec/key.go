// Package dnssec holds what online signing needs that is not DNS
// semantics: a zone's keys (read from BIND key files or PEM, made by gslb
// dnssec keygen), the validity window every instance computes alike, a
// bounded, lock-free cache of signatures keyed by what they sign, and the
// records of compact denial of existence (RFC 9824).
//
// The DNS server decides what is signed (dnsserver); this package signs
// it. Nothing here blocks a query but the signing of an RRset the cache
// does not hold, which one caller does while the others wait for it.
package dnssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// Algorithms gslb signs with, by the names the configuration uses.
var Algorithms = map[string]uint8{
	"ecdsap256sha256": dns.ECDSAP256SHA256,
	"ed25519":         dns.ED25519,
}

// AlgorithmName is the configuration's name of an algorithm.
func AlgorithmName(alg uint8) string {
	for n, a := range Algorithms {
		if a == alg {
			return n
		}
	}
	return fmt.Sprintf("algorithm %d", alg)
}

// Key is a zone's combined signing key (CSK: flags 257, it signs every
// RRset, DNSKEY included).
type Key struct {
	// DNSKEY is the public key as published at the apex (its TTL set by
	// the zone).
	DNSKEY *dns.DNSKEY
	// Signer signs with the private key.
	Signer crypto.Signer
	// Tag is the key tag (RFC 4034 appendix B).
	Tag uint16
	// File is where the private key was read from.
	File string
	// id tells keys apart in the signature cache: the algorithm, the tag
	// and the public key's bytes.
	id string
}

// newKey completes a key from its DNSKEY and signer.
func newKey(k *dns.DNSKEY, s crypto.Signer, file string) *Key {
	tag := k.KeyTag()
	return &Key{DNSKEY: k, Signer: s, Tag: tag, File: file, id: fmt.Sprintf("%d/%d/%s", k.Algorithm, tag, k.PublicKey)}
}

// Generate makes a new key for zone with algorithm alg.
func Generate(zone string, alg uint8) (*Key, error) {
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: dns.Fqdn(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: 257, Protocol: 3, Algorithm: alg}
	bits := 256
	if alg == dns.ED25519 {
		bits = 256
	} else if alg != dns.ECDSAP256SHA256 {
		return nil, fmt.Errorf("algorithm %d: gslb signs with ecdsap256sha256 or ed25519", alg)
	}
	var priv crypto.PrivateKey
	for {
		var err error
		if priv, err = k.Generate(bits); err != nil {
			return nil, err
		}
		if k.KeyTag() != 0 {
			break // miekg/dns does not sign with a key whose tag is 0
		}
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, errors.New("generated key cannot sign")
	}
	return newKey(k, s, ""), nil
}

// BaseName is the BIND name of a key's files, without .key or .private:
// K<zone>.+<algorithm>+<tag>.
func (k *Key) BaseName() string {
	return fmt.Sprintf("K%s+%03d+%05d", strings.ToLower(dns.Fqdn(k.DNSKEY.Hdr.Name)), k.DNSKEY.Algorithm, k.Tag)
}

// WriteBIND writes the key as BIND does, in dir: BaseName().key (the
// DNSKEY record, mode 0644) and BaseName().private (mode 0600). It refuses
// to overwrite either. It returns the path of the .private file.
func (k *Key) WriteBIND(dir string) (string, error) {
	base := filepath.Join(dir, k.BaseName())
	priv, ok := k.Signer.(crypto.PrivateKey)
	if !ok {
		return "", errors.New("key has no private part")
	}
	pub := fmt.Sprintf("; This is a combined signing key (CSK), keyid %d, for %s\n; made by gslb dnssec keygen\n%s\n", k.Tag, k.DNSKEY.Hdr.Name, k.DNSKEY.String())
	if err := writeNew(base+".key", []byte(pub), 0o644); err != nil {
		return "", err
	}
	if err := writeNew(base+".private", []byte(k.DNSKEY.PrivateKeyString(priv)), 0o600); err != nil {
		os.Remove(base + ".key")
		return "", err
	}
	return base + ".private", nil
}

// writeNew writes a file that must not exist yet.
func writeNew(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(name)
		return err
	}
	return f.Close()
}

// ReadFile is how ReadKey reads a file: the name and its bytes, or an
// error; mode tells the file's permission bits (0 if unknown).
type ReadFile func(name string) (data []byte, mode fs.FileMode, err error)

// ReadKey reads zone's key from path: a BIND key pair (path names the
// .private file, the .key file or their common base; both must exist) or
// a PEM file (.pem: a PKCS #8 ECDSA P-256 or Ed25519 private key, whose
// DNSKEY is derived from it, flags 257). The private key must be readable
// by its owner only. The key's owner must be zone.
func ReadKey(read ReadFile, zone, path string) (*Key, error) {
	zone = dns.Fqdn(zone)
	if strings.HasSuffix(path, ".pem") {
		return readPEM(read, zone, path)
	}
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".private"), ".key")
	privFile := base + ".private"
	src, _, err := read(base + ".key")
	if err != nil {
		return nil, fileError(base+".key", err)
	}
	rr, err := dns.ReadRR(bytes.NewReader(stripComments(src)), base+".key")
	if err != nil {
		return nil, fmt.Errorf("%s.key: %v", base, err)
	}
	k, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, fmt.Errorf("%s.key: want a DNSKEY record, got %s", base, dns.TypeToString[rr.Header().Rrtype])
	}
	if !strings.EqualFold(k.Hdr.Name, zone) {
		return nil, fmt.Errorf("%s.key: the key is for %s, not %s", base, k.Hdr.Name, zone)
	}
	if err := checkAlg(k.Algorithm); err != nil {
		return nil, fmt.Errorf("%s.key: %v", base, err)
	}
	if k.Flags&dns.ZONE == 0 || k.Protocol != 3 {
		return nil, fmt.Errorf("%s.key: not a zone key (flags %d, protocol %d)", base, k.Flags, k.Protocol)
	}
	psrc, err := readPrivate(read, privFile)
	if err != nil {
		return nil, err
	}
	priv, err := k.ReadPrivateKey(bytes.NewReader(psrc), privFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", privFile, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: the key cannot sign", privFile)
	}
	if err := matches(k, s); err != nil {
		return nil, fmt.Errorf("%s: %v (of %s.key)", privFile, err, base)
	}
	k.Hdr.Name = zone
	return newKey(k, s, privFile), nil
}

// readPrivate reads a private key file and checks that its owner alone
// can read it.
func readPrivate(read ReadFile, name string) ([]byte, error) {
	src, mode, err := read(name)
	if err != nil {
		return nil, fileError(name, err)
	}
	if mode&0o077 != 0 {
		return nil, fmt.Errorf("%s: the private key is readable by others (mode %04o): chmod 600 it", name, mode.Perm())
	}
	return src, nil
}

// readPEM reads a PKCS #8 private key and derives its DNSKEY.
func readPEM(read ReadFile, zone, name string) (*Key, error) {
	src, err := readPrivate(read, name)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(src)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: want a PEM \"PRIVATE KEY\" block (PKCS #8)", name)
	}
	p, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	k := &dns.DNSKEY{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600}, Flags: 257, Protocol: 3}
	var s crypto.Signer
	switch p := p.(type) {
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%s: an ECDSA key on %s: want P-256", name, p.Curve.Params().Name)
		}
		k.Algorithm = dns.ECDSAP256SHA256
		pub, err := p.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		k.PublicKey = toBase64(pub[1:])
		s = p
	case ed25519.PrivateKey:
		k.Algorithm = dns.ED25519
		k.PublicKey = toBase64(p.Public().(ed25519.PublicKey))
		s = p
	default:
		return nil, fmt.Errorf("%s: a %T: want ECDSA P-256 or Ed25519", name, p)
	}
	return newKey(k, s, name), nil
}

// fileError names the file of a read error once.
func fileError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// checkAlg refuses the algorithms gslb does not sign with.
func checkAlg(alg uint8) error {
	if alg != dns.ECDSAP256SHA256 && alg != dns.ED25519 {
		return fmt.Errorf("algorithm %d (%s): gslb signs with ecdsap256sha256 (13) or ed25519 (15)", alg, dns.AlgorithmToString[alg])
	}
	return nil
}

// matches checks that s is the private half of k: a signature it makes
// verifies with k.
func matches(k *dns.DNSKEY, s crypto.Signer) error {
	if k.KeyTag() == 0 {
		// 1 key in 65,536: miekg/dns refuses to sign with it.
		return errors.New("its key tag is 0, which gslb cannot sign with: make another key (gslb dnssec keygen never makes one)")
	}
	probe := &dns.TXT{Hdr: dns.RR_Header{Name: k.Hdr.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1}, Txt: []string{"gslb key check"}}
	sig := &dns.RRSIG{Algorithm: k.Algorithm, KeyTag: k.KeyTag(), SignerName: k.Hdr.Name, Inception: 1, Expiration: 1<<32 - 1}
	if err := sig.Sign(s, []dns.RR{probe}); err != nil {
		return err
	}
	if err := sig.Verify(k, []dns.RR{probe}); err != nil {
		return errors.New("the private key does not match the public key")
	}
	return nil
}

// stripComments drops the ';' comment lines BIND writes above the record,
// which dns.ReadRR would otherwise take for its whole input.
func stripComments(src []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(src, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) == 0 || t[0] == ';' {
			continue
		}
		out = append(append(out, line...), '\n')
	}
	return out
}

// toBase64 is the DNSKEY public key field's encoding.
func toBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// GeneratePEM makes a PKCS #8 PEM private key for alg, as ReadKey reads
// (for tests and for operators who keep keys in PEM).
func GeneratePEM(alg uint8) ([]byte, error) {
	var p any
	var err error
	switch alg {
	case dns.ECDSAP256SHA256:
		p, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case dns.ED25519:
		_, p, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, checkAlg(alg)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(p)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
