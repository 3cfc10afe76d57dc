module github.com/switchboard-chat/switchboard/bench

go 1.26.0

require (
	github.com/gobwas/ws v1.4.0
	github.com/gorilla/websocket v1.5.3
	golang.org/x/sys v0.49.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
)
