package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/switchboard-chat/switchboard/engine"
	"github.com/switchboard-chat/switchboard/protocol"
	"github.com/switchboard-chat/switchboard/store"
)

func errf(code, msg string) *protocol.ChatError { return &protocol.ChatError{Code: code, Message: msg} }

var (
	errNotJoined    = errf(protocol.CodeNotJoined, "join the room first")
	errAlreadyIn    = errf(protocol.CodeBadRequest, "already joined; leave first to join again")
	errTooManyRooms = errf(protocol.CodeRateLimited, "joined too many rooms on this connection")
	errPrivate      = errf(protocol.CodeForbidden, "private room: members and invitees only")
	errBadInvite    = errf(protocol.CodeForbidden, "invite is invalid, expired or revoked")
	errNoSuchRoom   = errf(protocol.CodeNotFound, "no such room")
	errNeedAdmin    = errf(protocol.CodeForbidden, "only the owner or an admin may do that")
	errNeedOwner    = errf(protocol.CodeForbidden, "only the owner may change roles")
	errOwnerFixed   = errf(protocol.CodeForbidden, "the owner's role cannot be changed or kicked")
	errNoTransfer   = errf(protocol.CodeBadRequest, "ownership cannot be transferred")
	errKickRank     = errf(protocol.CodeForbidden, "admins may kick members only")
	errSelf         = errf(protocol.CodeBadRequest, "use leave to leave; roles of yourself cannot be changed")
)

// handle runs one decoded client frame on the session's worker.
func (s *Service) handle(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	switch f.Type {
	case "join":
		return s.join(ctx, ss, f)
	case "leave":
		if ss.rooms[f.Room] == nil {
			return errNotJoined
		}
		s.leave(ss, f.Room)
		s.send(ss, "left", struct {
			Room string `json:"room"`
		}{f.Room})
		return nil
	case "publish":
		return s.publish(ctx, ss, f)
	case "history":
		return s.history(ctx, ss, f)
	case "typing":
		return s.typing(ss, f)
	case "read":
		return s.read(ctx, ss, f)
	case "presence":
		return s.presence(ss, f)
	case "create":
		return s.create(ctx, ss, f)
	case "invite":
		return s.invite(ctx, ss, f)
	case "role":
		return s.role(ctx, ss, f)
	case "kick":
		return s.kick(ctx, ss, f)
	case "members":
		return s.members(ctx, ss, f)
	case "revoke":
		return s.revoke(ctx, ss, f)
	case "rooms":
		return s.listRooms(ctx, ss, f)
	}
	return errf(protocol.CodeUnknownType, "unknown type") // DecodeClientFrame lets none through
}

// join admits the session to a room and brings it up to date. Ordering:
// the session is added to the live room first and D (the last seq handed
// to fan-out) read under the same lock; every later message reaches this
// session live, on this same worker, after this handler returns. So the
// store is read up to D and nothing is missed or sent twice.
func (s *Service) join(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	if ss.rooms[f.Room] != nil {
		return errAlreadyIn
	}
	if len(ss.rooms) >= s.cfg.MaxRoomsPerConn {
		return errTooManyRooms
	}
	if err := s.admit(ctx, ss, f); err != nil {
		return err
	}
	lr, err := s.rooms.acquire(ctx, s.e, f.Room)
	if err != nil {
		return err
	}
	lr.mu.Lock()
	first := lr.addLocked(ss)
	last := lr.next - 1
	online := len(lr.users)
	lr.mu.Unlock()
	ss.rooms[f.Room] = &membership{lr: lr}
	switch {
	case s.cl != nil:
		// The bus announces the user if this is their first connection
		// anywhere, and counts the room across instances. While it is
		// down the count is this instance's, and the user is registered
		// when it is back.
		if n, err := s.cl.bus.SyncPresence(ctx, f.Room, ss.user); err == nil {
			online = n
		}
	case first && online <= s.cfg.LargeRoom:
		lr.broadcast(s.e, presenceFrame(f.Room, ss.user, ss.status), ss.user)
	}

	if f.Since == nil {
		msgs, _, err := s.st.History(ctx, f.Room, last+1, s.cfg.HistoryOnJoin)
		if err != nil {
			s.leave(ss, f.Room)
			return err
		}
		s.sendJoined(ss, f.Room, last, msgs, online)
		return nil
	}
	since := *f.Since
	if since > last || last-since > uint64(s.cfg.MaxReplay) {
		// The client knows of messages this server does not (a history
		// lost with a memory store), or the gap is too long to replay.
		return s.resetAndJoin(ctx, ss, f.Room, last, online)
	}
	// Fetch the first page before answering, so a trimmed history turns
	// into reset rather than a joined followed by a reset.
	page, err := s.replayPage(ctx, f.Room, since, last)
	var trimmed *store.TrimmedError
	if errors.As(err, &trimmed) {
		return s.resetAndJoin(ctx, ss, f.Room, last, online)
	}
	if err != nil {
		s.leave(ss, f.Room)
		return err
	}
	s.sendJoined(ss, f.Room, last, nil, online)
	for len(page) > 0 {
		for i := range page {
			ss.c.WriteMessage(ws.OpText, protocol.AppendMessageFrame(nil, chatMessage(&page[i])))
		}
		if page, err = s.replayPage(ctx, f.Room, page[len(page)-1].Seq, last); err != nil {
			// The client has a joined and a prefix of the replay: close
			// it, and its next join with since resumes exactly there.
			ss.c.Close(ws.StatusInternalServerError, "replay interrupted; rejoin with since")
			return err
		}
	}
	return nil
}

