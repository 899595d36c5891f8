package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gslb/gslb/cluster"
	"github.com/gslb/gslb/health"
	"github.com/gslb/gslb/internal/safefile"
	"github.com/gslb/gslb/zones"
)

// readKeyring reads a cluster keyring file: base64 AES keys of 16, 24 or
// 32 bytes, one per line, the first one in use; blank lines and # comments
// are skipped. Like the admin token, a file others may read is refused.
func readKeyring(file string) ([][]byte, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("cluster keyring: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster keyring %s is readable by others (mode %v); chmod 600 it", file, fi.Mode().Perm())
	}
	src, err := safefile.Read(file, 64<<10)
	if err != nil {
		return nil, fmt.Errorf("cluster keyring %s: %w", file, zones.UnwrapPath(err))
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		text := string(bytes.TrimSpace(sc.Bytes()))
		if text == "" || text[0] == '#' {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not base64: %v", file, line, err)
		}
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("%s:%d: a key of %d bytes: want 16, 24 or 32 (AES-128, -192, -256)", file, line, n)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no key (make one with gslb cluster keygen)", file)
	}
	return keys, nil
}

// clusterConfig turns the [cluster] section into the cluster's settings;
// name is the member's name when the section gives none.
func clusterConfig(c *zones.ClusterConfig, name string) (cluster.Config, error) {
	cc := cluster.Config{
		Name: c.Name, Bind: c.Bind, Advertise: c.Advertise, Join: c.Join,
		Label: c.Label, Profile: c.Profile, Rejoin: c.Rejoin, Quorum: c.Quorum,
	}
	if cc.Name == "" {
		cc.Name = name
	}
	if c.KeyringFile != "" {
		keys, err := readKeyring(c.KeyringFile)
		if err != nil {
			return cc, err
		}
		cc.Keys = keys
	}
	return cc, nil
}

// newCluster makes this instance a member of its fleet: it listens for
// gossip at once; Run (from background) joins the peers.
func newCluster(c *zones.ClusterConfig, name string, admin *health.Admin, log *slog.Logger, reg prometheus.Registerer) (*cluster.Cluster, error) {
	cc, err := clusterConfig(c, name)
	if err != nil {
		return nil, err
	}
	return cluster.New(cc, admin, log, reg)
}

// clusterCommand is gslb cluster keygen: a new key for a keyring.
func clusterCommand() *command {
	return &command{
		name:    "cluster",
		args:    "keygen",
		summary: "make a key for the cluster keyring",
		help: "keygen prints a new AES-256 key, base64, for the file that [cluster] keyring\n" +
			"names (umask 077; gslb cluster keygen > cluster.keys). Every member of a\n" +
			"fleet needs the same keyring; docs/cluster.md says how to rotate keys.",
		exit:  "0  printed\n1  no randomness\n2  usage",
		words: []string{"keygen"},
		run: func(e *env, _ any, args []string) int {
			if len(args) != 1 || args[0] != "keygen" {
				return usageError(e, "cluster", "want: gslb cluster keygen")
			}
			return keygen(e.stdout, e.stderr)
		},
	}
}

func keygen(stdout, stderr io.Writer) int {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		fmt.Fprintln(stderr, "gslb cluster keygen:", err)
		return 1
	}
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(k))
	return 0
}
