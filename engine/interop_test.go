package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

// Interop with two independent, widely used client libraries, on every
// poller backend.

var echoSizes = []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 100_000, 1 << 20}

func payload(n int, text bool) []byte {
	b := make([]byte, n)
	for i := range b {
		if text {
			b[i] = 'a' + byte(i%26)
		} else {
			b[i] = byte(i * 7)
		}
	}
	return b
}

func gorillaDial(t testing.TB, e *Engine, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	c, resp, err := d.Dial(wsURL(e, "/echo"), nil)
	if err != nil {
		t.Fatalf("gorilla dial: %v (resp %v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return c
}

func TestInteropGorillaEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		c := gorillaDial(t, e, nil)
		for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
			for _, n := range echoSizes {
				msg := payload(n, typ == websocket.TextMessage)
				if err := c.WriteMessage(typ, msg); err != nil {
					t.Fatalf("write %d: %v", n, err)
				}
				gotTyp, got, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("read %d: %v", n, err)
				}
				if gotTyp != typ || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes type %d: got %d bytes type %d", n, typ, len(got), gotTyp)
				}
			}
		}
	})
}

func TestInteropGorillaFragmented(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		// A small write buffer makes gorilla send each message as many
		// continuation frames.
		c := gorillaDial(t, e, &websocket.Dialer{WriteBufferSize: 256, HandshakeTimeout: 5 * time.Second})
		// Interleave a ping between fragments too.
		msg := payload(10_000, true)
		w, err := c.NextWriter(websocket.TextMessage)
		if err != nil {
			t.Fatal(err)
		}
		pongs := make(chan string, 1)
		c.SetPongHandler(func(s string) error { pongs <- s; return nil })
		w.Write(msg[:5000])
		if err := c.WriteControl(websocket.PingMessage, []byte("mid"), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		w.Write(msg[5000:])
		w.Close()
		_, got, err := c.ReadMessage() // runs the pong handler first
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("fragmented echo mismatch: %d bytes", len(got))
		}
		select {
		case p := <-pongs:
			if p != "mid" {
				t.Fatalf("pong payload %q, want mid", p)
			}
		default:
			t.Fatal("no pong for a ping sent between fragments")
		}
	})
}

func TestInteropGorillaCloseHandshake(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		c := gorillaDial(t, e, nil)
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
		if err := c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
			t.Fatalf("read after close = %v, want close 1000 echoed", err)
		}
	})
}

func TestInteropCoderEcho(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, err := coder.Dial(ctx, wsURL(e, "/echo"), nil)
		if err != nil {
			t.Fatalf("coder dial: %v", err)
		}
		defer c.CloseNow()
		c.SetReadLimit(2 << 20)
		for _, typ := range []coder.MessageType{coder.MessageText, coder.MessageBinary} {
			for _, n := range echoSizes {
				msg := payload(n, typ == coder.MessageText)
				if err := c.Write(ctx, typ, msg); err != nil {
					t.Fatalf("write %d: %v", n, err)
				}
				gotTyp, got, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("read %d: %v", n, err)
				}
				if gotTyp != typ || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes: got %d bytes type %v", n, len(got), gotTyp)
				}
			}
		}
		// coder's Ping waits for the matching pong, which needs a reader.
		go c.Read(ctx)
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		if err := c.Close(coder.StatusNormalClosure, "done"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
	})
}

func TestInteropManyConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, nil)
		const n = 2000
		conns := make([]*websocket.Conn, n)
		for i := range conns {
			conns[i] = gorillaDial(t, e, nil)
		}
		waitFor(t, "all upgraded", func() bool { return e.Stats().Conns == n })
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Appendf(nil, "hello from %d", i)
				if err := c.WriteMessage(websocket.TextMessage, want); err != nil {
					errs <- err
					return
				}
				_, got, err := c.ReadMessage()
				if err != nil {
					errs <- err
				} else if !bytes.Equal(got, want) {
					errs <- fmt.Errorf("conn %d got %q", i, got)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
