package engine

import "sync"

// Message and frame buffers come from size-classed pools: a connection holds
// one only while a message is being assembled, handled or written.
var bufClasses = [...]int{512, 4 << 10, 32 << 10, 256 << 10, 1 << 20, 4 << 20}
var bufPools [len(bufClasses)]sync.Pool

// getBuf returns an empty buffer with capacity at least n.
func getBuf(n int) []byte {
	for i, size := range bufClasses {
		if n <= size {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				return (*b)[:0]
			}
			return make([]byte, 0, size)
		}
	}
	return make([]byte, 0, n)
}

// putBuf gives b back to its pool; b must not be used afterwards. Buffers of
// a size no class has (grown by append) are left to the garbage collector.
func putBuf(b []byte) {
	if b == nil {
		return
	}
	for i, size := range bufClasses {
		if cap(b) == size {
			b = b[:0]
			bufPools[i].Put(&b)
			return
		}
	}
}

// appendPooled appends p to b, moving to a bigger pooled buffer when b is
// full, so a growing message never leaves an odd-sized buffer behind.
func appendPooled(b, p []byte) []byte {
	if len(b)+len(p) > cap(b) {
		nb := getBuf(len(b) + len(p))
		nb = append(nb, b...)
		putBuf(b)
		b = nb
	}
	return append(b, p...)
}
