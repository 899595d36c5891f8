// Package safefile reads the files gslb is given — configuration, zones,
// state, tokens, GeoIP databases — so that no file can wedge or sink the
// server: only regular files (a symlink is followed, and named in
// errors), never more than a size limit, opened without blocking (a FIFO
// swapped in at the last moment cannot hang the reader), and only when the
// file did not change while it was read.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrChanged is the error of a file that changed while it was read: the
// caller reads it again once it has settled.
var ErrChanged = errors.New("changed while being read")

// Read returns the content of the regular file at path, which may be at
// most limit bytes (0: no limit). The error says what is wrong in an
// operator's words: "a named pipe, not a regular file", "a symlink to
// /dev/zero, a character device, not a regular file", "70.0 MiB, over the
// limit of 64.0 MiB".
func Read(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, fi, limit); err != nil {
		return nil, err
	}
	// O_NONBLOCK: if a FIFO replaced the file since Stat, opening it does
	// not wait for a writer; the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	open, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := check(path, open, limit); err != nil {
		return nil, err
	}
	if !os.SameFile(fi, open) {
		return nil, ErrChanged
	}
	// Reads block again: a regular file never waits.
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		return nil, err
	}
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, fmt.Errorf("grew while being read to more than the limit of %s", Size(limit))
	}
	after, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !os.SameFile(open, after) || after.Size() != int64(len(b)) || !after.ModTime().Equal(open.ModTime()) {
		return nil, ErrChanged
	}
	return b, nil
}

// check tells whether fi, the file at path, may be read.
func check(path string, fi fs.FileInfo, limit int64) error {
	if !fi.Mode().IsRegular() {
		what := kind(fi.Mode())
		if target, err := filepath.EvalSymlinks(path); err == nil && target != filepath.Clean(path) {
			if abs, err := filepath.Abs(path); err != nil || target != abs {
				return fmt.Errorf("a symlink to %s, %s, not a regular file", target, what)
			}
		}
		return fmt.Errorf("%s, not a regular file", what)
	}
	if limit > 0 && fi.Size() > limit {
		return fmt.Errorf("%s, over the limit of %s", Size(fi.Size()), Size(limit))
	}
	return nil
}

// kind names a file type.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a plain file (" + m.Type().String() + ")"
}

// Size writes a byte count for people: "512 B", "64.0 MiB".
func Size(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(k*k*k))
}

// Write replaces the file at path with data in one step: it writes a
// temporary file beside it with mode perm and renames it over path, so
// that a reader (or a crash) sees the old content or the new, never part
// of it.
func Write(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
