package zones

import (
	"crypto"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/zones/dnssec"
)

// keyFiles returns the BIND files of a new key for zone, named base.
func keyFiles(t *testing.T, zone, base string, alg uint8, privMode uint32) fstest.MapFS {
	t.Helper()
	k, err := dnssec.Generate(zone, alg)
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		base + ".key":     {Data: []byte(k.DNSKEY.String() + "\n"), Mode: 0o644},
		base + ".private": {Data: []byte(k.DNSKEY.PrivateKeyString(k.Signer.(crypto.PrivateKey))), Mode: fs.FileMode(0o600 | privMode)},
	}
}

// TestSigningConfig: [dnssec] in a zone file, good and bad, each problem
// once at its key.
func TestSigningConfig(t *testing.T) {
	const base = "origin = \"example.com.\"\nns = [\"ns1\"]\n[soa]\nrname = \"h\"\n[records]\nns1 = { A = \"192.0.2.1\" }\n[dnssec]\n"
	files := fstest.MapFS{}
	for name, f := range keyFiles(t, "example.com.", "keys/Kexample.com.+013+00001", dns.ECDSAP256SHA256, 0) {
		files[name] = f
	}
	for name, f := range keyFiles(t, "example.com.", "keys/Kexample.com.+015+00002", dns.ED25519, 0) {
		files[name] = f
	}
	for name, f := range keyFiles(t, "example.com.", "keys/Kopen", dns.ED25519, 0o044) {
		files[name] = f
	}
	for name, f := range keyFiles(t, "other.com.", "keys/Kother", dns.ED25519, 0) {
		files[name] = f
	}
	for _, c := range []struct {
		name, dnssec string
		want         []string
		keys         int
	}{
		{"one key", `key = "keys/Kexample.com.+013+00001"`, nil, 1},
		{"the .private file named", `key = "keys/Kexample.com.+013+00001.private"`, nil, 1},
		{"a rollover: two keys", `keys = ["keys/Kexample.com.+013+00001", "keys/Kexample.com.+015+00002.key"]`, nil, 2},
		{"off", "enabled = false\nkey = \"keys/missing\"", nil, 0},
		{"all settings", "key = \"keys/Kexample.com.+015+00002\"\nalgorithm = \"ed25519\"\nsignature_validity = \"72h\"\nnsec = \"compact\"\ndnskey_ttl = 600", nil, 1},
		{"no key", `algorithm = "ed25519"`, []string{`z.toml:7:1: dnssec: a signed zone needs its key: key = "Kexample.com.+013+12345" (made by gslb dnssec keygen)`}, 0},
		{"missing key", `key = "keys/missing"`, []string{`z.toml:8:1: dnssec.key: keys/missing.key: file does not exist`}, 0},
		{"key and keys", "key = \"keys/Kopen\"\nkeys = [\"keys/Kopen\"]", []string{`z.toml:9:1: dnssec.keys: set key or keys, not both`}, 0},
		{"three keys", `keys = ["a", "b", "c"]`, []string{`z.toml:8:1: dnssec.keys: 3 keys: at most two (the old and the new one, during a rollover)`}, 0},
		{"readable private key", `key = "keys/Kopen"`, []string{`z.toml:8:1: dnssec.key: keys/Kopen.private: the private key is readable by others (mode 0644): chmod 600 it`}, 0},
		{"another zone's key", `key = "keys/Kother"`, []string{`z.toml:8:1: dnssec.key: keys/Kother.key: the key is for other.com., not example.com.`}, 0},
		{"the algorithm differs", "key = \"keys/Kexample.com.+013+00001\"\nalgorithm = \"ed25519\"", []string{`z.toml:8:1: dnssec.key: keys/Kexample.com.+013+00001 is an ecdsap256sha256 key, but algorithm = "ed25519"`}, 0},
		{"unknown algorithm", "key = \"keys/Kexample.com.+013+00001\"\nalgorithm = \"rsasha1\"", []string{`z.toml:9:1: dnssec.algorithm: "rsasha1": want ecdsap256sha256 or ed25519`}, 0},
		{"NSEC3", "key = \"keys/Kexample.com.+013+00001\"\nnsec = \"nsec3\"", []string{`z.toml:9:1: dnssec.nsec: "nsec3": gslb denies with compact NSEC (RFC 9824): write nsec = "compact" or leave it out`}, 0},
		{"validity too short", "key = \"keys/Kexample.com.+013+00001\"\nsignature_validity = \"1m\"", []string{`z.toml:9:1: dnssec.signature_validity: 1m0s: want 5m0s..2160h0m0s`}, 0},
		{"validity shorter than the TTLs", "key = \"keys/Kexample.com.+013+00001\"\nsignature_validity = \"10m\"", []string{`z.toml:9:1: dnssec.signature_validity: signatures valid 10m0s have at least 6m40s left, less than the zone's longest TTL (3600 s, the NS records of example.com.): a cache could keep a record past its signature; raise signature_validity to 1h30m0s or more, or lower that TTL`}, 0},
		{"validity long enough for the TTLs", "key = \"keys/Kexample.com.+013+00001\"\nsignature_validity = \"2h\"", nil, 1},
		{"a key twice", `keys = ["keys/Kexample.com.+013+00001", "keys/Kexample.com.+013+00001.private"]`, []string{`z.toml:8:41: dnssec.keys[1]: keys/Kexample.com.+013+00001.private is listed twice`}, 0},
		{"unknown key", "key = \"keys/Kexample.com.+013+00001\"\nnsec3param = 1", []string{`z.toml:9:1: unknown key "dnssec.nsec3param"`}, 0},
		{"CDS of the keys", "keys = [\"keys/Kexample.com.+013+00001\", \"keys/Kexample.com.+015+00002\"]\ncds = \"keys\"", nil, 2},
		{"CDS asking for deletion", "key = \"keys/Kexample.com.+013+00001\"\ncds = \"delete\"", nil, 1},
		{"CDS of another kind", "key = \"keys/Kexample.com.+013+00001\"\ncds = \"yes\"", []string{`z.toml:9:1: dnssec.cds: "yes": want "none", "keys" (CDS and CDNSKEY of the zone's keys, RFC 7344) or "delete" (ask the parent to remove the DS, RFC 8078 4)`}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: []byte(base + c.dnssec + "\n")}}
			for n, f := range files {
				fsys[n] = f
			}
			s, err := Load(FSFiles(fsys), "gslb.toml")
			var got []string
			var list ErrorList
			if errors.As(err, &list) {
				for _, e := range list {
					got = append(got, e.Error())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("errors:\n got %q\nwant %q", got, c.want)
			}
			if err != nil {
				return
			}
			sg := s.Zones[0].Signing()
			if c.keys == 0 {
				if sg != nil {
					t.Errorf("signed, want not")
				}
				return
			}
			if sg == nil || len(sg.Keys) != c.keys || len(s.Zones[0].RRset("example.com.", dns.TypeDNSKEY)) != c.keys {
				t.Fatalf("signing %+v", sg)
			}
			cds, cdnskey := s.Zones[0].RRset("example.com.", dns.TypeCDS), s.Zones[0].RRset("example.com.", dns.TypeCDNSKEY)
			switch {
			case strings.Contains(c.dnssec, `cds = "keys"`):
				if len(cds) != c.keys || len(cdnskey) != c.keys || cds[0].(*dns.CDS).Digest != sg.Keys[0].DNSKEY.ToDS(dns.SHA256).Digest {
					t.Errorf("CDS %v, CDNSKEY %v", cds, cdnskey)
				}
			case strings.Contains(c.dnssec, `cds = "delete"`):
				if len(cds) != 1 || len(cdnskey) != 1 || cds[0].String() != "example.com.\t3600\tIN\tCDS\t0 0 0 00" || cdnskey[0].String() != "example.com.\t3600\tIN\tCDNSKEY\t0 3 0 AA==" {
					t.Errorf("CDS %v, CDNSKEY %v", cds, cdnskey)
				}
			case len(cds) != 0 || len(cdnskey) != 0:
				t.Errorf("CDS %v, CDNSKEY %v without cds", cds, cdnskey)
			}
			if sg.NegTTL != 60 || sg.OrigTTL < 3600 {
				t.Errorf("TTLs: negative %d, original %d", sg.NegTTL, sg.OrigTTL)
			}
		})
	}
	// The keys are in the configuration's hash.
	hashes := map[string]bool{}
	for _, key := range []string{"keys/Kexample.com.+013+00001", "keys/Kexample.com.+015+00002"} {
		fsys := fstest.MapFS{"gslb.toml": {Data: []byte(mainConf)}, "z.toml": {Data: []byte(base + "key = \"keys/K\"\n")}}
		for n, f := range files {
			fsys[strings.Replace(n, key, "keys/K", 1)] = f
		}
		s, err := Load(FSFiles(fsys), "gslb.toml")
		if err != nil {
			t.Fatal(err)
		}
		hashes[s.Hash] = true
	}
	if len(hashes) != 2 {
		t.Error("two keys, one configuration hash")
	}
}
