package main

import (
	"crypto/tls"
	"fmt"

	"github.com/gslb/gslb/zones"
)

// httpSecrets reads what guards the HTTP side: the tokens the status
// page and read API require ([http] status_auth: the status token file's
// and the admin token), and the TLS certificate ([http] tls_cert,
// tls_key). Both nil: open, plain HTTP.
func httpSecrets(c *zones.Config) (statusTokens []string, tlsConf *tls.Config, err error) {
	if c.StatusAuth {
		if c.StatusTokenFile != "" {
			t, err := readTokenFile("status token file", c.StatusTokenFile)
			if err != nil {
				return nil, nil, err
			}
			statusTokens = append(statusTokens, t)
		}
		if c.AdminTokenFile != "" {
			t, err := readToken(c.AdminTokenFile)
			if err != nil {
				return nil, nil, err
			}
			statusTokens = append(statusTokens, t)
		}
	}
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, nil, fmt.Errorf("[http] tls_cert %s, tls_key %s: %v", c.TLSCert, c.TLSKey, err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return statusTokens, tlsConf, nil
}
