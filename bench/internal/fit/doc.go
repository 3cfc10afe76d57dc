// Package fit holds the small amount of statistics the benchmark reports
// need: an ordinary least-squares straight line with its R², used to turn
// per-step samples into "bytes per connection" and to project to a target
// connection count.
//
// Everything here is pure and safe for concurrent use.
package fit
