package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lazysched/lazysched/scheduler"
)

// ANSI control sequences (ECMA-48), understood by every terminal emulator
// in use: xterm, tmux, screen, the Linux console, macOS Terminal, Windows
// Terminal.
const (
	csi        = "\x1b["
	clearBelow = csi + "J" // clear from the cursor to the end of the screen
	hideCursor = csi + "?25l"
	showCursor = csi + "?25h"
)

// screen is the display for a terminal. The moves scroll up the screen
// as they happen, one line each, and below them four status lines (two
// bars and their counters) are redrawn in place: each redraw moves the
// cursor up over the status lines it drew last, clears to the end of the
// screen, writes the new moves and then the status lines again. The
// terminal's scrollback therefore holds each move once and the status
// lines once, at the bottom.
//
// Every line is fitted to the terminal's width, read at each redraw, so
// that none wraps (a wrapped line would throw the cursor-up count off);
// from 80 columns up nothing is cut. Make it with newScreen; its methods
// may be called from several goroutines.
type screen struct {
	mu      sync.Mutex
	out     io.Writer
	width   func() int // the terminal's columns now, 0 if unknown
	drawn   int        // status lines drawn last time, above the cursor
	pending []string   // moves not drawn yet
	last    scheduler.Stats
	elapsed time.Duration
	closed  bool
	buf     []byte
}

func newScreen(out io.Writer, width func() int) *screen {
	if width == nil {
		width = func() int { return 0 }
	}
	sc := &screen{out: out, width: width}
	_, _ = io.WriteString(out, hideCursor)
	return sc
}

// event draws a move above the status lines at once.
func (sc *screen) event(line string) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		_, _ = fmt.Fprintln(sc.out, line)
		return
	}
	sc.pending = append(sc.pending, line)
	sc.draw()
}

func (sc *screen) show(st scheduler.Stats, elapsed time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return
	}
	sc.last, sc.elapsed = st, elapsed
	sc.draw()
}

// close draws the last counters and leaves them on the screen: what is
// written next goes below them.
func (sc *screen) close(st scheduler.Stats, elapsed time.Duration) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.last, sc.elapsed = st, elapsed
	sc.draw()
	sc.closed, sc.drawn = true, 0
	_, _ = io.WriteString(sc.out, showCursor)
}

// draw redraws the screen; sc.mu is held.
func (sc *screen) draw() {
	w := sc.width()
	if w <= 0 {
		w = 80
	}
	b := sc.buf[:0]
	if sc.drawn > 0 {
		b = fmt.Appendf(b, csi+"%dA\r", sc.drawn) // up to the first status line
	}
	b = append(b, clearBelow...)
	for _, l := range sc.pending {
		b = append(b, fit(l, w)...)
		b = append(b, '\n')
	}
	sc.pending = sc.pending[:0]
	status := statusLines(sc.last, sc.elapsed, w)
	for _, l := range status {
		b = append(b, fit(l, w)...)
		b = append(b, '\n')
	}
	sc.drawn = len(status)
	sc.buf = b
	_, _ = sc.out.Write(b)
}

// fit cuts line to w-1 columns (every character here takes one column),
// marking the cut with an ellipsis; the last column stays free so that no
// terminal wraps the line.
func fit(line string, w int) []byte {
	if utf8.RuneCountInString(line) <= w-1 {
		return []byte(line)
	}
	r := []rune(line)
	return []byte(string(r[:max(w-2, 0)]) + "…")
}

// The widths of the status lines' parts: a label column, then a bar of
// barMin to barMax cells, then the counters.
const (
	labelWidth = 7
	barMin     = 10
	barMax     = 60
	overMax    = 10 // '+' cells drawn after the slots bar, one per over-cap run
)

// statusLines are the four lines under the moves:
//
//	jobs   [##########################..........]   72%  72382 of 100012 ended
//	       ok 70904  failed 1448  canceled 30
//	slots  [################]++  16 of 16 in use, 2 over the cap
//	       queued 27614  running 18  over-cap 2                      7.7s
//
// With the demo's largest numbers each fits in 79 columns with a bar of at
// least barMin cells.
func statusLines(st scheduler.Stats, elapsed time.Duration, w int) []string {
	ended := st.Succeeded + st.Failed + st.Canceled
	pct := uint64(0)
	if st.Submitted > 0 {
		pct = 100 * ended / st.Submitted
	}
	jobsTail := fmt.Sprintf("  %3d%%  %d of %d ended", pct, ended, st.Submitted)
	bw := min(max(w-1-labelWidth-2-len(jobsTail), barMin), barMax)
	jobs := pad("jobs") + bar(int(ended), int(st.Submitted), bw) + jobsTail

	slotsTail := fmt.Sprintf("  %d of %d in use", st.InUse, st.Limit)
	if st.Unlimited {
		slotsTail = fmt.Sprintf("  %d in use, no cap", st.InUse)
	}
	if st.OverCap > 0 {
		slotsTail += fmt.Sprintf(", %d over the cap", st.OverCap)
	}
	cells := bw // a cap wider than the bar is scaled down
	if st.Limit > 0 && st.Limit <= bw {
		cells = st.Limit // one cell per slot
	}
	slots := pad("slots") + bar(st.InUse, st.Limit, cells) +
		strings.Repeat("+", min(st.OverCap, overMax)) + slotsTail

	return []string{
		jobs,
		pad("") + fmt.Sprintf("ok %d  failed %d  canceled %d", st.Succeeded, st.Failed, st.Canceled),
		slots,
		pad("") + fmt.Sprintf("queued %d  running %d  over-cap %d  %8.1fs", st.Queued, st.Running, st.OverCap, elapsed.Seconds()),
	}
}

func pad(label string) string { return label + strings.Repeat(" ", labelWidth-len(label)) }

// bar draws n of total as cells cells between brackets, '#' for done and
// '.' for the rest; an empty total draws an empty bar.
func bar(n, total, cells int) string {
	filled := 0
	if total > 0 {
		filled = min(max(n*cells/total, 0), cells)
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", cells-filled) + "]"
}
