package adversarial

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/room"
)

// TestHeaderFloods: requests past the 8 KiB header limit get 431, whether
// one huge header, thousands of small ones, or a line that never ends (the
// parser fails as soon as the limit passes, before any blank line); a
// crowd of such clients at once changes nothing for the bystander.
func TestHeaderFloods(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := startTarget(t, backend, nil)
		start := "GET /ws HTTP/1.1\r\nHost: x\r\n"
		var many strings.Builder
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(&many, "X-H%d: v\r\n", i)
		}
		cases := []struct{ name, request string }{
			{"one huge header", start + "X-Pad: " + strings.Repeat("a", 9000) + "\r\n\r\n"},
			{"2,000 small headers", start + many.String() + "\r\n"},
			{"a line that never ends", start + "X-Pad: " + strings.Repeat("a", 8200)},
			{"huge request line", "GET /ws?" + strings.Repeat("q", 10000) + " HTTP/1.1\r\n\r\n"},
		}
		tg.attack(t, func(t *testing.T) {
			for _, tc := range cases {
				if resp := tg.httpAnswer(t, "127.0.0.2", []byte(tc.request)); resp.StatusCode != 431 {
					t.Fatalf("%s: status %d, want 431", tc.name, resp.StatusCode)
				}
			}
			// A crowd: every client sends a header line past the limit.
			crowd := scale(50, 2000)
			ips := sourceIPs(10, 8)
			var wg sync.WaitGroup
			statuses := make([]int, crowd)
			for i := range crowd {
				c := tg.dialFrom(t, ips[i%len(ips)])
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.Write([]byte(cases[2].request)) // the server may stop reading at the limit
					if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
						statuses[i] = resp.StatusCode
					}
					c.Close()
				}()
			}
			wg.Wait()
			for i, s := range statuses {
				if s != 431 {
					t.Fatalf("crowd client %d: status %d, want 431", i, s)
				}
			}
			t.Logf("%d clients flooding headers at once: all answered 431", crowd)
		})
	})
}

// TestMalformedUpgrades: every broken upgrade request gets its documented
// status and the connection is closed after it.
func TestMalformedUpgrades(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := startTarget(t, backend, nil)
		key := "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		v13 := "Sec-WebSocket-Version: 13\r\n"
		up := "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		host := "Host: x\r\n"
		tok := "Authorization: Bearer " + tg.token(t, "mallory") + "\r\n"
		get := "GET /ws HTTP/1.1\r\n"
		cases := []struct {
			name, request string
			status        int
			header        string // a header the answer must carry
		}{
			{"missing Upgrade", get + host + "Connection: Upgrade\r\n" + key + v13 + tok + "\r\n", 426, "Upgrade"},
			{"missing Connection", get + host + "Upgrade: websocket\r\n" + key + v13 + tok + "\r\n", 426, "Upgrade"},
			{"Upgrade: h2c", get + host + "Upgrade: h2c\r\nConnection: Upgrade\r\n" + key + v13 + tok + "\r\n", 426, ""},
			{"Connection without upgrade token", get + host + "Upgrade: websocket\r\nConnection: keep-alive\r\n" + key + v13 + tok + "\r\n", 426, ""},
			{"missing key", get + host + up + v13 + tok + "\r\n", 400, ""},
			{"key not base64", get + host + up + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" + v13 + tok + "\r\n", 400, ""},
			{"key of 15 bytes", get + host + up + "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4P\r\n" + v13 + tok + "\r\n", 400, ""},
			{"duplicate key", get + host + up + key + key + v13 + tok + "\r\n", 400, ""},
			{"duplicate Host", get + host + host + up + key + v13 + tok + "\r\n", 400, ""},
			{"duplicate Authorization", get + host + up + key + v13 + tok + tok + "\r\n", 400, ""},
			{"duplicate Origin", get + host + up + key + v13 + tok + "Origin: " + allowedOrigin + "\r\nOrigin: " + allowedOrigin + "\r\n\r\n", 400, ""},
			{"missing Host", get + up + key + v13 + tok + "\r\n", 400, ""},
			{"version 8", get + host + up + key + "Sec-WebSocket-Version: 8\r\n" + tok + "\r\n", 426, "Sec-WebSocket-Version"},
			{"no version", get + host + up + key + tok + "\r\n", 426, "Sec-WebSocket-Version"},
			{"POST", "POST /ws HTTP/1.1\r\n" + host + up + key + v13 + tok + "\r\n", 405, "Allow"},
			{"HTTP/1.0", "GET /ws HTTP/1.0\r\n" + host + up + key + v13 + tok + "\r\n", 400, ""},
			{"HTTP/2.0", "GET /ws HTTP/2.0\r\n" + host + up + key + v13 + tok + "\r\n", 505, ""},
			{"no HTTP version", "GET /ws\r\n" + host + "\r\n", 400, ""},
			{"absurd Content-Length", get + host + up + key + v13 + tok + "Content-Length: 99999999999999999999999999\r\n\r\n", 400, ""},
			{"Content-Length with a body", get + host + up + key + v13 + tok + "Content-Length: 4\r\n\r\n\x81\x80\x00\x00", 400, ""},
			{"Transfer-Encoding", get + host + up + key + v13 + tok + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ""},
			{"obsolete line folding", get + host + up + key + v13 + tok + "X-A: a\r\n folded\r\n\r\n", 400, ""},
			{"bare LF", "GET /ws HTTP/1.1\n" + host + "\n", 400, ""},
			{"NUL in a header", get + host + "X-A: a\x00b\r\n" + up + key + v13 + tok + "\r\n", 400, ""},
			{"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 40) + "\r\n\r\n", 400, ""},
			{"no token", get + host + up + key + v13 + "\r\n", 401, "WWW-Authenticate"},
			{"unknown path", "GET /admin HTTP/1.1\r\n" + host + up + key + v13 + tok + "\r\n", 404, ""},
			{"absolute-form target", "GET http://evil.example/ws HTTP/1.1\r\n" + host + up + key + v13 + tok + "\r\n", 404, ""},
		}
		tg.attack(t, func(t *testing.T) {
			for _, tc := range cases {
				resp := tg.httpAnswer(t, "127.0.0.2", []byte(tc.request))
				if resp.StatusCode != tc.status {
					t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
				}
				if tc.header != "" && resp.Header.Get(tc.header) == "" {
					t.Errorf("%s: answer lacks %s", tc.name, tc.header)
				}
				if !resp.Close {
					t.Errorf("%s: answer without Connection: close", tc.name)
				}
			}
			if st := tg.e.Stats(); st.Upgraded != 2 {
				t.Fatalf("Upgraded = %d: a malformed request was upgraded", st.Upgraded-2)
			}
		})
	})
}

