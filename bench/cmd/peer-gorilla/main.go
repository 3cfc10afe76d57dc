// Command peer-gorilla is the reference point for side-by-side benchmarks:
// a github.com/gorilla/websocket server in the classic design, one
// goroutine per connection blocked in ReadMessage, with net/http's
// per-connection buffers. It serves the same contract as `switchboard
// serve`: --addr, --admin-addr, /echo, /healthz, the admin endpoints
// /debug/stats and /debug/gc, and at /ws the minimal room hub of package
// peer for the fan-out scenario. It exits on SIGTERM or SIGINT.
package main

import "github.com/switchboard-chat/switchboard/bench/internal/peer"

func main() { peer.Main("peer-gorilla", peer.Gorilla) }
