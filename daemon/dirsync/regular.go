package dirsync

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ErrNotRegular is reported for a path that holds a FIFO, socket or device.
var ErrNotRegular = errors.New("not a regular file")

// openRegular opens path for reading only if it is a regular file (after
// following symlinks). It opens with O_NONBLOCK first so a FIFO or a device
// planted at the path cannot block the caller forever, then checks the
// opened file itself with fstat, so the check and the read see one file.
func openRegular(path, what string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", what, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		cause := ErrNotRegular
		if fi.IsDir() {
			cause = syscall.EISDIR
		}
		return nil, nil, fmt.Errorf("%s %s is %s, not a regular file: %w", what, path, fileKind(fi.Mode()), cause)
	}
	return f, fi, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	default:
		return m.Type().String()
	}
}
