package engine

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/switchboard-chat/switchboard/protocol"
)

func TestCompressionNegotiatedOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		e := startEngine(t, "epoll", func(c *Config) { c.Compression = enabled })
		d := &websocket.Dialer{EnableCompression: true}
		c, resp, err := d.Dial(wsURL(e, "/echo"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ext := resp.Header.Get("Sec-WebSocket-Extensions")
		if got := ext != ""; got != enabled {
			t.Fatalf("compression enabled=%v: server answered extensions %q", enabled, ext)
		}
		// Compressible and incompressible messages, both types, both
		// directions (the server compresses what it echoes when negotiated).
		for _, msg := range [][]byte{bytes.Repeat([]byte("switchboard "), 1000), payload(5000, false), []byte("tiny")} {
			typ := websocket.BinaryMessage
			if msg[0] == 's' || msg[0] == 't' {
				typ = websocket.TextMessage
			}
			c.WriteMessage(typ, msg)
			gotTyp, got, err := c.ReadMessage()
			if err != nil || gotTyp != typ || !bytes.Equal(got, msg) {
				t.Fatalf("compressed echo: type %d, %d bytes, err %v", gotTyp, len(got), err)
			}
		}
		c.Close()
	}
}

func TestCompressionBombClosedWith1009(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		e := startEngine(t, backend, func(c *Config) { c.Compression = true; c.MaxMessageBytes = 64 << 10; c.MaxFrameBytes = 64 << 10 })
		c := rawDial(t, e)
		req := upgradeRequest("/echo")
		req = req[:len(req)-2] + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
		c.Write([]byte(req))
		r := bufioReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") == "" {
			t.Fatalf("upgrade with deflate: %v %v", resp, err)
		}
		// 10 MiB of zeros deflates to about 10 KB: small on the wire, far
		// over the 64 KiB message limit once inflated.
		bomb := protocol.Deflate(nil, make([]byte, 10<<20))
		h := ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpBinary, Masked: true,
			Length: int64(len(bomb)), Mask: ws.NewMask()}
		ws.Cipher(bomb, h.Mask, 0)
		ws.WriteHeader(c, h)
		c.Write(bomb)
		expectClose(t, r, ws.StatusMessageTooBig)
	})
}
