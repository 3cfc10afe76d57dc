// Package chattest drives the chat protocol from tests against running
// servers, in process or not, and checks the one promise that survives
// every fault: each acked message reaches each member exactly once, live
// or by replay (join with since), in seq order.
//
// A Member stays in a room across failures: when its connection ends it
// reconnects to the next address it was given and rejoins with since. A
// Publisher sends numbered messages and retries each with the same id until
// acked, reconnecting the same way. A Ledger gathers acks and deliveries
// and reports sent, acked, delivered, lost and duplicated counts.
//
// Only tests import this package; it needs servers started with
// --auth none (the user name comes from ?user=).
package chattest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one decoded server frame.
type Frame map[string]any

// Type is the frame's type.
func (f Frame) Type() string { s, _ := f["type"].(string); return s }

// Seq is the frame's seq (0 when absent).
func (f Frame) Seq() uint64 { n, _ := f["seq"].(float64); return uint64(n) }

// Str is a string field.
func (f Frame) Str(k string) string { s, _ := f[k].(string); return s }

// Client is one connection. Frames arrive on a channel from a reader
// goroutine, so callers wait on them with deadlines.
type Client struct {
	User   string
	conn   *websocket.Conn
	frames chan Frame
	// CloseCode is the close code the server sent (after Frames closes).
	CloseCode int
}

// Dial connects user to ws://addr/ws.
func Dial(ctx context.Context, addr, user string) (*Client, error) {
	return dial(ctx, addr, user, 4096)
}

// dial connects with room for buf frames between the socket and the
// caller: a caller that stops taking frames stops the socket's reads once
// buf are waiting.
func dial(ctx context.Context, addr, user string, buf int) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 1024}
	conn, _, err := d.DialContext(ctx, fmt.Sprintf("ws://%s/ws?user=%s", addr, user), nil)
	if err != nil {
		return nil, err
	}
	c := &Client{User: user, conn: conn, frames: make(chan Frame, buf)}
	go c.read()
	if f, err := c.Next(ctx, "welcome"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: no welcome: %w (%v)", user, err, f)
	}
	return c, nil
}

func (c *Client) read() {
	defer close(c.frames)
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.CloseCode = ce.Code
			}
			return
		}
		var f Frame
		if json.Unmarshal(p, &f) == nil {
			c.frames <- f
		}
	}
}

// Frames is the channel of incoming frames; it closes with the connection.
func (c *Client) Frames() <-chan Frame { return c.frames }

// Send writes one text frame.
func (c *Client) Send(frame string) error {
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, []byte(frame))
}

// Close closes the connection.
func (c *Client) Close() { c.conn.Close() }

// ErrClosed: the connection ended while waiting.
var ErrClosed = errors.New("chattest: connection closed")

