//go:build !race

package zones

const raceEnabled = false
