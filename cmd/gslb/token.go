package main

import (
	"crypto/subtle"
	"fmt"
	"os"
	"path/filepath"
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

// registrationTokens are the registration tokens by service (lower case,
// without the final dot): what a registering agent must send for its
// service. Each has a name for the audit log: "file:line".
type registrationTokens map[string][]namedToken

type namedToken struct{ name, token string }

// readRegistrationTokens reads [admin] registration_tokens_file: one
// token per line, "SERVICE TOKEN", blank lines and # comments ignored; a
// service may have several (a rotation). Like the admin token file, it
// must be readable by its owner only.
func readRegistrationTokens(file string) (registrationTokens, error) {
	const what = "registration tokens file"
	if file == "" {
		return nil, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s is readable by others (mode %v); chmod 600 it", what, file, fi.Mode().Perm())
	}
	b, err := safefile.Read(file, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, file, zones.UnwrapPath(err))
	}
	out := registrationTokens{}
	seen := map[string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"SERVICE TOKEN\", found %d fields", file, i+1, len(f))
		}
		svc := strings.TrimSuffix(strings.ToLower(f[0]), ".")
		if len(f[1]) < 16 {
			return nil, fmt.Errorf("%s:%d: the token of %s is shorter than 16 characters", file, i+1, svc)
		}
		if j, dup := seen[f[1]]; dup {
			return nil, fmt.Errorf("%s:%d: the same token as line %d: a token is scoped to one service", file, i+1, j)
		}
		seen[f[1]] = i + 1
		out[svc] = append(out[svc], namedToken{name: fmt.Sprintf("%s:%d", filepath.Base(file), i+1), token: f[1]})
	}
	return out, nil
}

// check returns the name of the token of service that got is, false when
// none is.
func (t registrationTokens) check(service, got string) (string, bool) {
	name, ok := "", false
	for _, nt := range t[service] {
		// Every token compared, in constant time each.
		if subtle.ConstantTimeCompare([]byte(got), []byte(nt.token)) == 1 {
			name, ok = nt.name, true
		}
	}
	return name, ok
}
