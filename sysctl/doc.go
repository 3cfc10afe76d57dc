// Package sysctl holds no code. The folder will carry kernel and limits
// profiles (sysctl.d, limits.conf), the systemd unit and the how-to for
// running one million connections on a tuned box (1M-connection issue).
package sysctl
