//go:build linux

package poller

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxIovecs bounds one writev call; the kernel's IOV_MAX is 1024, and a
// stack array this size keeps writevFd free of allocations.
const maxIovecs = 64

// writevFd writes bufs to a non-blocking fd with as few writev calls as it
// takes, without allocating. It returns the bytes written and ErrWouldBlock
// when the socket buffer is full.
func writevFd(fd int, bufs [][]byte) (int, error) {
	total := 0
	for len(bufs) > 0 {
		var iov [maxIovecs]unix.Iovec
		n, want := 0, 0
		for _, b := range bufs {
			if n == maxIovecs {
				break
			}
			if len(b) == 0 {
				continue
			}
			iov[n].Base = &b[0]
			iov[n].SetLen(len(b))
			want += len(b)
			n++
		}
		if n == 0 {
			return total, nil
		}
		r, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return total, ErrWouldBlock
		default:
			return total, errno
		}
		written := int(r)
		total += written
		if written < want {
			return total, ErrWouldBlock
		}
		// Drop the buffers this call covered (n non-empty ones).
		for seen := 0; len(bufs) > 0 && seen < n; bufs = bufs[1:] {
			if len(bufs[0]) > 0 {
				seen++
			}
		}
	}
	return total, nil
}

// listenTCP opens a non-blocking listening socket on addr. With reusePort set
// the socket has SO_REUSEPORT so several loops can each own one listener on
// the same port and let the kernel spread connections across them.
func listenTCP(addr string, reusePort bool) (int, *net.TCPAddr, error) {
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, nil, fmt.Errorf("poller: resolve %q: %w", addr, err)
	}
	family, sa := unix.AF_INET, unix.Sockaddr(nil)
	ip := tcpAddr.IP
	if ip == nil || ip.To4() != nil {
		var a [4]byte
		if ip != nil {
			copy(a[:], ip.To4())
		}
		sa = &unix.SockaddrInet4{Port: tcpAddr.Port, Addr: a}
	} else {
		family = unix.AF_INET6
		var a [16]byte
		copy(a[:], ip.To16())
		sa = &unix.SockaddrInet6{Port: tcpAddr.Port, Addr: a}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, nil, fmt.Errorf("poller: socket: %w", err)
	}
	fail := func(what string, err error) (int, *net.TCPAddr, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("poller: %s %s: %w", what, addr, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, listenBacklog()); err != nil {
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, sockaddrToTCP(bound), nil
}

// listenBacklog is the kernel's somaxconn (the kernel caps the backlog at it
// anyway); asking for it explicitly documents that a burst of handshakes is
// queued by the kernel rather than refused.
func listenBacklog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n > 0 {
			return n
		}
	}
	return 4096
}

func sockaddrToTCP(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return &net.TCPAddr{}
}

func sockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}
