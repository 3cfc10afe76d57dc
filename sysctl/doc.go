// Package sysctl is the kernel side of running switchboard at a million
// connections: the profiles in this folder and the checks of `switchboard
// preflight`.
//
// Files (each value commented with why and what it costs):
//
//   - 99-switchboard.conf: /etc/sysctl.d settings (file limits, accept
//     queues, port range, TCP memory sized for many idle sockets,
//     conntrack, vm).
//   - limits.conf: /etc/security/limits.d open-file limits for login
//     sessions.
//   - switchboard.service: the systemd unit (LimitNOFILE, preflight before
//     start, graceful stop, hardening).
//
// The how-to is docs/one-million.md.
//
// Code: ReadHost reads the limits that cap connections from a /proc tree
// (an fs.FS, so tests use fake ones), and Preflight compares them with a
// target using the per-connection memory measured in
// bench/results/idle.md. Both are pure: no state, no goroutines; the
// caller owns everything it passes in.
package sysctl
