package main

import (
	"errors"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if s, ok := m[p]; ok {
				return []byte(s), nil
			}
			return nil, errors.New("no such file")
		}
	}
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		name   string
		env    string
		mib    int
		files  map[string]string
		limit  int64
		source string
	}{
		{"environment wins", "512MiB", 100, map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, 0, "GOMEMLIMIT 512MiB"},
		{"configuration", "", 100, map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, 100 << 20, "[limits] memory_limit_mib = 100"},
		{"cgroup v2", "", 0, map[string]string{"/sys/fs/cgroup/memory.max": "1073741824\n"}, 1073741824 / 10 * 9, "90% of the cgroup limit 1024 MiB (/sys/fs/cgroup/memory.max)"},
		{"cgroup v2 without a limit", "", 0, map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, "none (no cgroup memory limit)"},
		{"cgroup v1", "", 0, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912"}, 536870912 / 10 * 9, "90% of the cgroup limit 512 MiB (/sys/fs/cgroup/memory/memory.limit_in_bytes)"},
		{"cgroup v1 without a limit", "", 0, map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, "none (no cgroup memory limit)"},
		{"no cgroup", "", 0, nil, 0, "none"},
	} {
		limit, source := memoryLimit(c.mib, env(c.env), files(c.files))
		if limit != c.limit || source != c.source {
			t.Errorf("%s: %d %q, want %d %q", c.name, limit, source, c.limit, c.source)
		}
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{4 << 20, 400},
		{16 << 20, 400},
		{32 << 20, 200},
		{40 << 20, 160},
		{64 << 20, 100},
		{1 << 30, 100},
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}
