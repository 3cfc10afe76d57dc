// Package plot writes small, dependency-free SVG line charts for the
// benchmark reports: axes with "nice" ticks, grid lines, one polyline with
// point markers per series, and a legend; and bar charts (one bar per label
// with an optional min..max whisker) that can be laid side by side in one
// document.
//
// A Chart or BarChart is a plain value; WriteSVG does not retain it or the writer and is
// safe to call from several goroutines on different charts.
package plot
