package evloop

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
	"github.com/switchboard-chat/switchboard/bench/internal/wsframe"
)

// greeter is a server that greets each connection with one text message
// naming the user it was dialed as, then echoes.
func greeter(t *testing.T) string {
	t.Helper()
	var wg sync.WaitGroup
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer c.Close()
		if err := c.WriteMessage(websocket.TextMessage, []byte("hi "+r.URL.Query().Get("user"))); err != nil {
			return
		}
		for {
			op, p, err := c.ReadMessage()
			if err != nil || c.WriteMessage(op, p) != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// recorder is a Handler that keeps every data frame by connection.
type recorder struct {
	data map[int][]string
	lost int
}

func (r *recorder) Data(c *Conn, _ wsframe.Header, p []byte) {
	r.data[c.ID] = append(r.data[c.ID], string(p))
}
func (r *recorder) Closed(c *Conn, _ []byte) { c.Dead = true }
func (r *recorder) Lost(*Conn, error)        { r.lost++ }

func TestDialAllAndLoop(t *testing.T) {
	base := greeter(t)
	urls := []string{base + "/?user=a", base + "/?user=b", base + "/?user=c"}
	conns, failures, lastErr := DialAll(wsclient.Dialer{Source: []byte{127, 0, 0, 2}}, urls, 2)
	if len(conns) != 3 || failures != 0 || lastErr != nil {
		t.Fatalf("%d connections, %d failures (%v)", len(conns), failures, lastErr)
	}
	jobs := []int{conns[0].Job, conns[1].Job, conns[2].Job}
	slices.Sort(jobs)
	if !slices.Equal(jobs, []int{0, 1, 2}) {
		t.Fatalf("jobs %v, want each URL once", jobs)
	}

	rec := &recorder{data: map[int][]string{}}
	l, err := New(conns, Config{RBufCap: 16, MaxFrame: 1 << 10, EOFError: "eof"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Each connection's greeting arrives, possibly already read with the
	// handshake response (Buffered), and its echo after it.
	for _, c := range l.Conns {
		l.Write(c, wsframe.AppendClientFrame(nil, wsframe.OpText, []byte("again")))
	}
	events := make([]unix.EpollEvent, 8)
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.data[0])+len(rec.data[1])+len(rec.data[2]) < 6 && time.Now().Before(deadline) {
		n, err := unix.EpollWait(l.EPFD, events, 100)
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		for _, ev := range events[:max(n, 0)] {
			l.Serve(ev)
		}
	}
	for i, c := range l.Conns {
		want := []string{"hi " + []string{"a", "b", "c"}[conns[i].Job], "again"}
		if got := rec.data[c.ID]; !slices.Equal(got, want) {
			t.Errorf("connection %d (job %d) read %q, want %q", c.ID, conns[i].Job, got, want)
		}
	}
	if rec.lost != 0 {
		t.Errorf("%d connections lost", rec.lost)
	}
}

func TestDialAllRefused(t *testing.T) {
	conns, failures, lastErr := DialAll(wsclient.Dialer{Timeout: time.Second}, []string{"ws://127.0.0.1:1/", "ws://127.0.0.1:1/"}, 4)
	if len(conns) != 0 || failures != 2*dialTries || lastErr == nil {
		t.Errorf("against a closed port: %d connections, %d failures, %v", len(conns), failures, lastErr)
	}
}
