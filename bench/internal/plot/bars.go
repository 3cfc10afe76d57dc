package plot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Bar is one bar of a BarChart: a value and, optionally, the spread it
// summarises (drawn as a whisker from Low to High when High > Low).
type Bar struct {
	Label     string
	Value     float64
	Low, High float64
}

// BarChart is a vertical bar chart, one bar per label, coloured in palette
// order so the same position means the same thing across charts drawn side
// by side. The zero values of Width and Height mean 440x400; a nil YFormat
// means FormatSI. The value axis starts at zero.
type BarChart struct {
	Title, YLabel string
	Width, Height int
	YFormat       func(float64) string
	Bars          []Bar
}

// Size is the chart's width and height in pixels.
func (c BarChart) Size() (int, int) {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 440
	}
	if h == 0 {
		h = 400
	}
	return w, h
}

const (
	barMarginLeft   = 70
	barMarginRight  = 20
	barMarginTop    = 50
	barMarginBottom = 70 // room for the labels
)

// WriteSVG writes the chart as a standalone SVG document.
func (c BarChart) WriteSVG(w io.Writer) error {
	width, height := c.Size()
	yf := c.YFormat
	if yf == nil {
		yf = FormatSI
	}
	if len(c.Bars) == 0 {
		return errors.New("plot: no bars to draw")
	}
	maxY := 0.0
	for _, b := range c.Bars {
		for _, v := range []float64{b.Value, b.Low, b.High} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("plot: bar %q has a negative or non-finite value", b.Label)
			}
		}
		maxY = math.Max(maxY, math.Max(b.Value, b.High))
	}
	yt := NiceTicks(0, maxY, 7)
	y1 := yt[len(yt)-1]
	plotW := float64(width - barMarginLeft - barMarginRight)
	plotH := float64(height - barMarginTop - barMarginBottom)
	py := func(y float64) float64 { return barMarginTop + plotH - y/y1*plotH }
	slot := plotW / float64(len(c.Bars))
	barW := slot * 0.6

	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(b, `<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", width, height)
	if c.Title != "" {
		fmt.Fprintf(b, `<text x="%.1f" y="28" text-anchor="middle" font-size="15" font-weight="bold">%s</text>`+"\n",
			barMarginLeft+plotW/2, esc(c.Title))
	}
	b.WriteString(`<g class="grid" stroke="#dddddd" stroke-width="1">` + "\n")
	for _, v := range yt {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", barMarginLeft, py(v), barMarginLeft+plotW, py(v))
	}
	b.WriteString("</g>\n")
	b.WriteString(`<g class="ticks" fill="#333333">` + "\n")
	for _, v := range yt {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", barMarginLeft-8, py(v), esc(yf(v)))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(b, `<g class="axes" stroke="#333333" stroke-width="1.5"><line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/></g>`+"\n",
		barMarginLeft, py(0), barMarginLeft+plotW, py(0), barMarginLeft, py(0), barMarginLeft, py(y1))
	if c.YLabel != "" {
		cy := barMarginTop + plotH/2
		fmt.Fprintf(b, `<text x="16" y="%.1f" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`+"\n", cy, cy, esc(c.YLabel))
	}
	for i, bar := range c.Bars {
		color := palette[i%len(palette)]
		cx := barMarginLeft + slot*(float64(i)+0.5)
		fmt.Fprintf(b, `<g class="bar" fill="%s" stroke="%s"><title>%s: %s</title>`+"\n", color, color, esc(bar.Label), esc(yf(bar.Value)))
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`+"\n", cx-barW/2, py(bar.Value), barW, py(0)-py(bar.Value))
		if bar.High > bar.Low {
			// The whisker is dark so it shows over the bar too.
			fmt.Fprintf(b, `<g stroke="#222222" stroke-width="1.5"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/></g>`+"\n",
				cx, py(bar.Low), cx, py(bar.High),
				cx-barW/6, py(bar.Low), cx+barW/6, py(bar.Low),
				cx-barW/6, py(bar.High), cx+barW/6, py(bar.High))
		}
		b.WriteString("</g>\n")
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", cx, py(0)+18, esc(bar.Label))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555555">%s</text>`+"\n", cx, py(0)+34, esc(yf(bar.Value)))
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

// Panel is a chart that knows its size, so panels can be laid side by side.
type Panel interface {
	Size() (width, height int)
	WriteSVG(io.Writer) error
}

// WriteSideBySide writes the panels left to right as one SVG document.
func WriteSideBySide(w io.Writer, panels ...Panel) error {
	if len(panels) == 0 {
		return errors.New("plot: no panels")
	}
	total, tallest := 0, 0
	var parts [][]byte
	for _, p := range panels {
		pw, ph := p.Size()
		var buf bytes.Buffer
		if err := p.WriteSVG(&buf); err != nil {
			return err
		}
		parts = append(parts, buf.Bytes())
		total += pw
		tallest = max(tallest, ph)
	}
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", total, tallest, total, tallest)
	x := 0
	for i, p := range panels {
		pw, _ := p.Size()
		fmt.Fprintf(b, `<g transform="translate(%d,0)">`+"\n", x)
		b.Write(parts[i])
		b.WriteString("</g>\n")
		x += pw
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

// ShortLabel shortens a server name for a bar label, where room is
// scarce: "switchboard-epoll" becomes "sb-epoll", "peer-nbio" "nbio".
func ShortLabel(name string) string {
	if rest, ok := strings.CutPrefix(name, "switchboard-"); ok {
		return "sb-" + rest
	}
	return strings.TrimPrefix(name, "peer-")
}