// replayPage returns the stored messages after seq after, up to last.
func (s *Service) replayPage(ctx context.Context, room string, after, last uint64) ([]store.Message, error) {
	if after >= last {
		return nil, nil
	}
	msgs, _, err := s.st.Since(ctx, room, after, min(500, int(last-after)))
	for i := range msgs {
		if msgs[i].Seq > last {
			return msgs[:i], err
		}
	}
	return msgs, err
}

// resetAndJoin tells the client its since cannot be honoured and gives it
// the recent history to reload from.
func (s *Service) resetAndJoin(ctx context.Context, ss *session, room string, last uint64, online int) error {
	s.send(ss, "reset", struct {
		Room string `json:"room"`
		Seq  uint64 `json:"seq"`
	}{room, last})
	msgs, _, err := s.st.History(ctx, room, last+1, s.cfg.HistoryOnJoin)
	if err != nil {
		s.leave(ss, room)
		return err
	}
	s.sendJoined(ss, room, last, msgs, online)
	return nil
}

func (s *Service) sendJoined(ss *session, room string, seq uint64, msgs []store.Message, online int) {
	history := make([]*protocol.ChatMessage, len(msgs))
	for i := range msgs {
		history[i] = chatMessage(&msgs[i])
	}
	s.send(ss, "joined", struct {
		Room    string                  `json:"room"`
		Seq     uint64                  `json:"seq"`
		History []*protocol.ChatMessage `json:"history"`
		Online  int                     `json:"online"`
	}{room, seq, history, online})
}

// admit checks that the session may enter the room, making it a member on
// first entry (public rooms, or private rooms with a valid invite).
func (s *Service) admit(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	rm, err := s.st.GetRoom(ctx, f.Room)
	if errors.Is(err, store.ErrNotFound) {
		return errNoSuchRoom
	}
	if err != nil {
		return err
	}
	_, err = s.st.Member(ctx, f.Room, ss.user)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if rm.Private {
		if f.Invite == "" {
			return errPrivate
		}
		id, ok := s.invites.verify(f.Invite, f.Room, time.Now())
		if !ok {
			return errBadInvite
		}
		inv, err := s.st.GetInvite(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && (!inv.Usable(time.Now()) || inv.Room != f.Room)) {
			return errBadInvite
		}
		if err != nil {
			return err
		}
	}
	_, _, err = s.st.AddMember(ctx, f.Room, ss.user, store.RoleMember)
	return err
}

// leave removes the session from a room it joined.
func (s *Service) leave(ss *session, room string) {
	m := ss.rooms[room]
	if m == nil {
		return
	}
	delete(ss.rooms, room)
	if m.readTimer != nil {
		m.readTimer.Stop()
	}
	m.lr.mu.Lock()
	last := m.lr.removeLocked(ss)
	small := len(m.lr.users) < s.cfg.LargeRoom
	m.lr.mu.Unlock()
	switch {
	case !last:
	case s.cl != nil:
		s.cl.bus.PresenceChanged(room, ss.user)
	case small:
		m.lr.broadcast(s.e, presenceFrame(room, ss.user, "offline"), ss.user)
	}
	s.rooms.release(m.lr)
}

