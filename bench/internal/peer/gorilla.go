package peer

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// writeTimeout bounds one write to a peer's client: a client that does not
// read for this long is dropped instead of stalling a room's publish.
const writeTimeout = 5 * time.Second

// Gorilla serves with github.com/gorilla/websocket behind net/http in the
// classic design: one goroutine per connection, blocked in ReadMessage,
// with net/http's per-connection buffers (the Upgrader's defaults).
func Gorilla(ctx context.Context, addr string, app *App) error {
	up := websocket.Upgrader{
		// Benchmark clients send no Origin; accept everything.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade has answered with an HTTP error.
		}
		app.Conns.Add(1)
		defer app.Conns.Add(-1)
		defer c.Close()
		// gorilla answers pings and closes inside ReadMessage.
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(typ, msg); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		app.Conns.Add(1)
		defer app.Conns.Add(-1)
		defer c.Close()
		s := app.Hub.Session(&gorillaSender{c: c}, UserOf(r.URL))
		defer s.Close()
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.TextMessage {
				s.Handle(msg)
			}
		}
	})
	return serveHTTP(ctx, addr, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second})
}

// gorillaSender serializes writes: a gorilla Conn allows one writer at a
// time, and a publish on another connection writes here.
type gorillaSender struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (s *gorillaSender) Send(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := s.c.WriteMessage(websocket.TextMessage, p)
	if err != nil {
		s.c.Close() // the reader sees the error and ends the session
	}
	return err
}
