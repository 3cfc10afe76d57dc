package poller

import (
	"testing"

	"golang.org/x/sys/unix"
)

func socketPair(t testing.TB) [2]int {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds
}

func readFd(fd int, p []byte) (int, error) { return unix.Read(fd, p) }
