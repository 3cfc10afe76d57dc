package engine

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/poller/bufpool"
	"github.com/switchboard-chat/switchboard/protocol"
)

// ErrClosed is returned when writing to a connection that is closing or gone.
var ErrClosed = errors.New("engine: connection closed")

// Frame is an encoded server frame that many connections can share: a
// broadcast is encoded once and every recipient holds a reference.
//
// Concurrency: Retain and Release are safe for concurrent use. The bytes
// never change after NewFrame.
type Frame struct {
	refs atomic.Int32
	b    []byte // header + payload, from the buffer pool
}

// NewFrame encodes one unfragmented data message. The caller holds one
// reference and must Release it after handing the frame to its recipients.
func NewFrame(op ws.OpCode, payload []byte) *Frame {
	b := bufpool.Get(protocol.FrameHeaderSize(len(payload)) + len(payload))
	b = protocol.AppendFrame(b, op, true, payload)
	f := &Frame{b: b}
	f.refs.Store(1)
	return f
}

func newRawFrame(parts ...[]byte) *Frame {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := bufpool.Get(n)
	for _, p := range parts {
		b = append(b, p...)
	}
	f := &Frame{b: b}
	f.refs.Store(1)
	return f
}

// Len is the frame's size on the wire.
func (f *Frame) Len() int { return len(f.b) }

// Retain adds a reference.
func (f *Frame) Retain() { f.refs.Add(1) }

// Release drops a reference; the last one returns the buffer to the pool.
func (f *Frame) Release() {
	switch n := f.refs.Add(-1); {
	case n == 0:
		bufpool.Put(f.b)
		f.b = nil
	case n < 0:
		panic("engine: Frame released more times than retained")
	}
}

// outboundQueue is a connection's frames waiting for the socket, oldest
// first. It holds no memory while empty. Guarded by Conn.wmu.
type outboundQueue struct {
	frames []*Frame
	off    int  // bytes of frames[0] already written
	bytes  int  // unwritten bytes in the queue
	begun  bool // frames[0] is the rest of a frame already partly on the wire
}

func (q *outboundQueue) empty() bool { return len(q.frames) == 0 }

func (q *outboundQueue) push(f *Frame) {
	q.frames = append(q.frames, f)
	q.bytes += len(f.b)
}

// iovecs fills dst with the unwritten bytes, oldest first.
func (q *outboundQueue) iovecs(dst [][]byte) [][]byte {
	for i, f := range q.frames {
		if len(dst) == cap(dst) {
			break
		}
		if i == 0 {
			dst = append(dst, f.b[q.off:])
		} else {
			dst = append(dst, f.b)
		}
	}
	return dst
}

// consume drops n written bytes from the front.
func (q *outboundQueue) consume(n int) {
	q.bytes -= n
	for n > 0 {
		f := q.frames[0]
		left := len(f.b) - q.off
		if n < left {
			q.off += n
			return
		}
		n -= left
		q.pop()
	}
}

func (q *outboundQueue) pop() {
	q.frames[0].Release()
	q.frames[0] = nil
	q.frames = q.frames[1:]
	q.off = 0
	q.begun = false
	if len(q.frames) == 0 {
		q.frames = nil // an idle connection keeps no queue memory
	}
}

// dropUnstarted releases every frame not yet partly written; a frame already
// on the wire must finish or the stream is corrupt.
func (q *outboundQueue) dropUnstarted() {
	keep := 0
	if q.off > 0 || q.begun {
		keep = 1
	}
	for i := keep; i < len(q.frames); i++ {
		q.bytes -= len(q.frames[i].b)
		q.frames[i].Release()
		q.frames[i] = nil
	}
	q.frames = q.frames[:keep]
	if keep == 0 {
		q.frames = nil
	}
}

func (q *outboundQueue) release() {
	for _, f := range q.frames {
		f.Release()
	}
	*q = outboundQueue{}
}

