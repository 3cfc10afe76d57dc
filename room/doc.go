// Package room will hold the chat layer: rooms, membership and roles,
// invites, per-room seq assignment through the store, encode-once fan-out,
// presence, typing, read cursors and replay. It never touches sockets: it
// talks to connections through the engine's App interface. (Chat-server
// issue; empty until then.)
package room
