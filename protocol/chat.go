package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// ChatVersion is the version of the JSON chat protocol spoken at /ws,
// announced in the welcome frame.
const ChatVersion = 1

// Chat error codes: stable strings a client can switch on.
const (
	CodeBadRequest   = "bad_request"  // malformed JSON, wrong field types, missing fields
	CodeUnknownType  = "unknown_type" // a "type" the server does not know
	CodeTooLarge     = "too_large"    // a body or frame over its limit
	CodeUnauthorized = "unauthorized" // credentials missing or invalid
	CodeForbidden    = "forbidden"    // authenticated but not allowed (private room, role rules)
	CodeNotFound     = "not_found"    // no such room, member or invite
	CodeExists       = "exists"       // a room with that id exists
	CodeNotJoined    = "not_joined"   // the action needs a join first
	CodeRateLimited  = "rate_limited" // slow down
	CodeUnavailable  = "unavailable"  // a backend is down: nothing was stored or acked
	CodeInternal     = "internal"     // a server bug; logged
)

// ChatError is an error frame's content. Its Error method makes it usable
// as a Go error on the server side.
type ChatError struct {
	Code    string
	Message string
}

func (e *ChatError) Error() string { return e.Code + ": " + e.Message }

// chatErr builds a ChatError; the message must say what was wrong without
// echoing large or untrusted input.
func chatErr(code, format string, args ...any) *ChatError {
	return &ChatError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ClientFrame is any frame a client sends; Type says which fields apply
// (see docs/protocol.md). Pointer fields distinguish "absent" from zero.
type ClientFrame struct {
	Type    string          `json:"type"`
	Ref     string          `json:"ref,omitempty"`     // echoed in an error about this frame
	Room    string          `json:"room,omitempty"`    // join leave publish history typing read create invite role kick
	Since   *uint64         `json:"since,omitempty"`   // join: replay after this seq
	Invite  string          `json:"invite,omitempty"`  // join, revoke: invite token
	ID      string          `json:"id,omitempty"`      // publish: client message id
	Body    json.RawMessage `json:"body,omitempty"`    // publish: any JSON value
	Before  uint64          `json:"before,omitempty"`  // history: page older than this seq
	After   string          `json:"after,omitempty"`   // members: page after this user; rooms: after this room
	Limit   int             `json:"limit,omitempty"`   // history, members, rooms: page size
	Seq     uint64          `json:"seq,omitempty"`     // read: read up to this seq
	Status  string          `json:"status,omitempty"`  // presence: online or away
	Private bool            `json:"private,omitempty"` // create
	TTL     int             `json:"ttl,omitempty"`     // invite: seconds
	User    string          `json:"user,omitempty"`    // role kick
	Role    string          `json:"role,omitempty"`    // role
}

// ChatLimits bounds what DecodeClientFrame accepts.
type ChatLimits struct {
	// MaxBodyBytes bounds a publish body's JSON. Default 16 KiB.
	MaxBodyBytes int
	// MaxIDBytes bounds client message ids and refs. Default 64.
	MaxIDBytes int
}

func (l ChatLimits) withDefaults() ChatLimits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 16 << 10
	}
	if l.MaxIDBytes <= 0 {
		l.MaxIDBytes = 64
	}
	return l
}

// clientTypes lists every client frame type and the fields it requires.
var clientTypes = map[string]func(f *ClientFrame, l ChatLimits) *ChatError{
	"join":     needRoom,
	"leave":    needRoom,
	"history":  needHistory,
	"typing":   needRoom,
	"read":     needRead,
	"presence": needPresence,
	"create":   needRoom,
	"invite":   needInvite,
	"role":     needRole,
	"kick":     needKick,
	"members":  needHistory,
	"revoke":   needRevoke,
	"publish":  needPublish,
	"rooms":    needPage,
}

// DecodeClientFrame parses and checks one client text message. It never
// panics on any input; every failure is a *ChatError with code bad_request,
// unknown_type or too_large. The returned frame's Body aliases msg.
func DecodeClientFrame(msg []byte, limits ChatLimits) (ClientFrame, *ChatError) {
	l := limits.withDefaults()
	f, err := decodeClientFrame(msg, l)
	if err != nil && len(f.Ref) > l.MaxIDBytes {
		// An error frame echoes the ref; never one the client should not
		// have sent, whichever check failed first.
		f.Ref = ""
	}
	return f, err
}

func decodeClientFrame(msg []byte, l ChatLimits) (ClientFrame, *ChatError) {
	var f ClientFrame
	d := json.NewDecoder(bytes.NewReader(msg))
	if err := d.Decode(&f); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return f, chatErr(CodeBadRequest, "field %q has the wrong type (want %s)", typeErr.Field, typeErr.Type)
		}
		return f, chatErr(CodeBadRequest, "not a JSON object: %s", trimErr(err))
	}
	// Only white space may follow the object (Decoder.More alone lets a
	// stray "}" or "]" through).
	if len(bytes.TrimLeft(msg[d.InputOffset():], " \t\r\n")) > 0 {
		return f, chatErr(CodeBadRequest, "one JSON object per message")
	}
	if len(f.Ref) > l.MaxIDBytes {
		return f, chatErr(CodeBadRequest, "ref longer than %d bytes", l.MaxIDBytes)
	}
	if f.Type == "" {
		return f, chatErr(CodeBadRequest, "missing \"type\"")
	}
	check, ok := clientTypes[f.Type]
	if !ok {
		return f, chatErr(CodeUnknownType, "unknown type %q", clip(f.Type))
	}
	return f, check(&f, l)
}

