package echo

import "crypto/rand"

// echoPayload is the message body: random bytes, so that no layer can
// compress or special-case it.
func echoPayload(size int) []byte {
	p := make([]byte, size)
	_, _ = rand.Read(p)
	return p
}
