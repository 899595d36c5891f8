//go:build race

package health

// raceEnabled: the race detector allocates, so allocation budgets are not
// checked under it.
const raceEnabled = true
