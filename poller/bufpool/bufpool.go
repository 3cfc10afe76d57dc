// Package bufpool is the size-classed byte-buffer pool shared by the poller
// (spill buffers) and the engine (messages, frames).
//
// A buffer is held only while it has bytes in it: a partial frame, a message
// being assembled or handled, a frame waiting for the socket. Get and Put
// never allocate once a class is warm: the pool stores the pointer to the
// buffer's first byte, which fits an interface without boxing a slice header.
//
// Concurrency: Get and Put are safe for concurrent use. Ownership: after Put
// the caller must not touch the buffer again.
package bufpool

import (
	"sync"
	"unsafe"
)

// classes are the buffer capacities the pool keeps, smallest first.
var classes = [...]int{256, 2 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}

var pools [len(classes)]sync.Pool

// Get returns an empty buffer with capacity at least n: a pooled one of the
// smallest class that fits, or a new exact-size one above the largest class.
func Get(n int) []byte {
	for i, size := range classes {
		if n <= size {
			if p, ok := pools[i].Get().(unsafe.Pointer); ok {
				return unsafe.Slice((*byte)(p), size)[:0]
			}
			return make([]byte, 0, size)
		}
	}
	return make([]byte, 0, n)
}

// Put gives b back. Buffers whose capacity is not exactly a class (grown by
// append, or above the largest class) are left to the garbage collector.
func Put(b []byte) {
	c := cap(b)
	if c == 0 {
		return
	}
	for i, size := range classes {
		if c == size {
			pools[i].Put(unsafe.Pointer(unsafe.SliceData(b[:1])))
			return
		}
	}
}

// Append appends p to b, moving to a bigger pooled buffer when b is full, so
// a growing message never leaves an odd-sized buffer behind.
func Append(b, p []byte) []byte {
	if len(b)+len(p) > cap(b) {
		nb := Get(len(b) + len(p))
		nb = append(nb, b...)
		Put(b)
		b = nb
	}
	return append(b, p...)
}
