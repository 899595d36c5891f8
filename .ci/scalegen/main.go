// Command scalegen writes the data of .ci/scale.sh: one zone of N records
// as a gslb TOML zone file and as an RFC 1035 master file (the same
// records), or a gslb zone of N services.
//
//	go run ./.ci/scalegen -kind zone -n 100000 -out DIR
//	go run ./.ci/scalegen -kind services -n 10000 -backends 10 -out DIR
//
// zone writes DIR/zones/scale.test.toml, DIR/scale.test.zone and
// DIR/gslb.toml; services writes DIR/zones/svc.test.toml and DIR/gslb.toml.
// Record i is named h<i>: i%10 in 0–5 is an A, 6–7 an AAAA, 8 a TXT, 9 an
// MX (i%20 == 9) or a CNAME (i%20 == 19) to the A record h<i-9>. The apex
// has SOA and NS ns1, ns2 with glue.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	kind := flag.String("kind", "zone", `"zone" or "services"`)
	n := flag.Int("n", 10000, "records (zone) or services")
	backends := flag.Int("backends", 10, "backends per service")
	out := flag.String("out", ".", "output directory")
	dns := flag.String("dns", "127.0.0.1:18053", "gslb's DNS address")
	httpAddr := flag.String("http", "127.0.0.1:19153", "gslb's HTTP address")
	flag.Parse()
	if *n < 1 || *backends < 1 || *n**backends > 1<<24 {
		fail(fmt.Errorf("want 1 ≤ n, 1 ≤ backends, n×backends ≤ 2^24"))
	}
	if err := os.MkdirAll(filepath.Join(*out, "zones"), 0o755); err != nil {
		fail(err)
	}
	conf := fmt.Sprintf("# written by .ci/scalegen\nzones = [\"zones\"]\n\n[server]\ndns = [%q]\nhttp = %q\n", *dns, *httpAddr)
	if err := os.WriteFile(filepath.Join(*out, "gslb.toml"), []byte(conf), 0o644); err != nil {
		fail(err)
	}
	switch *kind {
	case "zone":
		write(filepath.Join(*out, "zones", "scale.test.toml"), func(w *bufio.Writer) { zoneTOML(w, *n) })
		write(filepath.Join(*out, "scale.test.zone"), func(w *bufio.Writer) { zoneMaster(w, *n) })
	case "services":
		write(filepath.Join(*out, "zones", "svc.test.toml"), func(w *bufio.Writer) { servicesTOML(w, *n, *backends) })
	default:
		fail(fmt.Errorf("unknown -kind %q", *kind))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scalegen:", err)
	os.Exit(1)
}

func write(path string, body func(*bufio.Writer)) {
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	body(w)
	if err := w.Flush(); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
}

// v4 is the IPv4 address 10.x.y.z numbered k (k < 2^24).
func v4(k int) string {
	return fmt.Sprintf("10.%d.%d.%d", k>>16&0xff, k>>8&0xff, k&0xff)
}

// v6 is the IPv6 address numbered i: 2001:db8:HI:LO::1, every group at
// most 0xffff.
func v6(i int) string {
	return fmt.Sprintf("2001:db8:%x:%x::1", i>>16&0xffff, i&0xffff)
}

// record is record i: its type and its RDATA in zone-file syntax (TXT:
// the text alone, unquoted).
func record(i int) (typ, rdata string) {
	switch i % 10 {
	case 0, 1, 2, 3, 4, 5:
		return "A", v4(i)
	case 6, 7:
		return "AAAA", v6(i)
	case 8:
		return "TXT", fmt.Sprintf("scale record %d", i)
	}
	if i%20 == 9 {
		return "MX", fmt.Sprintf("10 h%d", i-9)
	}
	return "CNAME", fmt.Sprintf("h%d", i-9)
}

const serial = 2026120301

func zoneTOML(w *bufio.Writer, n int) {
	fmt.Fprintf(w, `# written by .ci/scalegen: %d records
origin = "scale.test."
ttl = "1h"
ns = ["ns1", "ns2"]

[soa]
serial = %d
mname = "ns1"
rname = "hostmaster.scale.test."
refresh = "1h"
retry = "10m"
expire = "1w"
negative_ttl = 60

[records]
ns1 = { A = "127.0.0.1" }
ns2 = { A = "127.0.0.2" }
`, n, serial)
	for i := range n {
		typ, rdata := record(i)
		fmt.Fprintf(w, "h%d = { %s = %q }\n", i, typ, rdata)
	}
}

func zoneMaster(w *bufio.Writer, n int) {
	fmt.Fprintf(w, `; written by .ci/scalegen: %d records
$ORIGIN scale.test.
$TTL 3600
@ IN SOA ns1 hostmaster ( %d 3600 600 604800 60 )
@ IN NS ns1
@ IN NS ns2
ns1 IN A 127.0.0.1
ns2 IN A 127.0.0.2
`, n, serial)
	for i := range n {
		typ, rdata := record(i)
		if typ == "TXT" {
			rdata = `"` + rdata + `"`
		}
		fmt.Fprintf(w, "h%d IN %s %s\n", i, typ, rdata)
	}
}

func servicesTOML(w *bufio.Writer, n, backends int) {
	fmt.Fprintf(w, `# written by .ci/scalegen: %d services of %d backends, no health checks
origin = "svc.test."
ttl = "1h"
ns = ["ns1"]

[soa]
serial = %d
mname = "ns1"
rname = "hostmaster.svc.test."
refresh = "1h"
retry = "10m"
expire = "1w"
negative_ttl = 60

[records]
ns1 = { A = "127.0.0.1" }
`, n, backends, serial)
	for i := range n {
		fmt.Fprintf(w, "\n[services.s%d]\nmembers = \"roundrobin\"\nanswers = 2\nbackends = [\n", i)
		for j := range backends {
			fmt.Fprintf(w, "  { name = \"b%d\", address = %q },\n", j, v4(i*backends+j))
		}
		w.WriteString("]\n")
	}
}