// publish stores the message, acks it to the sender once stored, and hands
// it to fan-out in seq order (and to the bus). A retried id is acked with
// its first seq and not delivered again; it is handed over again all the
// same, since the first attempt may have died between store and fan-out
// (an instance killed), and a seq already delivered is dropped there.
//
// With a bus that is down nothing is stored: the message could not reach
// the other instances' members, so it is refused rather than acked.
//
// With a store.AsyncAppender the worker does not wait for the store: the
// message is handed over and the handler returns; the store's completion
// submits the rest (published, or the error frame) to the sender's
// worker. So one worker keeps many publishes in flight and a group
// committing store batches them. Each connection has at most
// MaxPublishesInFlight of them; the one over is refused (rate_limited).
func (s *Service) publish(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	start := time.Now()
	if ss.rooms[f.Room] == nil {
		return errNotJoined
	}
	if s.cl != nil {
		if err := s.cl.bus.Err(); err != nil {
			return fmt.Errorf("%w: %w", errBusDown, err)
		}
	}
	msg := store.Message{Room: f.Room, ID: f.ID, From: ss.user, Body: append(json.RawMessage(nil), f.Body...)}
	if s.async == nil {
		stored, dup, err := s.st.Append(ctx, msg)
		if err != nil {
			return err
		}
		s.published(ss, start, store.AppendResult{Message: stored, Duplicate: dup})
		return nil
	}
	if ss.inflight >= s.cfg.MaxPublishesInFlight {
		return errTooManyInFlight
	}
	ss.inflight++
	s.inflight.Add(1)
	// The store call outlives this handler: it gets its own deadline.
	actx, cancel := context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
	ref := f.Ref
	// A result given before AppendAsync returns (a store that completes at
	// once, an error decided up front) is handled right here on the
	// worker, as a synchronous Append would be; one given later is
	// submitted to the worker. state says which: 0 in the call, 1
	// returned, 2 completed in the call (res then set).
	var state atomic.Int32
	var early store.AppendResult
	s.async.AppendAsync(actx, msg, func(res store.AppendResult) {
		cancel()
		defer s.inflight.Done()
		early = res
		if state.CompareAndSwap(0, 2) {
			return
		}
		// On the store's goroutine: hand the rest to the sender's worker,
		// after its earlier work; the session is touched only there. The
		// connection may have closed meanwhile: the ack goes nowhere, the
		// message is still delivered to the others.
		s.e.Submit(ss.c.Worker(), func() {
			ss.inflight--
			s.completed(ss, ref, start, res)
		})
	})
	if !state.CompareAndSwap(0, 1) {
		ss.inflight--
		if early.Err != nil {
			return early.Err
		}
		s.published(ss, start, early)
	}
	return nil
}

// completed answers a publish whose append has finished.
func (s *Service) completed(ss *session, ref string, start time.Time, res store.AppendResult) {
	if res.Err != nil {
		s.sendError(ss, ref, s.chatError(res.Err))
		return
	}
	s.published(ss, start, res)
}

// published acks a stored message to its sender and hands it to local
// fan-out (the room's current live room: the sender may have left, or left
// and rejoined, meanwhile) and to the bus. It runs on the sender's worker.
func (s *Service) published(ss *session, start time.Time, res store.AppendResult) {
	stored := &res.Message
	// Counted before the ack leaves, so a client that has its ack sees it
	// in the stats.
	s.stats.ack.observe(time.Since(start))
	if !res.Duplicate {
		s.stats.published.Add(1)
	}
	s.send(ss, "ack", struct {
		ID   string `json:"id"`
		Room string `json:"room"`
		Seq  uint64 `json:"seq"`
	}{stored.ID, stored.Room, stored.Seq})
	frame := protocol.AppendMessageFrame(nil, chatMessage(stored))
	lr := s.rooms.get(stored.Room)
	gap := false
	if lr != nil {
		_, gap = lr.publish(s.e, stored.Seq, engine.NewFrame(ws.OpText, frame))
	}
	if s.cl != nil {
		s.cl.relayMessage(stored.Room, stored.Seq, frame)
		if gap {
			s.cl.noteGap(lr)
		}
	}
}

var errTooManyInFlight = errf(protocol.CodeRateLimited, "too many publishes awaiting their ack on this connection")

