package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Gobwas serves with github.com/gobwas/ws upgraded from net/http, one
// goroutine per connection reading whole messages with wsutil (which also
// answers pings and closes). The hijacked bufio buffers are dropped after
// the upgrade, so an idle connection holds its goroutine and socket only.
func Gobwas(ctx context.Context, addr string, app *App) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := gobwasUpgrade(w, r)
		if err != nil {
			return
		}
		app.Conns.Add(1)
		defer app.Conns.Add(-1)
		defer conn.Close()
		for {
			msg, op, err := wsutil.ReadClientData(rw)
			if err != nil {
				return
			}
			if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := gobwasUpgrade(w, r)
		if err != nil {
			return
		}
		app.Conns.Add(1)
		defer app.Conns.Add(-1)
		defer conn.Close()
		out := &gobwasSender{conn: conn}
		s := app.Hub.Session(out, UserOf(r.URL))
		defer s.Close()
		for {
			msg, err := out.readText(rw)
			if err != nil {
				return
			}
			s.Handle(msg)
		}
	})
	return serveHTTP(ctx, addr, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
}

// gobwasUpgrade upgrades r and returns the connection with a reader that
// first yields any bytes net/http had already buffered past the request.
func gobwasUpgrade(w http.ResponseWriter, r *http.Request) (net.Conn, io.ReadWriter, error) {
	conn, brw, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return nil, nil, err // UpgradeHTTP has answered with an HTTP error
	}
	var rd io.Reader = conn
	if brw != nil && brw.Reader.Buffered() > 0 {
		rd = io.MultiReader(io.LimitReader(brw.Reader, int64(brw.Reader.Buffered())), conn)
	}
	return conn, readWriter{Reader: rd, Writer: conn}, nil
}

type readWriter struct {
	io.Reader
	io.Writer
}

// gobwasSender serializes whole-message writes to one connection.
type gobwasSender struct {
	mu   sync.Mutex
	conn net.Conn
}

func (s *gobwasSender) Send(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := wsutil.WriteServerMessage(s.conn, ws.OpText, p)
	if err != nil {
		s.conn.Close()
	}
	return err
}

// readText reads the next text message from r, as wsutil.ReadClientText
// does, except that a control frame's answer (pong, close) is built in
// memory and written under the sender's lock in one piece: a publish on
// another connection may be writing to this one at the same moment.
func (s *gobwasSender) readText(r io.Reader) ([]byte, error) {
	onControl := func(h ws.Header, src io.Reader) error {
		var reply bytes.Buffer
		err := wsutil.ControlHandler{Src: src, Dst: &reply, State: ws.StateServerSide}.Handle(h)
		if reply.Len() > 0 {
			s.mu.Lock()
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			_, werr := s.conn.Write(reply.Bytes())
			s.mu.Unlock()
			err = errors.Join(err, werr)
		}
		return err
	}
	rd := wsutil.Reader{Source: r, State: ws.StateServerSide, CheckUTF8: true, OnIntermediate: onControl}
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if err := onControl(h, &rd); err != nil {
				return nil, err
			}
			continue
		}
		if h.OpCode != ws.OpText {
			if err := rd.Discard(); err != nil {
				return nil, err
			}
			continue
		}
		return io.ReadAll(&rd)
	}
}