// WriteMessage sends one data message (op is ws.OpText or ws.OpBinary).
// payload is only read during the call. It never blocks on the peer: bytes
// the socket cannot take now wait in the outbound queue, and a connection
// whose queue passes Config.OutboundBudget is closed as a slow consumer.
func (c *Conn) WriteMessage(op ws.OpCode, payload []byte) error {
	if c.deflate && len(payload) >= compressMin {
		return c.writeCompressed(op, payload)
	}
	return c.writeData(op, false, payload)
}

// writeData frames payload with a header built in pooled scratch memory:
// a header in a caller's stack array would escape through the poller.Conn
// interface and cost an allocation per message.
func (c *Conn) writeData(op ws.OpCode, rsv1 bool, payload []byte) error {
	s := scratchPool.Get().(*writeScratch)
	h := protocol.AppendFrameHeader(s.hdr[:0], op, true, rsv1, len(payload))
	err := c.write(h, payload, nil, false)
	scratchPool.Put(s)
	return err
}

// writeScratch is per-write memory that must not live on a stack (it is
// handed to an interface method); pooled, it costs nothing per write.
type writeScratch struct {
	hdr [14]byte
	iov [16][]byte
}

var scratchPool = sync.Pool{New: func() any { return new(writeScratch) }}

// compressMin is the smallest message worth compressing: below it the
// deflate framing costs more than it saves.
const compressMin = 256

func (c *Conn) writeCompressed(op ws.OpCode, payload []byte) error {
	body := protocol.Deflate(bufpool.Get(len(payload)/2+64), payload)
	err := c.writeData(op, true, body)
	bufpool.Put(body)
	return err
}

// WriteFrame queues a shared frame; the Conn takes its own reference.
func (c *Conn) WriteFrame(f *Frame) error {
	return c.write(nil, nil, f, false)
}

// write sends hdr+payload (or f) now if the queue is empty, and queues the
// rest. control frames (pong, ping, close) skip the data-after-close check.
// A data message is counted in Stats.MessagesOut before the socket write,
// so a peer that has read it always finds it counted.
//
// Lock order: Conn.wmu, then the poller conn's own lock inside Write.
func (c *Conn) write(hdr, payload []byte, f *Frame, control bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(hdr, payload, f, control)
}

func (c *Conn) writeLocked(hdr, payload []byte, f *Frame, control bool) error {
	if phase(c.phase.Load()) == phaseClosed || (c.closeOut && !control) {
		return ErrClosed
	}
	if c.out.empty() {
		s := scratchPool.Get().(*writeScratch)
		iov := s.iov[:0]
		if f != nil {
			iov = append(iov, f.b)
		} else {
			iov = append(iov, hdr, payload)
		}
		if !control {
			c.e.stats.messagesOut.Add(1)
		}
		n, err := c.pc.Write(iov)
		clear(iov)
		scratchPool.Put(s)
		c.e.stats.bytesOut.Add(uint64(n))
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, poller.ErrWouldBlock):
			return err // the poller reports the failure through OnClose
		}
		// Keep the unwritten part.
		if f != nil {
			f.Retain()
			c.out.push(f)
			c.out.off = n
			c.out.bytes -= n
			c.out.begun = n > 0
		} else {
			c.out.push(newRawFrame(skip(n, hdr, payload)...))
			c.out.begun = n > 0
		}
		c.pc.WantWrite()
		return nil
	}
	size := len(hdr) + len(payload)
	if f != nil {
		size = len(f.b)
	}
	if !control && c.out.bytes+size > c.e.cfg.OutboundBudget {
		c.slowConsumerLocked()
		return ErrClosed
	}
	if !control {
		c.e.stats.messagesOut.Add(1)
	}
	if f != nil {
		f.Retain()
		c.out.push(f)
	} else {
		c.out.push(newRawFrame(hdr, payload))
	}
	return nil
}

