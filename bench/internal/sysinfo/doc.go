// Package sysinfo collects the facts a benchmark report must state so a
// reader can reproduce it: machine, kernel, limits, sysctls, the git commit
// of the code under test and the exact command line.
//
// Functions are stateless and safe for concurrent use.
package sysinfo