// Next returns the next frame of one of types, skipping others; an error
// frame is returned too, whatever types says.
func (c *Client) Next(ctx context.Context, types ...string) (Frame, error) {
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return nil, ErrClosed
			}
			if f.Type() == "error" {
				return f, nil
			}
			for _, t := range types {
				if f.Type() == t {
					return f, nil
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Ledger records acks and deliveries. Safe for concurrent use.
type Ledger struct {
	mu        sync.Mutex
	sent      int
	acked     map[string]uint64            // message id -> seq
	delivered map[string]map[uint64]string // member -> seq -> id
	dups      map[string]int               // member -> deliveries of a seq seen before
	evicted   int
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger {
	return &Ledger{acked: map[string]uint64{}, delivered: map[string]map[uint64]string{}, dups: map[string]int{}}
}

func (l *Ledger) ack(id string, seq uint64) {
	l.mu.Lock()
	l.acked[id] = seq
	l.mu.Unlock()
}

func (l *Ledger) deliver(member string, seq uint64, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.delivered[member]
	if m == nil {
		m = map[uint64]string{}
		l.delivered[member] = m
	}
	if _, seen := m[seq]; seen {
		l.dups[member]++
		return
	}
	m[seq] = id
}

// Counts is a ledger's summary.
type Counts struct {
	Sent, Acked, Delivered, Lost, Duplicated, Mismatched, Evicted int
}

func (c Counts) String() string {
	return fmt.Sprintf("sent=%d acked=%d delivered=%d lost=%d duplicated=%d mismatched=%d evicted=%d",
		c.Sent, c.Acked, c.Delivered, c.Lost, c.Duplicated, c.Mismatched, c.Evicted)
}

// Count summarises the ledger for members: Delivered counts every
// (member, acked message) pair delivered, Lost every pair not delivered,
// Mismatched every acked seq a member got with another id.
func (l *Ledger) Count(members []string) Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := Counts{Sent: l.sent, Acked: len(l.acked), Evicted: l.evicted}
	for _, m := range members {
		got := l.delivered[m]
		for id, seq := range l.acked {
			switch gid, ok := got[seq]; {
			case !ok:
				c.Lost++
			case gid != id:
				c.Mismatched++
			default:
				c.Delivered++
			}
		}
		c.Duplicated += l.dups[m]
	}
	return c
}

// complete reports whether every member has every acked seq.
func (l *Ledger) complete(members []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range members {
		for _, seq := range l.acked {
			if _, ok := l.delivered[m][seq]; !ok {
				return false
			}
		}
	}
	return true
}

// Check waits (up to d) until every member has every acked message, then
// logs the counts and fails t unless nothing was lost, duplicated or
// mismatched. It returns the counts.
func (l *Ledger) Check(t testing.TB, members []*Member, d time.Duration) Counts {
	t.Helper()
	names := make([]string, len(members))
	for i, m := range members {
		names[i] = m.User
	}
	deadline := time.Now().Add(d)
	for !l.complete(names) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	c := l.Count(names)
	t.Logf("%d members: %v", len(members), c)
	if c.Lost != 0 || c.Duplicated != 0 || c.Mismatched != 0 || c.Acked == 0 {
		t.Errorf("every acked message must reach every member exactly once: %v", c)
	}
	return c
}

// Addrs hands out server addresses: Next after a failure moves on to the
// next one (round robin), so clients fail over.
type Addrs struct {
	mu    sync.Mutex
	list  []string
	start int
}

// NewAddrs returns addresses starting at list[first].
func NewAddrs(first int, list ...string) *Addrs { return &Addrs{list: list, start: first} }

func (a *Addrs) current() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.list[a.start%len(a.list)]
}

func (a *Addrs) next() {
	a.mu.Lock()
	a.start++
	a.mu.Unlock()
}

// Member is a client that stays in a room across failures and records what
// it receives in a ledger.
type Member struct {
	User, Room string
	Addrs      *Addrs
	Ledger     *Ledger
	// Pause, when set, makes the member stop reading for PauseFor right
	// after its first join (a slow consumer).
	PauseFor time.Duration

	last uint64 // highest seq received
}

// Run keeps the member in the room until ctx ends.
func (m *Member) Run(ctx context.Context) {
	joined := false
	for ctx.Err() == nil {
		err := m.session(ctx, joined)
		if err == nil || ctx.Err() != nil {
			return
		}
		joined = true
		m.Addrs.next()
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (m *Member) session(ctx context.Context, rejoin bool) error {
	buf := 4096
	if !rejoin && m.PauseFor > 0 {
		buf = 1 // the pause must stop reading the socket, not just the channel
	}
	c, err := dial(ctx, m.Addrs.current(), m.User, buf)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	if err := c.Send(fmt.Sprintf(`{"type":"join","room":%q,"since":%d}`, m.Room, m.last)); err != nil {
		return err
	}
	f, err := c.Next(ctx, "joined")
	if err != nil {
		return err
	}
	if f.Type() == "error" {
		return fmt.Errorf("%s: join: %v", m.User, f)
	}
	if !rejoin && m.PauseFor > 0 {
		select {
		case <-time.After(m.PauseFor):
		case <-ctx.Done():
		}
	}
	for {
		f, ok := <-c.Frames()
		if !ok {
			if c.CloseCode == 4001 {
				m.Ledger.mu.Lock()
				m.Ledger.evicted++
				m.Ledger.mu.Unlock()
			}
			return ErrClosed
		}
		switch f.Type() {
		case "message":
			if f.Str("room") == m.Room {
				m.Ledger.deliver(m.User, f.Seq(), f.Str("id"))
				m.last = max(m.last, f.Seq())
			}
		case "reset":
			return fmt.Errorf("%s: reset: %v", m.User, f)
		}
	}
}

// Publisher sends Count messages with ids "<user>-<i>", each retried with
// the same id until acked: after an unavailable error, or on a new
// connection (the next address) when the old one ends.
type Publisher struct {
	User, Room string
	Count      int
	Addrs      *Addrs
	Ledger     *Ledger
	// Body is each message's JSON body; default the message number.
	Body string
	// Acked, if set, is called after each ack with the number acked so far.
	Acked func(n int)
	// Unavailable counts unavailable answers (outages seen).
	Unavailable int

	mu      sync.Mutex
	refused []string
}

// Run publishes until every message is acked or ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	i := 0
	p.Ledger.mu.Lock()
	p.Ledger.sent += p.Count
	p.Ledger.mu.Unlock()
	for ctx.Err() == nil && i < p.Count {
		if n := len(p.Refused()); n > 20 {
			return fmt.Errorf("%s: %d publishes refused, last %s", p.User, n, p.Refused()[n-1])
		}
		c, err := Dial(ctx, p.Addrs.current(), p.User)
		if err != nil {
			p.Addrs.next()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		i = p.session(ctx, c, i)
		c.Close()
		if i < p.Count {
			p.Addrs.next()
		}
	}
	return ctx.Err()
}

// session publishes from message i on; it returns the next unacked one.
func (p *Publisher) session(ctx context.Context, c *Client, i int) int {
	if c.Send(fmt.Sprintf(`{"type":"join","room":%q}`, p.Room)) != nil {
		return i
	}
	if f, err := c.Next(ctx, "joined"); err != nil || f.Type() == "error" {
		return i
	}
	for i < p.Count {
		id := fmt.Sprintf("%s-%d", p.User, i)
		body := p.Body
		if body == "" {
			body = fmt.Sprint(i)
		}
		if c.Send(fmt.Sprintf(`{"type":"publish","room":%q,"id":%q,"body":%s}`, p.Room, id, body)) != nil {
			return i
		}
		wait, cancel := context.WithTimeout(ctx, 10*time.Second)
		f, err := c.Next(wait, "ack")
		cancel()
		switch {
		case err != nil:
			return i // connection gone or silent: reconnect and retry the same id
		case f.Type() == "ack" && f.Str("id") == id:
			p.Ledger.ack(id, f.Seq())
			i++
			if p.Acked != nil {
				p.Acked(i)
			}
		case f.Str("code") == "unavailable":
			p.Unavailable++
			time.Sleep(50 * time.Millisecond)
		case f.Str("code") == "rate_limited":
			time.Sleep(100 * time.Millisecond)
		default:
			p.mu.Lock()
			p.refused = append(p.refused, fmt.Sprint(f))
			p.mu.Unlock()
			return i
		}
	}
	return i
}

// Refused returns the unexpected answers to publishes (each followed by a
// reconnect and a retry).
func (p *Publisher) Refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...)
}
