package zones

import "fmt"

// Keys of the main file whose place Config records, for problems found
// after loading (by `gslb check` and `gslb serve`, which look at the
// folder or file the key names).
const (
	KeyStateDir       = "state.dir"
	KeyAdminStateFile = "admin.state_file"
)

// ErrorAt returns a problem placed at a key of the main file, one of the
// Key constants: "file:line:col: message" when the key is written in the
// file, "file: message" otherwise.
func (c *Config) ErrorAt(key string, format string, args ...any) *Error {
	p := c.keyAt[key]
	return &Error{File: c.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}