// errBusDown marks a publish refused because the bus is down.
var errBusDown = errors.New("room: bus unavailable")

func (s *Service) history(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	if ss.rooms[f.Room] == nil {
		return errNotJoined
	}
	limit := f.Limit
	if limit == 0 || limit > s.cfg.MaxHistoryPage {
		limit = min(s.cfg.MaxHistoryPage, max(limit, s.cfg.HistoryOnJoin))
	}
	msgs, more, err := s.st.History(ctx, f.Room, f.Before, limit)
	if err != nil {
		return err
	}
	out := make([]*protocol.ChatMessage, len(msgs))
	for i := range msgs {
		out[i] = chatMessage(&msgs[i])
	}
	s.send(ss, "history", struct {
		Room     string                  `json:"room"`
		Messages []*protocol.ChatMessage `json:"messages"`
		More     bool                    `json:"more"`
	}{f.Room, out, more})
	return nil
}

// maxMembersPage caps a members or rooms page: large rooms are paged,
// never sent whole.
const maxMembersPage = 200

// pageLimit is the size of a members or rooms page: the client's limit, or
// the most when it asked for none or more.
func pageLimit(asked int) int {
	if asked == 0 || asked > maxMembersPage {
		return maxMembersPage
	}
	return asked
}

// memberInfo is one entry of a members page.
type memberInfo struct {
	User   string `json:"user"`
	Role   string `json:"role"`
	Online bool   `json:"online"`
}

// members pages through a room's members in user order, with who is
// connected to this instance and the total count.
func (s *Service) members(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	m := ss.rooms[f.Room]
	if m == nil {
		return errNotJoined
	}
	list, more, err := s.st.Members(ctx, f.Room, f.After, pageLimit(f.Limit))
	if err != nil {
		return err
	}
	count, err := s.st.MemberCount(ctx, f.Room)
	if err != nil {
		return err
	}
	out := make([]memberInfo, len(list))
	m.lr.mu.Lock()
	for i, mb := range list {
		out[i] = memberInfo{User: mb.User, Role: string(mb.Role), Online: m.lr.users[mb.User] > 0}
	}
	m.lr.mu.Unlock()
	if s.cl != nil {
		// Across instances when the bus answers; this instance's view
		// when it does not.
		users := make([]string, len(list))
		for i := range list {
			users[i] = list[i].User
		}
		if _, online, err := s.cl.bus.Online(ctx, f.Room, users); err == nil {
			for i := range out {
				out[i].Online = online[i]
			}
		}
	}
	s.send(ss, "members", struct {
		Room    string       `json:"room"`
		Members []memberInfo `json:"members"`
		More    bool         `json:"more"`
		Count   int          `json:"count"`
	}{f.Room, out, more, count})
	return nil
}

// roomInfo is one entry of a rooms page.
type roomInfo struct {
	Room    string `json:"room"`
	Private bool   `json:"private"`
	Online  int    `json:"online"`
}

// listRooms pages through the rooms the user may see (public ones and
// those the user is a member of) in id order, with how many users are
// connected to each on this instance. It needs no join.
func (s *Service) listRooms(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	list, more, err := s.st.ListRooms(ctx, ss.user, f.After, pageLimit(f.Limit))
	if err != nil {
		return err
	}
	out := make([]roomInfo, len(list))
	for i, rm := range list {
		out[i] = roomInfo{Room: rm.ID, Private: rm.Private}
		if lr := s.rooms.get(rm.ID); lr != nil {
			lr.mu.Lock()
			out[i].Online = len(lr.users)
			lr.mu.Unlock()
		}
	}
	s.send(ss, "rooms", struct {
		Rooms []roomInfo `json:"rooms"`
		More  bool       `json:"more"`
	}{out, more})
	return nil
}

// typing is ephemeral and debounced: at most one per user and room per
// TypingInterval reaches the others; nothing is stored.
func (s *Service) typing(ss *session, f *protocol.ClientFrame) error {
	m := ss.rooms[f.Room]
	if m == nil {
		return errNotJoined
	}
	now := time.Now()
	if now.Sub(m.lastTyping) < s.cfg.TypingInterval {
		return nil
	}
	m.lastTyping = now
	s.broadcast(m.lr, protocol.AppendChatFrame(nil, "typing", struct {
		Room string `json:"room"`
		User string `json:"user"`
	}{f.Room, ss.user}), ss.user)
	return nil
}

