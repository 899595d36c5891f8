package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/gslb/gslb/internal/safefile"
	"github.com/gslb/gslb/zones"
)

const (
	// steeringFile holds the warm-start state in the state directory.
	steeringFile = "steering.json"
	// warmStartMaxAge is how old saved steering may be to be used: after
	// a restart (a deploy, a crash) rather than after an outage.
	warmStartMaxAge = 10 * time.Minute
	// warmStartEvery is how often the steering is saved while serving.
	warmStartEvery = 10 * time.Second
)

// steeringPath is the warm-start file, "" without a state directory.
func (a *app) steeringPath() string {
	if a.state.Dir == "" {
		return ""
	}
	return filepath.Join(a.state.Dir, steeringFile)
}

// warmStart restores the steering saved by the previous process, before
// the first snapshot is bound, from a file of at most maxFile bytes:
// backends keep their time in service (no fleet-wide slow start again)
// and their control law's averages.
func (a *app) warmStart(maxFile int64) {
	p := a.steeringPath()
	if p == "" {
		return
	}
	b, err := safefile.Read(p, maxFile)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		a.log.Warn("warm start: cannot read the saved steering; starting cold", "file", p, "err", err)
		return
	}
	s, err := zones.ParseSteeringState(p, b)
	if err == nil {
		var n int
		if n, err = a.steering.Restore(s, time.Now(), warmStartMaxAge); err == nil {
			a.log.Info("warm start: steering restored", "backends", n, "saved_ago", time.Since(s.SavedAt).Round(time.Second).String(), "file", p)
			return
		}
	}
	a.log.Info("warm start: not used", "file", p, "reason", err.Error())
}

// saveSteering writes the steering to the state directory in one step
// (safefile.Write), for the next process's warm start.
func (a *app) saveSteering() {
	p := a.steeringPath()
	if p == "" {
		return
	}
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	b, err := json.Marshal(a.steering.Save(time.Now()))
	if err == nil {
		err = safefile.Write(p, b, 0o600)
	}
	if err != nil {
		a.log.Warn("warm start: cannot save the steering", "file", p, "err", err)
	}
}
