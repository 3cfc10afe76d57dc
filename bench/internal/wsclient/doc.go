// Package wsclient is the lean WebSocket client side of the load workers:
// dial from a chosen loopback source address, complete the RFC 6455
// handshake (github.com/gobwas/ws), then hold the connection, answering
// pings with pongs and closes with closes.
//
// A caller with its own event loop (the echo scenario) takes the socket out
// of the Go runtime with Detach after the handshake.
//
// Concurrency: a Conn is written only by its own Hold loop (pongs, close
// reply) until Hold returns; Close may be called from any goroutine.
// Detach must not run concurrently with Hold.
package wsclient
