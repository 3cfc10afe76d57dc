package engine

import (
	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/protocol"
)

// Echo is the App behind `serve --echo`: every complete text or binary
// message goes back to its sender as one message of the same type. It is
// what benchmarks and conformance suites talk to.
type Echo struct{}

// Accept upgrades every request.
func (Echo) Accept(*protocol.Request) (any, *protocol.HTTPError) { return nil, nil }

// OnOpen does nothing.
func (Echo) OnOpen(*Conn) {}

// OnMessage sends msg back.
func (Echo) OnMessage(c *Conn, op ws.OpCode, msg []byte) { c.WriteMessage(op, msg) }

// OnClose does nothing.
func (Echo) OnClose(*Conn) {}
