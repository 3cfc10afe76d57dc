package peer

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// Nbio serves with github.com/lesismal/nbio: its nbhttp engine in the
// default non-blocking I/O mode, the configuration its README recommends
// for many connections. Sockets are watched by epoll pollers (one per core
// here, like switchboard's loops; nbio's own default is a quarter of the
// cores), read into one buffer per poller, and messages are handed to
// callbacks on nbio's goroutine pool: no goroutine per connection.
// Payloads are released after each callback (ReleaseWebsocketPayload).
//
// Upgraded connections have no read deadline (KeepaliveTime 0), as in the
// other servers, whose idle clients stay until they stop answering pings;
// nbio's default would close a client that sends nothing for 120 s.
func Nbio(ctx context.Context, addr string, app *App) error {
	logging.SetLevel(logging.LevelError)

	echo := websocket.NewUpgrader()
	echo.KeepaliveTime = 0
	echo.CheckOrigin = func(*http.Request) bool { return true }
	echo.OnOpen(func(*websocket.Conn) { app.Conns.Add(1) })
	echo.OnClose(func(*websocket.Conn, error) { app.Conns.Add(-1) })
	echo.OnMessage(func(c *websocket.Conn, typ websocket.MessageType, data []byte) {
		_ = c.WriteMessage(typ, data)
	})

	chat := websocket.NewUpgrader()
	chat.KeepaliveTime = 0
	chat.CheckOrigin = func(*http.Request) bool { return true }
	chat.OnOpen(func(*websocket.Conn) { app.Conns.Add(1) })
	chat.OnClose(func(c *websocket.Conn, _ error) {
		app.Conns.Add(-1)
		if s, ok := c.Session().(*Session); ok {
			s.Close()
		}
	})
	chat.OnMessage(func(c *websocket.Conn, typ websocket.MessageType, data []byte) {
		// Session waits until the upgrade handler has set it.
		if s, ok := c.Session().(*Session); ok && typ == websocket.TextMessage {
			s.Handle(data)
		}
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		_, _ = echo.Upgrade(w, r, nil) // on error Upgrade has answered
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := chat.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.SetSession(app.Hub.Session(nbioSender{c}, UserOf(r.URL)))
	})

	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{addr},
		Handler:                 mux,
		NPoller:                 runtime.NumCPU(),
		ReleaseWebsocketPayload: true,
	})
	if err := engine.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return engine.Shutdown(sctx)
}

// nbioSender writes through nbio, whose Conn.WriteMessage is safe for
// concurrent use and queues what the socket does not take.
type nbioSender struct{ c *websocket.Conn }

func (s nbioSender) Send(p []byte) error { return s.c.WriteMessage(websocket.TextMessage, p) }
