package engine

import (
	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/poller"
	"github.com/switchboard-chat/switchboard/poller/bufpool"
	"github.com/switchboard-chat/switchboard/protocol"
)

// loopHandler is the Engine seen as a poller.Handler. Every method runs on an
// event loop and never blocks: parsing happens in place, complete messages
// go to the worker pool, and writes never wait for the peer.
type loopHandler Engine

func (h *loopHandler) OnOpen(pc poller.Conn) {
	e := (*Engine)(h)
	c := &Conn{id: pc.ID(), e: e, pc: pc}
	pc.SetContext(c)
	e.stats.accepted.Add(1)
	e.stats.handshaking.Add(1)
	c.hs = handshakePool.Get().(*handshake)
	c.hs.parser.Reset(&e.hsCfg)
	c.hs.reject, c.hs.retryAfter = e.admit(pc.RemoteAddr())
	now := e.now()
	c.lastRead.Store(now)
	c.lastData.Store(now) // the handshake deadline counts from here
	e.wheelFor(c).schedule(c, now+e.ticks(e.cfg.HandshakeTimeout))
}

func (h *loopHandler) OnData(pc poller.Conn, data []byte) int {
	e := (*Engine)(h)
	c := pc.Context().(*Conn)
	e.stats.bytesIn.Add(uint64(len(data)))
	c.lastRead.Store(e.now())
	c.pingSentAt.Store(0) // any byte from the peer proves it is alive
	consumed := 0
	if phase(c.phase.Load()) == phaseHandshake {
		n, upgraded := e.readHandshake(c, data)
		if !upgraded {
			return n
		}
		consumed = n
	}
	return consumed + e.readFrames(c, data[consumed:])
}

func (h *loopHandler) OnWritable(pc poller.Conn) {
	pc.Context().(*Conn).flush()
}

func (h *loopHandler) OnClose(pc poller.Conn, err error) {
	e := (*Engine)(h)
	c := pc.Context().(*Conn)
	was := phase(c.phase.Swap(uint32(phaseClosed)))
	e.releaseIP(pc.RemoteAddr())
	c.wmu.Lock()
	c.out.release()
	c.wmu.Unlock()
	if c.hs != nil {
		e.stats.handshaking.Add(-1)
		releaseHandshake(c)
	}
	bufpool.Put(c.msg)
	c.msg = nil
	if was != phaseHandshake {
		e.stats.conns.Add(-1)
		e.table.remove(c)
		e.dispatch(task{c: c, kind: taskClose})
	}
}

func releaseHandshake(c *Conn) {
	hs := c.hs
	c.hs = nil
	if cap(hs.buf) > 16<<10 {
		hs.buf = nil // don't pool a buffer a rare huge request grew
	}
	hs.buf = hs.buf[:0]
	handshakePool.Put(hs)
}

// readHandshake accumulates the upgrade request. It returns how many bytes
// of data it consumed and whether the connection is now upgraded (then the
// rest of data, if any, is WebSocket frames the client pipelined).
func (e *Engine) readHandshake(c *Conn, data []byte) (int, bool) {
	hs := c.hs
	if hs == nil { // answered already; waiting for our reply to flush
		return len(data), false
	}
	// Never hold more than the header limit: the parser fails with 431 once
	// the limit passes, so one byte past it is enough to decide.
	room := e.cfg.MaxHeaderBytes + 1 - len(hs.buf)
	take := min(len(data), room)
	prev := len(hs.buf)
	hs.buf = append(hs.buf, data[:take]...)
	n, err := hs.parser.Parse(hs.buf)
	if err == protocol.ErrNeedMore {
		return take, false
	}
	if err != nil {
		herr := err.(*protocol.HTTPError)
		e.handshakeFailed(herr.Status)
		e.reply(c, protocol.AppendHTTPError(nil, herr))
		return len(data), false
	}
	// Bytes after the request in this read belong to the frame stream.
	consumed := n - prev
	req := hs.parser.Request(hs.buf)
	switch {
	case hs.reject != admitted:
		e.refuse(c)
		return len(data), false
	case string(req.Path) == "/healthz":
		status, body := 200, "ok\n"
		if e.draining.Load() {
			status, body = 503, "draining\n"
		}
		e.reply(c, protocol.AppendHTTPResponse(nil, status, "text/plain; charset=utf-8", "", []byte(body)))
		return len(data), false
	}
	app := e.routes[string(req.Path)]
	if app == nil {
		e.serveHTTP(c, &req) // a page from HandleHTTP, or 404
		return len(data), false
	}
	if herr := protocol.ValidateUpgrade(&req, &e.hsCfg); herr != nil {
		e.handshakeFailed(herr.Status)
		e.reply(c, protocol.AppendHTTPError(nil, herr))
		return len(data), false
	}
	value, herr := app.Accept(&req)
	if herr != nil {
		e.handshakeFailed(herr.Status)
		e.reply(c, protocol.AppendHTTPError(nil, herr))
		return len(data), false
	}
	var respBuf [512]byte
	resp := protocol.AppendAccept(respBuf[:0], &req)
	c.app = app
	if value != nil {
		c.SetValue(value)
	}
	c.deflate = req.Compression
	if c.deflate {
		c.reader.Reset(&e.deflate)
	} else {
		c.reader.Reset(&e.frame)
	}
	releaseHandshake(c)
	if err := c.write(resp, nil, nil, true); err != nil {
		return len(data), false
	}
	c.phase.Store(uint32(phaseOpen))
	e.stats.handshaking.Add(-1)
	e.stats.conns.Add(1)
	e.stats.upgraded.Add(1)
	e.table.add(c)
	c.lastData.Store(e.now())
	e.wheelFor(c).schedule(c, e.nextOpenCheck(c))
	e.dispatch(task{c: c, kind: taskOpen})
	return consumed, true
}

