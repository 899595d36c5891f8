//go:build !race

package main

// raceEnabled tells that the race detector is on: measurements of
// latency and throughput are then meaningless.
const raceEnabled = false
