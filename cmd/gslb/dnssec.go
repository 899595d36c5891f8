package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/gslb/gslb/zones"
	"github.com/gslb/gslb/zones/dnssec"
)

// dnssecOpts are gslb dnssec's flags.
type dnssecOpts struct {
	config    *string
	algorithm *string
	dir       *string
}

// dnssecCommand is gslb dnssec keygen and ds: the keys of signed zones.
func dnssecCommand() *command {
	return &command{
		name:    "dnssec",
		args:    "keygen ZONE | ds ZONE",
		summary: "make a zone's signing key; print the DS records for its parent",
		help: "keygen makes a combined signing key (CSK) for ZONE and writes it as BIND does:\n" +
			"K<zone>.+<alg>+<tag>.key (the DNSKEY) and .private (mode 600) in -dir. Name it\n" +
			"in the zone file's [dnssec] key; every instance of a fleet uses the same files.\n" +
			"gslb never makes a key by itself.\n\n" +
			"ds prints the DS records (SHA-256) and DNSKEY records of ZONE's keys, as the\n" +
			"configuration names them, for the parent zone; during a rollover, both keys'.\n" +
			"docs/dnssec.md has the rollover, step by step.",
		exit:  "0  done\n1  the key could not be written, or the configuration does not load or does not sign ZONE\n2  usage",
		words: []string{"keygen", "ds"},
		flags: func(fs *flag.FlagSet) any {
			return &dnssecOpts{
				config:    configFlag(fs),
				algorithm: fs.String("algorithm", "ecdsap256sha256", "keygen: the key's `ALGORITHM`, ecdsap256sha256 or ed25519"),
				dir:       fs.String("dir", ".", "keygen: the `FOLDER` the key files are written in"),
			}
		},
		run: func(e *env, o any, args []string) int { return dnssecMain(e, o.(*dnssecOpts), args) },
	}
}

func dnssecMain(e *env, o *dnssecOpts, args []string) int {
	if len(args) != 2 || args[0] != "keygen" && args[0] != "ds" {
		return usageError(e, "dnssec", "want: gslb dnssec keygen ZONE, or gslb dnssec ds ZONE")
	}
	zone := dns.Fqdn(strings.ToLower(args[1]))
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		return usageError(e, "dnssec", "%q is not a zone name", args[1])
	}
	if args[0] == "keygen" {
		alg, ok := dnssec.Algorithms[strings.ToLower(*o.algorithm)]
		if !ok {
			return usageError(e, "dnssec", "-algorithm %q: want ecdsap256sha256 or ed25519", *o.algorithm)
		}
		return dnssecKeygen(e, zone, alg, *o.dir)
	}
	return dnssecDS(e, zone, *o.config)
}

// dnssecKeygen makes and writes a key, and says how to use it.
func dnssecKeygen(e *env, zone string, alg uint8, dir string) int {
	k, err := dnssec.Generate(zone, alg)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb dnssec keygen:", err)
		return 1
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(e.stderr, "gslb dnssec keygen: -dir %s: not a folder\n", dir)
		return 1
	}
	priv, err := k.WriteBIND(dir)
	if err != nil {
		fmt.Fprintln(e.stderr, "gslb dnssec keygen:", err)
		return 1
	}
	fmt.Fprintf(e.stdout, "wrote %s (mode 600) and its .key: %s key, tag %d, for %s\n", priv, dnssec.AlgorithmName(alg), k.Tag, zone)
	fmt.Fprintf(e.stdout, "in the zone file (the path relative to it):\n\n[dnssec]\nkey = %q\n\nthen give the parent the DS that gslb dnssec ds %s prints.\n", k.BaseName(), strings.TrimSuffix(zone, "."))
	return 0
}

// dnssecDS prints the DS and DNSKEY records of a signed zone's keys.
func dnssecDS(e *env, zone, config string) int {
	src := e.configFrom(config)
	snap, err := loadConfig(src.path)
	if err != nil {
		fmt.Fprintf(e.stderr, "gslb dnssec ds: %s does not load:\n%v\n", src.why, err)
		return 1
	}
	var z *zones.Zone
	for _, c := range snap.Zones {
		if c.Name() == zone {
			z = c
		}
	}
	switch {
	case z == nil:
		fmt.Fprintf(e.stderr, "gslb dnssec ds: %s has no zone %s\n", src.why, zone)
		return 1
	case z.Signing() == nil:
		fmt.Fprintf(e.stderr, "gslb dnssec ds: zone %s is not signed (no [dnssec] key in %s)\n", zone, z.File)
		return 1
	}
	fmt.Fprintf(e.stdout, "; DS records of %s for its parent (SHA-256)\n", z.Origin)
	for _, k := range z.Signing().Keys {
		fmt.Fprintln(e.stdout, k.DNSKEY.ToDS(dns.SHA256).String())
	}
	fmt.Fprintf(e.stdout, "; the DNSKEY records they stand for\n")
	for _, k := range z.Signing().Keys {
		fmt.Fprintln(e.stdout, k.DNSKEY.String())
	}
	return 0
}
