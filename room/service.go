package room

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/engine/auth"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/store"
)

// Authenticator checks a handshake's credentials; *auth.Verifier is one.
type Authenticator interface {
	Authenticate(req *protocol.Request) (auth.Claims, *protocol.HTTPError)
}

// Config configures a Service. Zero values are the documented defaults;
// New validates it once and names the field in any error.
type Config struct {
	// Store keeps rooms, members, messages and cursors. Required.
	Store store.Store
	// Auth checks tokens at the handshake. nil means no authentication:
	// the user name comes from ?user= (a guest name when absent). Insecure,
	// for development; New logs a warning.
	Auth Authenticator
	// InviteSecret signs invite tokens. Default: 32 random bytes, so
	// invites die with the process.
	InviteSecret []byte
	// HistoryOnJoin is how many recent messages a plain join delivers.
	// Default 50.
	HistoryOnJoin int
	// MaxHistoryPage caps a history request's limit. Default 100.
	MaxHistoryPage int
	// MaxReplay is the most messages a join with since replays; a longer
	// gap gets reset. Default 10,000.
	MaxReplay int
	// Limits bounds client frames. Defaults: protocol.ChatLimits defaults.
	Limits protocol.ChatLimits
	// RatePerSecond and RateBurst are each connection's message token
	// bucket. Defaults 20/s and 40.
	RatePerSecond float64
	RateBurst     int
	// UserRatePerSecond and UserRateBurst are each user's bucket, shared
	// by all of the user's connections on this instance. Defaults 40/s and
	// 80.
	UserRatePerSecond float64
	UserRateBurst     int
	// ClusterUserRate is, with a Bus, the most messages one user may send
	// per second across every instance (counted in Redis without a round
	// trip per message, so briefly overshot by up to what the instances
	// accept in 100ms). Default UserRateBurst.
	ClusterUserRate int
	// MaxRateLimited is how many rate_limited answers in a row close the
	// connection with 1008. Default 50.
	MaxRateLimited int
	// MaxConnsPerUser caps one user's open connections, across every
	// instance with a Bus (one Redis round trip per connection opened);
	// the one over it is closed with 1008. 0: no cap.
	MaxConnsPerUser int
	// MaxRoomsPerConn caps the rooms one connection may join. Default 100.
	MaxRoomsPerConn int
	// MaxPublishesInFlight caps, with a store that appends asynchronously
	// (store.AsyncAppender), one connection's publishes handed to the
	// store and not yet answered; the one over is refused with
	// rate_limited. Default 64.
	MaxPublishesInFlight int
	// TypingInterval debounces typing: at most one per user and room per
	// interval. Default 2s.
	TypingInterval time.Duration
	// LargeRoom is the number of connected users above which a room stops
	// broadcasting each user's presence changes (a join storm would cost
	// n² frames); members pages and joined.online give lists and counts on
	// request instead. Default 1,000.
	LargeRoom int
	// ReadInterval coalesces read receipts: at most one broadcast per user
	// and room per interval, carrying the latest seq. Default 1s.
	ReadInterval time.Duration
	// StoreTimeout bounds each store call. Default 5s.
	StoreTimeout time.Duration
	// Bus connects this instance to the others sharing Store (which must
	// then be a shared store, such as PostgreSQL): messages, typing, read
	// receipts, presence and kicks cross instances. nil means a single
	// instance. The Service starts the bus and closes it in Close.
	Bus store.Bus
	// GapTimeout is how long a relayed message may wait for a missing
	// lower seq before the room is refilled from the store. Default
	// 200ms. Used only with a Bus.
	GapTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("room: Config.Store is required")
	}
	if c.InviteSecret == nil {
		c.InviteSecret = make([]byte, 32)
		rand.Read(c.InviteSecret)
	}
	if len(c.InviteSecret) < 16 {
		return fmt.Errorf("room: Config.InviteSecret must be at least 16 bytes, got %d", len(c.InviteSecret))
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"HistoryOnJoin", &c.HistoryOnJoin, 50}, {"MaxHistoryPage", &c.MaxHistoryPage, 100},
		{"MaxReplay", &c.MaxReplay, 10_000}, {"RateBurst", &c.RateBurst, 40},
		{"MaxRateLimited", &c.MaxRateLimited, 50}, {"UserRateBurst", &c.UserRateBurst, 80},
		{"LargeRoom", &c.LargeRoom, 1000}, {"MaxRoomsPerConn", &c.MaxRoomsPerConn, 100},
		{"MaxPublishesInFlight", &c.MaxPublishesInFlight, 64},
		{"ClusterUserRate", &c.ClusterUserRate, 0}, // UserRateBurst, below
		{"MaxConnsPerUser", &c.MaxConnsPerUser, 0},
	}
	for _, f := range ints {
		if *f.v < 0 {
			return fmt.Errorf("room: Config.%s must not be negative, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.ClusterUserRate == 0 {
		c.ClusterUserRate = c.UserRateBurst
	}
	if c.RatePerSecond < 0 {
		return fmt.Errorf("room: Config.RatePerSecond must not be negative, got %v", c.RatePerSecond)
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 20
	}
	if c.UserRatePerSecond < 0 {
		return fmt.Errorf("room: Config.UserRatePerSecond must not be negative, got %v", c.UserRatePerSecond)
	}
	if c.UserRatePerSecond == 0 {
		c.UserRatePerSecond = 40
	}
	if c.TypingInterval < 0 || c.StoreTimeout < 0 {
		return errors.New("room: Config.TypingInterval and StoreTimeout must not be negative")
	}
	if c.TypingInterval == 0 {
		c.TypingInterval = 2 * time.Second
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = 5 * time.Second
	}
	if c.GapTimeout < 0 {
		return errors.New("room: Config.GapTimeout must not be negative")
	}
	if c.GapTimeout == 0 {
		c.GapTimeout = 200 * time.Millisecond
	}
	if c.ReadInterval < 0 {
		return errors.New("room: Config.ReadInterval must not be negative")
	}
	if c.ReadInterval == 0 {
		c.ReadInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Service is the chat application: an engine.App served at /ws.
type Service struct {
	cfg     Config
	e       *engine.Engine
	st      store.Store
	log     *slog.Logger
	rooms   registry
	invites inviteSigner
	users   *userLimits
	cl      *cluster // nil: a single instance
	stats   *counters
	// async is the store's AsyncAppender, nil when it has none (publish
	// then waits for Append on the worker). inflight counts its calls
	// whose completion has not yet been handed to a worker.
	async    store.AsyncAppender
	inflight sync.WaitGroup
}

// New returns the chat service for e. Register it with e.Handle("/ws", s).
func New(e *engine.Engine, cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, e: e, st: cfg.Store, log: cfg.Logger, invites: inviteSigner{secret: cfg.InviteSecret}}
	s.rooms.seed = maphash.MakeSeed()
	s.rooms.st, s.rooms.bus = cfg.Store, cfg.Bus
	s.stats = &counters{}
	s.async, _ = cfg.Store.(store.AsyncAppender)
	s.rooms.stats = s.stats
	s.users = newUserLimits(cfg.UserRatePerSecond, cfg.UserRateBurst)
	if cfg.Auth == nil {
		s.log.Warn("chat authentication is off (--auth none): any client may claim any user name")
	}
	if cfg.Bus != nil {
		s.cl = newCluster(s, cfg.Bus)
		if err := s.cl.start(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// session is one connection's chat state. Its fields are touched only on the
// connection's worker (callbacks and fan-out both run there), except user
// and c, which never change.
type session struct {
	c       *engine.Conn
	user    string
	expires time.Time
	rooms   map[string]*membership
	status  string
	bucket  tokenBucket
	limited int // rate_limited answers in a row
	// inflight counts publishes handed to the store and not yet answered
	// (store.AsyncAppender only).
	inflight int
}

// membership is a session's view of one joined room.
type membership struct {
	lr          *liveRoom
	lastTyping  time.Time
	lastRead    time.Time   // last read broadcast
	readPending uint64      // latest advanced cursor not yet broadcast
	readTimer   *time.Timer // pending coalesced read broadcast, or nil
}

// Accept authenticates the upgrade request (401 before the upgrade on a bad
// or missing token) and returns the new session.
func (s *Service) Accept(req *protocol.Request) (any, *protocol.HTTPError) {
	if s.cfg.Auth != nil {
		claims, herr := s.cfg.Auth.Authenticate(req)
		if herr != nil {
			return nil, herr
		}
		return &session{user: claims.User, expires: claims.Expires}, nil
	}
	user := ""
	if q, err := url.ParseQuery(string(req.Query)); err == nil {
		user = q.Get("user")
	}
	if user == "" {
		var b [4]byte
		rand.Read(b[:])
		user = "guest-" + hex.EncodeToString(b[:])
	}
	if !protocol.ValidUserID(user) {
		return nil, errBadUserName
	}
	return &session{user: user}, nil
}

var errBadUserName = &protocol.HTTPError{Status: 400, Reason: "user must be 1-128 printable characters without spaces"}

// OnOpen greets the client.
func (s *Service) OnOpen(c *engine.Conn) {
	ss := c.Value().(*session)
	ss.c = c
	ss.rooms = map[string]*membership{}
	ss.status = "online"
	ss.bucket = newTokenBucket(s.cfg.RatePerSecond, s.cfg.RateBurst)
	if n := s.openConn(ss.user); s.cfg.MaxConnsPerUser > 0 && n > s.cfg.MaxConnsPerUser {
		c.Close(ws.StatusPolicyViolation, fmt.Sprintf("over %d connections for this user", s.cfg.MaxConnsPerUser))
		return
	}
	if !ss.expires.IsZero() {
		c.SetExpiry(ss.expires)
	}
	s.send(ss, "welcome", struct {
		User     string `json:"user"`
		Session  string `json:"session"`
		Protocol int    `json:"protocol"`
	}{ss.user, strconv.FormatUint(c.ID(), 10), protocol.ChatVersion})
}

// openConn counts a new connection of user and returns the user's
// connections: across the cluster when capped and the bus answers, on
// this instance otherwise.
func (s *Service) openConn(user string) int {
	n := s.users.open(user)
	if s.cl == nil || s.cfg.MaxConnsPerUser == 0 {
		return n
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
	defer cancel()
	if total, err := s.cl.bus.OpenConn(ctx, user); err == nil {
		return total
	}
	return n
}

// OnMessage decodes one client frame and runs its handler.
func (s *Service) OnMessage(c *engine.Conn, op ws.OpCode, msg []byte) {
	ss := c.Value().(*session)
	if op != ws.OpText {
		s.sendError(ss, "", &protocol.ChatError{Code: protocol.CodeBadRequest,
			Message: "send JSON frames as text messages"})
		return
	}
	// Decoded first so that every answer, rate_limited included, can echo
	// the frame's ref; the size limits bound the work.
	f, cerr := protocol.DecodeClientFrame(msg, s.cfg.Limits)
	// Charge limits when the message arrived: a backlog on our side must
	// not look like a burst on the client's.
	now := c.ReceivedAt()
	limit := ""
	switch {
	case !ss.bucket.take(now):
		limit = fmt.Sprintf("over %g messages per second on this connection", s.cfg.RatePerSecond)
	case !s.users.take(ss.user, now):
		limit = fmt.Sprintf("over %g messages per second for this user", s.cfg.UserRatePerSecond)
	case s.cl != nil && s.cl.bus.Charge(ss.user, s.cfg.ClusterUserRate):
		limit = fmt.Sprintf("over %d messages per second for this user across the cluster", s.cfg.ClusterUserRate)
	}
	if limit != "" {
		ss.limited++
		if ss.limited >= s.cfg.MaxRateLimited {
			c.Close(ws.StatusPolicyViolation, "rate limit exceeded repeatedly")
			return
		}
		s.sendError(ss, f.Ref, &protocol.ChatError{Code: protocol.CodeRateLimited, Message: limit})
		return
	}
	ss.limited = 0
	if cerr != nil {
		s.sendError(ss, f.Ref, cerr)
		return
	}
	if f.Room != "" && !store.ValidRoomID(f.Room) {
		s.sendError(ss, f.Ref, &protocol.ChatError{Code: protocol.CodeBadRequest,
			Message: "room must be 1-64 characters of a-z, 0-9, _ or -"})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
	defer cancel()
	if err := s.handle(ctx, ss, &f); err != nil {
		s.sendError(ss, f.Ref, s.chatError(err))
	}
}

// OnClose leaves every room the connection had joined.
func (s *Service) OnClose(c *engine.Conn) {
	ss, ok := c.Value().(*session)
	if !ok || ss.rooms == nil {
		return
	}
	s.users.close(ss.user)
	if s.cl != nil && s.cfg.MaxConnsPerUser > 0 {
		s.cl.bus.CloseConn(ss.user)
	}
	for id := range ss.rooms {
		s.leave(ss, id)
	}
}

// Drain is engine.Drainer: at shutdown each client gets a goaway frame
// with the jittered delay after which to reconnect (to this instance or
// another) and resume its rooms with join since; the engine's close 1001
// follows. It runs off the connection's worker, so it touches only c.
func (s *Service) Drain(c *engine.Conn, reconnectAfter time.Duration) {
	c.WriteMessage(ws.OpText, protocol.AppendChatFrame(nil, "goaway", struct {
		ReconnectAfterMS int64 `json:"reconnect_after_ms"`
	}{reconnectAfter.Milliseconds()}))
}

// chatError maps handler and store errors to error frames. Store outages
// become unavailable: the client knows nothing was stored or acked.
func (s *Service) chatError(err error) *protocol.ChatError {
	var ce *protocol.ChatError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, errBusDown):
		return &protocol.ChatError{Code: protocol.CodeUnavailable, Message: "cluster bus unavailable; retry later"}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &protocol.ChatError{Code: protocol.CodeUnavailable, Message: "storage unavailable; retry later"}
	case errors.Is(err, store.ErrNotFound):
		return &protocol.ChatError{Code: protocol.CodeNotFound, Message: "not found"}
	case errors.Is(err, store.ErrExists):
		return &protocol.ChatError{Code: protocol.CodeExists, Message: "already exists"}
	case errors.Is(err, store.ErrInvalid):
		return &protocol.ChatError{Code: protocol.CodeBadRequest, Message: clipMsg(err.Error())}
	}
	s.log.Error("chat handler failed", "err", err)
	return &protocol.ChatError{Code: protocol.CodeInternal, Message: "internal error"}
}

func clipMsg(m string) string {
	if len(m) > 120 {
		return m[:120]
	}
	return m
}

// send writes one server frame to the session.
func (s *Service) send(ss *session, typ string, v any) {
	ss.c.WriteMessage(ws.OpText, protocol.AppendChatFrame(nil, typ, v))
}

func (s *Service) sendError(ss *session, ref string, e *protocol.ChatError) {
	ss.c.WriteMessage(ws.OpText, protocol.AppendErrorFrame(nil, ref, e))
}

// Close releases the bus and the store. Call it after the engine has shut
// down. It first waits (up to StoreTimeout) for the publishes still in the
// store: each is stored or failed, and its completion handed to its
// worker; with the engine's workers stopped, that last step (ack, local
// fan-out, relay) is dropped, like an instance stopped between store and
// fan-out: the message is in the store and other instances refill it.
func (s *Service) Close() error {
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	t := time.NewTimer(s.cfg.StoreTimeout)
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("publishes still in the store at close; closing it fails them")
	}
	t.Stop()
	if s.cl != nil {
		s.cl.close()
		s.cl.bus.Close()
	}
	return s.st.Close()
}
