//go:build race

package dnsserver

// raceEnabled: the race detector allocates, so allocation budgets are not
// checked under it.
const raceEnabled = true
