package plot

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Point is one (x, y) sample.
type Point struct{ X, Y float64 }

// Series is one named line on a chart.
type Series struct {
	Name   string
	Points []Point
}

// Chart describes a line chart. The zero values of Width and Height mean
// 900x480; nil formatters mean FormatSI. Both axes start at zero unless a
// value is negative, because these charts show sizes and counts, and a
// truncated axis exaggerates differences.
type Chart struct {
	Title, XLabel, YLabel string
	Width, Height         int
	XFormat, YFormat      func(float64) string
	Series                []Series
}

// palette is colour-blind friendly (Okabe-Ito).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

const (
	marginLeft   = 80
	marginRight  = 250 // room for the legend
	marginTop    = 50
	marginBottom = 60
)

// WriteSVG writes the chart as a standalone SVG document.
func (c Chart) WriteSVG(w io.Writer) error {
	width, height := c.Width, c.Height
	if width == 0 {
		width = 900
	}
	if height == 0 {
		height = 480
	}
	xf, yf := c.XFormat, c.YFormat
	if xf == nil {
		xf = FormatSI
	}
	if yf == nil {
		yf = FormatSI
	}

	minX, maxX, minY, maxY := 0.0, 0.0, 0.0, 0.0
	points := 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
				return fmt.Errorf("plot: series %q has a non-finite point", s.Name)
			}
			minX, maxX = math.Min(minX, p.X), math.Max(maxX, p.X)
			minY, maxY = math.Min(minY, p.Y), math.Max(maxY, p.Y)
			points++
		}
	}
	if points == 0 {
		return errors.New("plot: no points to draw")
	}
	xt := NiceTicks(minX, maxX, 8)
	yt := NiceTicks(minY, maxY, 7)
	x0, x1 := xt[0], xt[len(xt)-1]
	y0, y1 := yt[0], yt[len(yt)-1]

	plotW := float64(width - marginLeft - marginRight)
	plotH := float64(height - marginTop - marginBottom)
	px := func(x float64) float64 { return marginLeft + (x-x0)/(x1-x0)*plotW }
	py := func(y float64) float64 { return marginTop + plotH - (y-y0)/(y1-y0)*plotH }

	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", width, height)
	if c.Title != "" {
		fmt.Fprintf(b, `<text x="%d" y="28" text-anchor="middle" font-size="16" font-weight="bold">%s</text>`+"\n",
			marginLeft+int(plotW)/2, esc(c.Title))
	}

	// Grid and tick labels.
	b.WriteString(`<g class="grid" stroke="#dddddd" stroke-width="1">` + "\n")
	for _, v := range xt {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", px(v), py(y0), px(v), py(y1))
	}
	for _, v := range yt {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", px(x0), py(v), px(x1), py(v))
	}
	b.WriteString("</g>\n")
	b.WriteString(`<g class="ticks" fill="#333333">` + "\n")
	for _, v := range xt {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(v), py(y0)+18, esc(xf(v)))
	}
	for _, v := range yt {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", px(x0)-8, py(v), esc(yf(v)))
	}
	b.WriteString("</g>\n")

	// Axes on top of the grid.
	fmt.Fprintf(b, `<g class="axes" stroke="#333333" stroke-width="1.5"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/></g>`+"\n",
		px(x0), py(y0), px(x1), py(y0), px(x0), py(y0), px(x0), py(y1))
	if c.XLabel != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(x0)+plotW/2, height-15, esc(c.XLabel))
	}
	if c.YLabel != "" {
		cy := marginTop + plotH/2
		fmt.Fprintf(b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">%s</text>`+"\n", cy, cy, esc(c.YLabel))
	}

	// Lines, markers, legend.
	for i, s := range c.Series {
		color := palette[i%len(palette)]
		var pts strings.Builder
		for j, p := range s.Points {
			if j > 0 {
				pts.WriteByte(' ')
			}
			fmt.Fprintf(&pts, "%.1f,%.1f", px(p.X), py(p.Y))
		}
		fmt.Fprintf(b, `<g class="series" stroke="%s" fill="%s"><title>%s</title>`+"\n", color, color, esc(s.Name))
		if len(s.Points) > 1 {
			fmt.Fprintf(b, `<polyline fill="none" stroke-width="2" points="%s"/>`+"\n", pts.String())
		}
		for _, p := range s.Points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3"/>`+"\n", px(p.X), py(p.Y))
		}
		b.WriteString("</g>\n")

		ly := marginTop + 10 + i*22
		lx := width - marginRight + 20
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", lx, ly, lx+24, ly, color)
		name := s.Name
		if len(s.Points) == 0 {
			name += " (no data)"
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" dominant-baseline="middle">%s</text>`+"\n", lx+32, ly, esc(name))
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

func esc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s)) // writes to a strings.Builder cannot fail
	return sb.String()
}
