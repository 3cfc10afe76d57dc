// Command peer-nbio is a peer server for side-by-side benchmarks:
// github.com/lesismal/nbio's nbhttp engine in non-blocking mode, epoll
// pollers and a callback goroutine pool, no goroutine per connection. It
// serves the same contract as peer-gorilla (package peer).
package main

import "github.com/switchboard-chat/switchboard/bench/internal/peer"

func main() { peer.Main("peer-nbio", peer.Nbio) }
