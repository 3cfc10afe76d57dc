// Command peer-gobwas is a peer server for side-by-side benchmarks:
// github.com/gobwas/ws upgraded from net/http with one goroutine per
// connection reading whole messages through wsutil and no buffer kept
// between them. It serves the same contract as peer-gorilla (package peer).
package main

import "github.com/switchboard-chat/switchboard/bench/internal/peer"

func main() { peer.Main("peer-gobwas", peer.Gobwas) }
