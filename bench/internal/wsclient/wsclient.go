package wsclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Dialer dials WebSocket connections from one source address.
type Dialer struct {
	// Source is the local IP to bind, e.g. 127.0.0.2. Nil lets the kernel
	// choose.
	Source net.IP
	// Timeout bounds TCP connect plus handshake; zero means 10 s.
	Timeout time.Duration
}

// Conn is an upgraded client connection.
type Conn struct {
	net.Conn
	// r reads frames; it is a bufio.Reader only when the server sent bytes
	// right behind its handshake response, else the conn itself.
	r io.Reader
}

// Dial connects to url (ws://host:port/path) and completes the handshake.
func (d Dialer) Dial(ctx context.Context, url string) (*Conn, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	nd := net.Dialer{Timeout: timeout, Control: bindNoPort}
	if d.Source != nil {
		nd.LocalAddr = &net.TCPAddr{IP: d.Source}
	}
	wd := ws.Dialer{
		Timeout: timeout,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		},
	}
	c, br, _, err := wd.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	conn := &Conn{Conn: c, r: c}
	if br != nil {
		conn.r = br
	}
	return conn, nil
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT so that binding a source address
// does not reserve an ephemeral port on its own: the port is chosen at
// connect time for the full 4-tuple. Without it every source address is
// limited to one connection per port across all destinations, and sockets
// in TIME_WAIT from an earlier run block ports of the next one.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// ErrClosedByServer is returned by Hold when the server sent a close frame.
var ErrClosedByServer = errors.New("wsclient: server closed the connection")

// maxDataFrame bounds a data frame Hold will skip over; an idle benchmark
// expects none.
const maxDataFrame = 1 << 20

// Hold reads frames until the connection ends, answering pings with pongs
// and a close with a close. Data frames are read and dropped. It returns
// ErrClosedByServer after a close handshake, or the read/write error.
func (c *Conn) Hold() error {
	// Control payloads are at most 125 bytes; this array stays on the
	// goroutine's stack.
	var ctl [125]byte
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			if h.Length > int64(len(ctl)) {
				return fmt.Errorf("wsclient: control frame of %d bytes", h.Length)
			}
			p := ctl[:h.Length]
			if _, err := io.ReadFull(c.r, p); err != nil {
				return err
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpPing:
				if err := ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(ws.NewPongFrame(p))); err != nil {
					return err
				}
			case ws.OpClose:
				// Echo the status code back; an empty close gets an
				// empty close (1005 must never go on the wire).
				var body []byte
				if len(p) >= 2 {
					code, _ := ws.ParseCloseFrameData(p)
					body = ws.NewCloseFrameBody(code, "")
				}
				_ = ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(ws.NewCloseFrame(body)))
				return ErrClosedByServer
			}
			continue
		}
		if h.Length > maxDataFrame {
			return fmt.Errorf("wsclient: data frame of %d bytes", h.Length)
		}
		if _, err := io.CopyN(io.Discard, c.r, h.Length); err != nil {
			return err
		}
	}
}

// Detach hands the upgraded socket over to a caller that drives it with its
// own event loop: it returns a duplicate of the file descriptor in
// non-blocking mode, plus any bytes the handshake reader had already
// buffered past the response (they come before anything read from fd), and
// closes c. The caller owns fd and must close it.
func (c *Conn) Detach() (fd int, buffered []byte, err error) {
	if br, ok := c.r.(*bufio.Reader); ok && br.Buffered() > 0 {
		p, _ := br.Peek(br.Buffered())
		buffered = append([]byte(nil), p...)
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		c.Close()
		return -1, nil, fmt.Errorf("wsclient: %T has no file descriptor", c.Conn)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return -1, nil, err
	}
	var dupErr error
	fd = -1
	err = rc.Control(func(orig uintptr) {
		fd, dupErr = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	})
	c.Close()
	if err == nil {
		err = dupErr
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, nil, fmt.Errorf("wsclient: detach: %w", err)
	}
	return fd, buffered, nil
}

// WriteMessage sends p as one masked frame of opcode op.
func (c *Conn) WriteMessage(op ws.OpCode, p []byte) error {
	return ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(op, true, p)))
}

// ReadMessage reads the next data frame, answering pings on the way, and
// returns its payload length; the payload itself is discarded. A close
// from the server is ErrClosedByServer.
func (c *Conn) ReadMessage() (int, error) {
	_, n, err := c.readFrame(nil, false)
	return n, err
}

// ReadData reads the next data frame as ReadMessage does and returns its
// payload, appended to buf[:0].
func (c *Conn) ReadData(buf []byte) ([]byte, error) {
	p, _, err := c.readFrame(buf[:0], true)
	return p, err
}

// readFrame reads frames until a data frame and returns its length; with
// keep its payload is appended to buf, otherwise it is discarded.
func (c *Conn) readFrame(buf []byte, keep bool) ([]byte, int, error) {
	var ctl [125]byte
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return nil, 0, err
		}
		if !h.OpCode.IsControl() {
			if h.Length > maxDataFrame {
				return nil, 0, fmt.Errorf("wsclient: data frame of %d bytes", h.Length)
			}
			if !keep {
				_, err := io.CopyN(io.Discard, c.r, h.Length)
				return nil, int(h.Length), err
			}
			n := len(buf)
			buf = append(buf, make([]byte, h.Length)...)
			_, err := io.ReadFull(c.r, buf[n:])
			return buf, int(h.Length), err
		}
		if h.Length > int64(len(ctl)) {
			return nil, 0, fmt.Errorf("wsclient: control frame of %d bytes", h.Length)
		}
		p := ctl[:h.Length]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return nil, 0, err
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := ws.WriteFrame(c.Conn, ws.MaskFrameInPlace(ws.NewPongFrame(p))); err != nil {
				return nil, 0, err
			}
		case ws.OpClose:
			return nil, 0, ErrClosedByServer
		}
	}
}

// CloseHandshake sends a normal close, waits for the server's close and
// for it to close the TCP connection (so TIME_WAIT lands on the server's
// side, not on this source port), then closes. deadline bounds the wait.
func (c *Conn) CloseHandshake(deadline time.Time) error {
	defer c.Close()
	_ = c.SetDeadline(deadline)
	if err := ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))); err != nil {
		return err
	}
	for {
		_, err := c.ReadMessage()
		if errors.Is(err, ErrClosedByServer) {
			break
		}
		if err != nil {
			return fmt.Errorf("wsclient: no close answer: %w", err)
		}
	}
	// The server closes the TCP connection after its close frame.
	_, err := io.Copy(io.Discard, c.r)
	return err
}
