package engine

import (
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// BenchmarkEchoRoundTrip measures one 64-byte message to the echo app and
// back over loopback, client and server in this process. The client side
// reuses one pre-masked frame and one read buffer, so allocs/op is the
// server's (message buffer pooling, queue, wheel: all should be zero).
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, backend := range []string{"epoll", "netpoll"} {
		b.Run(backend, func(b *testing.B) {
			e := startEngine(b, backend, nil)
			c := rawDial(b, e)
			r := rawUpgrade(b, c, "/echo")
			frame := maskedFrame(ws.OpBinary, true, make([]byte, 64))
			reply := make([]byte, 2+64)
			b.ReportAllocs()
			b.SetBytes(64)
			for b.Loop() {
				if _, err := c.Write(frame); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, reply); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
