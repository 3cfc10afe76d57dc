package evloop

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-chat/switchboard/bench/internal/wsclient"
)

// Dialed is a connection taken out of the Go runtime after its handshake
// (wsclient.Conn.Detach), ready for a Loop: a non-blocking fd and the
// bytes already read past the handshake response.
type Dialed struct {
	FD       int
	Buffered []byte
	Job      int // the index of its URL in DialAll's list
}

// dialTries is how often DialAll tries one connection.
const dialTries = 3

// DialAll connects to every one of urls with d, conc dials at a time, each
// tried up to three times with a pause between tries, and detaches the
// connections for a Loop. It returns them in the order they connected,
// the failed tries and the last error of one. The caller owns the fds.
func DialAll(d wsclient.Dialer, urls []string, conc int) (conns []Dialed, failures int, lastErr error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for job, url := range urls {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for range dialTries {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				c, err := d.Dial(ctx, url)
				cancel()
				if err == nil {
					var fd int
					var buffered []byte
					if fd, buffered, err = c.Detach(); err == nil {
						mu.Lock()
						conns = append(conns, Dialed{FD: fd, Buffered: buffered, Job: job})
						mu.Unlock()
						return
					}
				}
				mu.Lock()
				failures++
				lastErr = err
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // do not hammer a refusing server
			}
		})
	}
	wg.Wait()
	return conns, failures, lastErr
}