// read moves the user's read cursor forward and tells the room, coalesced:
// the first advance goes out at once, later ones within ReadInterval are
// folded into one broadcast of the latest seq when the interval ends. A
// cursor that does not advance is not broadcast at all.
func (s *Service) read(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	m := ss.rooms[f.Room]
	if m == nil {
		return errNotJoined
	}
	advanced, err := s.st.SetReadCursor(ctx, f.Room, ss.user, f.Seq)
	if err != nil || !advanced {
		return err
	}
	m.readPending = max(m.readPending, f.Seq)
	if m.readTimer != nil {
		return nil // a flush is already scheduled; it will carry this seq
	}
	wait := s.cfg.ReadInterval - time.Since(m.lastRead)
	if wait <= 0 {
		s.flushRead(ss, f.Room, m)
		return nil
	}
	// The timer lives only while a read is pending, never per connection;
	// its flush runs on the session's worker like everything else it owns.
	m.readTimer = time.AfterFunc(wait, func() {
		s.e.Submit(ss.c.Worker(), func() {
			if cur := ss.rooms[f.Room]; cur == m {
				m.readTimer = nil
				s.flushRead(ss, f.Room, m)
			}
		})
	})
	return nil
}

func (s *Service) flushRead(ss *session, room string, m *membership) {
	if m.readPending == 0 {
		return
	}
	seq := m.readPending
	m.readPending = 0
	m.lastRead = time.Now()
	s.broadcast(m.lr, protocol.AppendChatFrame(nil, "read", struct {
		Room string `json:"room"`
		User string `json:"user"`
		Seq  uint64 `json:"seq"`
	}{room, ss.user, seq}), "")
}

// presence sets this connection's status and tells every joined room.
func (s *Service) presence(ss *session, f *protocol.ClientFrame) error {
	if ss.status == f.Status {
		return nil
	}
	ss.status = f.Status
	for id, m := range ss.rooms {
		m.lr.mu.Lock()
		small := len(m.lr.users) <= s.cfg.LargeRoom
		m.lr.mu.Unlock()
		if small {
			s.broadcast(m.lr, presenceFrame(id, ss.user, f.Status), ss.user)
		}
	}
	return nil
}

func presenceFrame(room, user, status string) []byte {
	return protocol.AppendChatFrame(nil, "presence", struct {
		Room   string `json:"room"`
		User   string `json:"user"`
		Status string `json:"status"`
	}{room, user, status})
}

func (s *Service) create(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	rm, err := s.st.CreateRoom(ctx, store.Room{ID: f.Room, Private: f.Private, CreatedBy: ss.user})
	if err != nil {
		return err
	}
	s.send(ss, "created", struct {
		Room    string `json:"room"`
		Private bool   `json:"private"`
	}{rm.ID, rm.Private})
	return nil
}

// roleOf is the session user's role in a room, or "" if not a member.
func (s *Service) roleOf(ctx context.Context, room, user string) (store.Role, error) {
	m, err := s.st.Member(ctx, room, user)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return m.Role, err
}

const (
	defaultInviteTTL = 24 * time.Hour
	maxInviteTTL     = 30 * 24 * time.Hour
)

// invite makes a signed, expiring invite token; owners and admins only.
func (s *Service) invite(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	role, err := s.roleOf(ctx, f.Room, ss.user)
	if err != nil {
		return err
	}
	if !role.AtLeast(store.RoleAdmin) {
		return errNeedAdmin
	}
	ttl := time.Duration(f.TTL) * time.Second
	if ttl == 0 {
		ttl = defaultInviteTTL
	}
	ttl = min(ttl, maxInviteTTL)
	inv, err := s.st.CreateInvite(ctx, store.Invite{ID: randomID(), Room: f.Room, CreatedBy: ss.user,
		Expires: time.Now().Add(ttl).Truncate(time.Second)})
	if err != nil {
		return err
	}
	s.send(ss, "invite", struct {
		Room    string    `json:"room"`
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}{f.Room, s.invites.sign(inv.ID, inv.Room, inv.Expires), inv.Expires})
	return nil
}