// reply answers the HTTP request and closes once the answer is written.
func (e *Engine) reply(c *Conn, resp []byte) { e.replyBody(c, resp, nil) }

// replyBody is reply with the body apart from the head, so a shared body
// is written from where it lies instead of copied.
func (e *Engine) replyBody(c *Conn, head, body []byte) {
	releaseHandshake(c)
	e.stats.handshaking.Add(-1)
	c.writeHTTP(head, body)
}

// readFrames parses frames in place and returns the bytes consumed. It stops
// early (leaving the rest to the poller) when it needs more bytes or when
// the worker queue pushed back.
func (e *Engine) readFrames(c *Conn, data []byte) int {
	consumed := 0
	for consumed < len(data) {
		ev, n, err := c.reader.Next(data[consumed:])
		consumed += n
		if err != nil {
			e.stats.protocolErrors.Add(1)
			e.failConn(c, err)
			return len(data)
		}
		switch ev.Kind {
		case protocol.EventNone:
			if n == 0 {
				return consumed
			}
		case protocol.EventData:
			if !e.onData(c, ev) {
				return consumed
			}
		case protocol.EventPing:
			c.pong(ev.Payload)
		case protocol.EventPong:
			// Liveness was recorded in OnData.
		case protocol.EventClose:
			e.onPeerClose(c, ev)
			return len(data)
		}
	}
	return consumed
}

// onData assembles a message from its chunks and dispatches it when
// complete. It reports false when the worker pool pushed back.
func (e *Engine) onData(c *Conn, ev protocol.Event) bool {
	if phase(c.phase.Load()) != phaseOpen {
		return true // closing: data after our close frame is dropped
	}
	if c.msg == nil {
		c.msg = bufpool.Get(len(ev.Payload))
		c.msgOp = ev.Op
		c.inflate = ev.Compressed
	}
	c.msg = bufpool.Append(c.msg, ev.Payload)
	if !ev.Fin {
		return true
	}
	msg, op := c.msg, c.msgOp
	c.msg = nil
	if c.inflate {
		plain, err := protocol.Inflate(bufpool.Get(4*len(msg)), msg, e.cfg.MaxMessageBytes)
		bufpool.Put(msg)
		if err == nil && op == ws.OpText && !protocol.ValidUTF8(plain) {
			err = &protocol.CloseError{Code: ws.StatusInvalidFramePayloadData, Reason: "invalid UTF-8 in text message"}
		}
		if err != nil {
			bufpool.Put(plain)
			e.stats.protocolErrors.Add(1)
			e.failConn(c, err)
			return true
		}
		msg = plain
	}
	c.lastData.Store(e.now())
	return e.dispatch(task{c: c, kind: taskMessage, op: op, msg: msg, at: e.now()})
}

// onPeerClose answers the peer's close frame and, once our answer is out,
// drops the connection.
func (e *Engine) onPeerClose(c *Conn, ev protocol.Event) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.gotClose = true
	if c.closeOut {
		c.afterFlushLocked() // we started the close; this is the answer
		return
	}
	code := ev.CloseCode
	if code == ws.StatusNoStatusRcvd {
		code = ws.StatusNormalClosure
	}
	c.closeLocked(code, "")
}

// failConn closes the connection for a protocol violation with the code the
// error maps to; it does not wait for the peer's answer longer than
// CloseTimeout.
func (e *Engine) failConn(c *Conn, err error) {
	var reason string
	if ce, ok := err.(*protocol.CloseError); ok {
		reason = ce.Reason
	}
	c.Close(protocol.CloseCodeFor(err), reason)
}
