package fit

import (
	"errors"
	"math"
)

// Line is y = Slope*x + Intercept fitted by least squares over N points.
// R2 is the coefficient of determination: 1 is a perfect straight line.
// When every y is the same the line is exact and R2 is 1.
type Line struct {
	Slope     float64 `json:"slope"`
	Intercept float64 `json:"intercept"`
	R2        float64 `json:"r2"`
	N         int     `json:"n"`
}

// ErrTooFewPoints is returned when fewer than two points are given.
var ErrTooFewPoints = errors.New("fit: need at least two points")

// ErrDegenerate is returned when all x values are equal, so no slope exists.
var ErrDegenerate = errors.New("fit: all x values are equal")

// Linear fits a straight line to the points (x[i], y[i]).
func Linear(x, y []float64) (Line, error) {
	if len(x) != len(y) {
		return Line{}, errors.New("fit: x and y differ in length")
	}
	n := len(x)
	if n < 2 {
		return Line{}, ErrTooFewPoints
	}
	var meanX, meanY float64
	for i := range x {
		meanX += x[i]
		meanY += y[i]
	}
	meanX /= float64(n)
	meanY /= float64(n)

	// Centred sums keep precision when x is in the millions and y in the
	// gigabytes.
	var sxx, sxy, syy float64
	for i := range x {
		dx, dy := x[i]-meanX, y[i]-meanY
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return Line{}, ErrDegenerate
	}
	slope := sxy / sxx
	l := Line{Slope: slope, Intercept: meanY - slope*meanX, N: n}

	var ssRes float64
	for i := range x {
		r := y[i] - l.At(x[i])
		ssRes += r * r
	}
	switch {
	case syy == 0:
		l.R2 = 1
	default:
		l.R2 = 1 - ssRes/syy
	}
	if math.IsNaN(l.R2) {
		l.R2 = 0
	}
	return l, nil
}

// At evaluates the line at x.
func (l Line) At(x float64) float64 { return l.Slope*x + l.Intercept }