// pong answers a ping. Unlike other control frames, pongs count against
// the outbound budget: a client that floods pings and never reads would
// otherwise grow its queue without bound. Over the budget it is a slow
// consumer like any other.
func (c *Conn) pong(payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(s)
	hdr := protocol.AppendFrameHeader(s.hdr[:0], ws.OpPong, true, false, len(payload))
	if !c.out.empty() && !c.closeOut && c.out.bytes+len(hdr)+len(payload) > c.e.cfg.OutboundBudget {
		c.slowConsumerLocked()
		return
	}
	c.writeLocked(hdr, payload, nil, true)
}

// skip drops the first n bytes of the concatenation of parts.
func skip(n int, parts ...[]byte) [][]byte {
	for len(parts) > 0 && n >= len(parts[0]) {
		n -= len(parts[0])
		parts = parts[1:]
	}
	if len(parts) > 0 {
		parts[0] = parts[0][n:]
	}
	return parts
}

// flush writes queued frames until the queue is empty or the socket is full.
// The poller calls it (through OnWritable) once a full socket drains.
func (c *Conn) flush() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	s := scratchPool.Get().(*writeScratch)
	defer scratchPool.Put(s)
	for !c.out.empty() {
		iov := c.out.iovecs(s.iov[:0])
		n, err := c.pc.Write(iov)
		clear(iov) // the pool must not keep frames alive
		c.e.stats.bytesOut.Add(uint64(n))
		c.out.consume(n)
		if errors.Is(err, poller.ErrWouldBlock) {
			c.pc.WantWrite()
			return
		}
		if err != nil {
			return
		}
	}
	c.afterFlushLocked()
}

// afterFlushLocked runs when the queue has drained: a connection whose close
// frame is out and whose peer already answered (or which was only ever an
// HTTP reply) can now be closed.
func (c *Conn) afterFlushLocked() {
	if c.closeOut && c.out.empty() && (c.gotClose || phase(c.phase.Load()) == phaseHandshake) {
		c.pc.Close()
	}
}

// Close starts the closing handshake with code and reason: the close frame
// goes out after what is already queued, and the connection is dropped when
// the peer answers or after Config.CloseTimeout.
func (c *Conn) Close(code ws.StatusCode, reason string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.closeLocked(code, reason)
}

func (c *Conn) closeLocked(code ws.StatusCode, reason string) error {
	if c.closeOut || phase(c.phase.Load()) == phaseClosed {
		return nil
	}
	var buf [128]byte
	err := c.writeLocked(protocol.AppendClose(buf[:0], code, reason), nil, nil, true)
	c.closeOut = true
	if phase(c.phase.Load()) != phaseHandshake {
		c.phase.Store(uint32(phaseClosing))
		deadline := c.e.now() + c.e.ticks(c.e.cfg.CloseTimeout)
		c.closeBy.Store(deadline)
		c.e.wheelFor(c).schedule(c, deadline)
	}
	if err != nil {
		c.pc.Close()
		return err
	}
	c.afterFlushLocked()
	return nil
}

// slowConsumerLocked drops what the peer will never read in time and closes
// it with StatusSlowConsumer; the room moves on without it.
func (c *Conn) slowConsumerLocked() {
	c.e.stats.slowConsumers.Add(1)
	c.e.log.Info("slow consumer closed", "conn", c.id, "remote", c.pc.RemoteAddr().String(),
		"queued_bytes", c.out.bytes, "budget", c.e.cfg.OutboundBudget)
	c.out.dropUnstarted()
	c.closeLocked(protocol.StatusSlowConsumer, "slow consumer: reconnect and resume")
}

// writeHTTP sends a complete HTTP response during the handshake phase and
// closes the connection once it is written.
func (c *Conn) writeHTTP(head, body []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writeLocked(head, body, nil, true)
	c.closeOut = true
	c.afterFlushLocked()
}
