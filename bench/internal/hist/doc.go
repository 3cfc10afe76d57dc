// Package hist is a log-linear latency histogram in the HDR style: values
// below 2^SubBits are counted exactly, and above that every power-of-two
// range is split into 2^SubBits equal buckets, so any recorded value is
// known to within 1/2^SubBits (0.8%) of itself, whatever its size, in a
// fixed few tens of KiB.
//
// Quantile answers the highest value of the bucket that holds the requested
// rank (never above the exact maximum), so a reported percentile is never
// below the true one and at most 0.8% above it.
//
// Concurrency: a Histogram is not safe for concurrent use; each recording
// goroutine owns one and the owners Merge them when they are done.
package hist
