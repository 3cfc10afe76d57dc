// Package chatframe is the chat protocol as the load generators speak it:
// reading the few fields they need out of server chat frames without
// decoding JSON (Type, Int, String: no state, bytes looked at in place and
// never kept), and creating the rooms of a run (CreateRooms).
package chatframe

import "bytes"

// Server chat frames all start with {"type":"<name>" (protocol.AppendChatFrame
// and AppendMessageFrame), so the type is read at a fixed offset and only the
// few numbers the load generator needs are picked out of the rest, without
// decoding JSON.

const typePrefix = `{"type":"`

// Type returns the type name of a server chat frame, or nil.
func Type(p []byte) []byte {
	if !bytes.HasPrefix(p, []byte(typePrefix)) {
		return nil
	}
	rest := p[len(typePrefix):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return nil
	}
	return rest[:end]
}

// Int returns the unsigned integer after the first occurrence of key
// (which includes its quotes and colon, e.g. `"seq":`) in p.
func Int(p []byte, key string) (uint64, bool) {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return 0, false
	}
	var v uint64
	digits := 0
	for _, c := range p[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + uint64(c-'0')
		digits++
	}
	return v, digits > 0 && digits < 20
}

// String returns the string value after key (e.g. `"code":`), without
// unescaping; enough for error codes, which are plain words.
func String(p []byte, key string) string {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return ""
	}
	rest := p[i+len(key):]
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	return string(rest[1 : 1+end])
}