// TestPipelinedGarbage: bytes after the request are the frame stream, so
// garbage there is a protocol error (1002) on the upgraded connection;
// after a refused or plain HTTP request it is ignored: one answer, then
// the connection is closed.
func TestPipelinedGarbage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := startTarget(t, backend, nil)
		tg.attack(t, func(t *testing.T) {
			for name, garbage := range map[string]string{
				"binary garbage":          "\x00\xff\xfe\xfd garbage",
				"a second HTTP request":   "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n",
				"an unmasked frame":       "\x81\x02hi",
				"a frame with RSV2 and 3": "\xb1\x80\x00\x00\x00\x00",
			} {
				c := tg.dialFrom(t, "127.0.0.2")
				c.Write([]byte(upgradeRequest(tg, t, "mallory") + garbage))
				wc := &wsConn{t: t, c: c, r: bufio.NewReader(c)}
				if resp, err := http.ReadResponse(wc.r, nil); err != nil || resp.StatusCode != 101 {
					t.Fatalf("%s: %v %v, want 101", name, resp, err)
				}
				wc.expectClose(ws.StatusProtocolError)
			}
			for name, request := range map[string]string{
				"after a 404":     "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
				"after a 401":     upgradeRequest(tg, t, ""),
				"after /healthz":  "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
				"after a 400 bad": "GET /ws HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
			} {
				c := tg.dialFrom(t, "127.0.0.2")
				c.Write([]byte(request + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff garbage"))
				r := bufio.NewReader(c)
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				io.ReadAll(resp.Body)
				if rest, _ := io.ReadAll(r); len(rest) != 0 {
					t.Fatalf("%s: %d more bytes after the answer: %q", name, len(rest), rest)
				}
			}
		})
	})
}

// TestClientThatNeverReads: a client that asks for large answers (history
// pages of big messages) and never reads fills its socket, then its
// outbound queue; past --outbound-budget it is closed with 4001 and the
// bystander is not slowed down.
func TestClientThatNeverReads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		tg := startTarget(t, backend, func(e *engine.Config, _ *room.Config) { e.OutboundBudget = 512 << 10 })
		tg.attack(t, func(t *testing.T) {
			owner := tg.owner(t, "big", false, true)
			body := strings.Repeat("x", 15<<10)
			for i := 0; i < 30; i++ {
				owner.send(fmt.Sprintf(`{"type":"publish","room":"big","id":"%d","body":%q}`, i, body))
				owner.expect("ack")
			}
			owner.c.Close()
			m := tg.open(t, "127.0.0.2", "mallory")
			m.send(`{"type":"join","room":"big","since":0}`) // 450 KiB of replay
			for i := 0; i < 35; i++ {                        // 35 pages of 450 KiB, never read
				m.send(`{"type":"history","room":"big","limit":100}`)
			}
			waitFor(t, "slow consumer closed", func() bool { return tg.e.Stats().SlowConsumers == 1 })
			m.expectClose(protocol.StatusSlowConsumer)
		})
	})
}
