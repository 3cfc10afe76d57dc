// Package proc starts and stops the child processes of a benchmark run (the
// server under test and the load workers) so that none is left behind: each
// child runs in its own process group, gets SIGKILL if this process dies
// (Pdeathsig), and Stop escalates from SIGTERM to SIGKILL after a grace
// period.
//
// A Child is safe for concurrent use.
package proc
