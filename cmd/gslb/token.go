package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gslb/gslb/internal/safefile"
	"github.com/gslb/gslb/zones"
)

// readToken reads the admin API's bearer token. A token file that others
// may read is refused: anyone on the machine could drain the service.
func readToken(file string) (string, error) { return readTokenFile("admin token file", file) }

// readTokenFile reads a token from file, what naming it in errors ("admin
// token file"): at least 16 characters, in a file only its owner reads.
func readTokenFile(what, file string) (string, error) {
	if file == "" {
		return "", nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s %s is readable by others (mode %v); chmod 600 it", what, file, fi.Mode().Perm())
	}
	b, err := safefile.Read(file, 64<<10)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", what, file, zones.UnwrapPath(err))
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("%s %s: the token is shorter than 16 characters", what, file)
	}
	return tok, nil
}