// needRoom checks only presence and length; the room layer applies the
// store's naming rule (store.ValidRoomID).
func needRoom(f *ClientFrame, _ ChatLimits) *ChatError {
	if f.Room == "" || len(f.Room) > 64 {
		return chatErr(CodeBadRequest, "room must be 1-64 characters")
	}
	return nil
}

func needHistory(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if f.Limit < 0 {
		return chatErr(CodeBadRequest, "limit must not be negative")
	}
	return nil
}

// needPage checks a page request that names no room (rooms).
func needPage(f *ClientFrame, _ ChatLimits) *ChatError {
	if f.Limit < 0 {
		return chatErr(CodeBadRequest, "limit must not be negative")
	}
	return nil
}

func needRead(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if f.Seq == 0 {
		return chatErr(CodeBadRequest, "read needs a seq above 0")
	}
	return nil
}

func needPresence(f *ClientFrame, _ ChatLimits) *ChatError {
	if f.Status != "online" && f.Status != "away" {
		return chatErr(CodeBadRequest, "status must be online or away")
	}
	return nil
}

func needInvite(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if f.TTL < 0 {
		return chatErr(CodeBadRequest, "ttl must not be negative")
	}
	return nil
}

func needRevoke(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if f.Invite == "" {
		return chatErr(CodeBadRequest, "revoke needs the invite token")
	}
	return nil
}

func needRole(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needKick(f, l); err != nil {
		return err
	}
	if f.Role != "admin" && f.Role != "member" && f.Role != "owner" {
		return chatErr(CodeBadRequest, "role must be owner, admin or member")
	}
	return nil
}

func needKick(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if !ValidUserID(f.User) {
		return chatErr(CodeBadRequest, "user must be 1-128 printable characters")
	}
	return nil
}

func needPublish(f *ClientFrame, l ChatLimits) *ChatError {
	if err := needRoom(f, l); err != nil {
		return err
	}
	if f.ID == "" || len(f.ID) > l.MaxIDBytes {
		return chatErr(CodeBadRequest, "publish needs an id of 1-%d bytes", l.MaxIDBytes)
	}
	if len(f.Body) == 0 {
		return chatErr(CodeBadRequest, "publish needs a body")
	}
	if len(f.Body) > l.MaxBodyBytes {
		return chatErr(CodeTooLarge, "body is %d bytes, the limit is %d", len(f.Body), l.MaxBodyBytes)
	}
	return nil
}

// ValidUserID reports whether id is a usable user name: 1-128 bytes of
// valid UTF-8 with no space or control character (C0, DEL or C1), so a name
// prints on one line and can be named back in role and kick frames.
func ValidUserID(id string) bool {
	if len(id) == 0 || len(id) > 128 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func trimErr(err error) string { return clip(err.Error()) }

// clip keeps error messages short and never echoes long input.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Server frames. Each Append* function appends one complete JSON text
// message to dst; they are what fan-out encodes once per message.

// ChatMessage is one stored message as clients see it.
type ChatMessage struct {
	Room string          `json:"room"`
	Seq  uint64          `json:"seq"`
	ID   string          `json:"id"`
	From string          `json:"from"`
	Body json.RawMessage `json:"body"`
	TS   time.Time       `json:"ts"`
}

// AppendMessageFrame appends {"type":"message",...} for m.
func AppendMessageFrame(dst []byte, m *ChatMessage) []byte {
	dst = append(dst, `{"type":"message","room":`...)
	dst = appendJSONString(dst, m.Room)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = append(dst, `,"id":`...)
	dst = appendJSONString(dst, m.ID)
	dst = append(dst, `,"from":`...)
	dst = appendJSONString(dst, m.From)
	dst = append(dst, `,"body":`...)
	dst = append(dst, m.Body...)
	dst = append(dst, `,"ts":"`...)
	dst = m.TS.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `"}`...)
}

// AppendChatFrame appends any server frame: v's JSON object with "type" first.
// v must marshal to a JSON object; it is for the less frequent frames
// (welcome, joined, ack, error), where encoding/json's cost is fine.
func AppendChatFrame(dst []byte, typ string, v any) []byte {
	body, err := json.Marshal(v)
	if err != nil || len(body) < 2 || body[0] != '{' {
		panic(fmt.Sprintf("protocol: server frame %q does not encode to an object: %v", typ, err))
	}
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, typ)
	if len(body) > 2 {
		dst = append(dst, ',')
	}
	return append(dst, body[1:]...)
}

// AppendErrorFrame appends {"type":"error","code":...,"message":...,"ref":...}.
func AppendErrorFrame(dst []byte, ref string, e *ChatError) []byte {
	return AppendChatFrame(dst, "error", struct {
		Ref     string `json:"ref,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{ref, e.Code, e.Message})
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