// revoke withdraws an invite of the room: owners and admins only. A
// revoked token is refused at join even before it expires.
func (s *Service) revoke(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	id, _, ok := s.invites.open(f.Invite, f.Room)
	if !ok {
		return errBadInvite
	}
	role, err := s.roleOf(ctx, f.Room, ss.user)
	if err != nil {
		return err
	}
	if !role.AtLeast(store.RoleAdmin) {
		return errNeedAdmin
	}
	if err := s.st.RevokeInvite(ctx, id); err != nil {
		return err
	}
	s.send(ss, "revoked", struct {
		Room string `json:"room"`
	}{f.Room})
	return nil
}

// role: the owner sets others' roles to admin or member. Ownership does not
// move and the owner's own role is fixed.
func (s *Service) role(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	if f.User == ss.user {
		return errSelf
	}
	if store.Role(f.Role) == store.RoleOwner {
		return errNoTransfer
	}
	actor, err := s.roleOf(ctx, f.Room, ss.user)
	if err != nil {
		return err
	}
	if actor != store.RoleOwner {
		return errNeedOwner
	}
	target, err := s.roleOf(ctx, f.Room, f.User)
	if err != nil {
		return err
	}
	if target == "" {
		return errf(protocol.CodeNotFound, "not a member")
	}
	if _, err := s.st.SetRole(ctx, f.Room, f.User, store.Role(f.Role)); err != nil {
		return err
	}
	s.announce(f.Room, "role", f.User, f.Role, ss.user)
	return nil
}

// kick removes a member: the owner kicks admins and members, an admin kicks
// members. The kicked user's connections leave the room at once.
func (s *Service) kick(ctx context.Context, ss *session, f *protocol.ClientFrame) error {
	if f.User == ss.user {
		return errSelf
	}
	actor, err := s.roleOf(ctx, f.Room, ss.user)
	if err != nil {
		return err
	}
	target, err := s.roleOf(ctx, f.Room, f.User)
	if err != nil {
		return err
	}
	switch {
	case !actor.AtLeast(store.RoleAdmin):
		return errNeedAdmin
	case target == "":
		return errf(protocol.CodeNotFound, "not a member")
	case target == store.RoleOwner:
		return errOwnerFixed
	case actor == store.RoleAdmin && target != store.RoleMember:
		return errKickRank
	}
	if err := s.st.RemoveMember(ctx, f.Room, f.User); err != nil {
		return err
	}
	s.announce(f.Room, "kicked", f.User, "", ss.user)
	if lr := s.rooms.get(f.Room); lr != nil {
		s.evict(lr, f.User)
	}
	return nil
}

// evict makes user's connections on this instance leave the room.
func (s *Service) evict(lr *liveRoom, user string) {
	lr.mu.Lock()
	victims := lr.sessionsOfLocked(user)
	lr.mu.Unlock()
	for _, v := range victims {
		// Each victim leaves on its own worker, in order with its other
		// work; by then it may have left or rejoined (a new liveRoom).
		s.e.Submit(v.c.Worker(), func() {
			if m := v.rooms[lr.id]; m != nil && m.lr == lr {
				s.leave(v, lr.id)
			}
		})
	}
}

// broadcast sends an unsequenced frame to the room's members on every
// instance, skipping skipUser's connections ("" skips none).
func (s *Service) broadcast(lr *liveRoom, frame []byte, skipUser string) {
	lr.broadcast(s.e, frame, skipUser)
	if s.cl != nil {
		s.cl.relayEvent(lr.id, skipUser, frame)
	}
}

// announce tells a room, on every instance, about a role change or a kick
// (whose victim then leaves the room everywhere).
func (s *Service) announce(room, typ, user, role, by string) {
	frame := protocol.AppendChatFrame(nil, typ, struct {
		Room string `json:"room"`
		User string `json:"user"`
		Role string `json:"role,omitempty"`
		By   string `json:"by"`
	}{room, user, role, by})
	if lr := s.rooms.get(room); lr != nil {
		lr.broadcast(s.e, frame, "")
	}
	if s.cl == nil {
		return
	}
	if typ == "kicked" {
		s.cl.bus.Publish(room, userEnvelope(envKick, user, frame))
	} else {
		s.cl.relayEvent(room, "", frame)
	}
}

func chatMessage(m *store.Message) *protocol.ChatMessage {
	return &protocol.ChatMessage{Room: m.Room, Seq: m.Seq, ID: m.ID, From: m.From, Body: m.Body, TS: m.TS}
}
