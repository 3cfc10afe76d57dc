// Package procfs reads the few /proc files the benchmarks sample: a
// process's memory, threads, CPU time and fds, and the kernel's socket and
// slab accounting. Parsers take an io.Reader so they can be tested on fixed
// text; the Read* helpers open the real files.
//
// Nothing here keeps state; all functions are safe for concurrent use.
package procfs
