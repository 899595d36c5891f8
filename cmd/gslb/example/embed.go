// Package example holds the configuration that `gslb serve` answers from
// when no -config is given, embedded in the binary.
package example

import "embed"

// FS holds gslb.toml and its zones/ folder.
//
//go:embed gslb.toml zones
var FS embed.FS

// ConfigFile is the main configuration file's path inside FS.
const ConfigFile = "gslb.toml"
