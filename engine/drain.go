package engine

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// Drainer is an optional App interface. During Shutdown the engine calls
// Drain for each of the app's open connections just before sending it
// close 1001, with the delay after which that client should reconnect
// (drawn uniformly from [0, Config.ReconnectWindow), so that clients do
// not all come back at once). Drain runs on the goroutine that called
// Shutdown, not on the connection's worker; it may write to c (what it
// writes goes out before the close frame) and must not block.
type Drainer interface {
	Drain(c *Conn, reconnectAfter time.Duration)
}

// GoingAwayReason is the reason of the 1001 close frame sent at shutdown,
// "server shutting down; reconnect after N ms": plain WebSocket clients
// get the jittered delay too.
func GoingAwayReason(reconnectAfter time.Duration) string {
	return "server shutting down; reconnect after " + strconv.FormatInt(reconnectAfter.Milliseconds(), 10) + " ms"
}

// goAway tells c to reconnect elsewhere or later, and closes it with 1001.
func (e *Engine) goAway(c *Conn) {
	var after time.Duration
	if w := e.cfg.ReconnectWindow; w > 0 {
		after = rand.N(w).Truncate(time.Millisecond)
	}
	if d, ok := c.app.(Drainer); ok {
		d.Drain(c, after)
	}
	c.Close(ws.StatusGoingAway, GoingAwayReason(after))
}
