//go:build !unix

package health

import "time"

// processCPU: no portable process CPU time here.
func processCPU() (time.Duration, bool) { return 0, false }
