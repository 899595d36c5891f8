// Package example holds the configuration that `gslb serve` answers from
// when no -config is given, embedded in the binary.
package example

import "embed"

// FS holds gslb.toml, its zones/ folder and the MaxMind test databases
// (fake data, Apache-2.0 OR MIT) that the example locates clients with.
//
//go:embed gslb.toml zones *.mmdb GeoIP-LICENSE-*
var FS embed.FS

// ConfigFile is the main configuration file's path inside FS.
const ConfigFile = "gslb.toml"
