package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// ANSI control sequences (ECMA-48), understood by every terminal emulator
// in use.
const (
	csi        = "\x1b["
	clearLine  = csi + "2K" // clear the whole line the cursor is on
	clearBelow = csi + "J"  // clear from the cursor to the end of the screen
	hideCursor = csi + "?25l"
	showCursor = csi + "?25h"
)

// plainEvery is how often a plain progress line is printed.
const plainEvery = time.Second

// view is the parent's output. Events (the kill, the permits' return, a
// worker's end) are lines that scroll up as they happen. On a terminal,
// below them, one line per worker and one for the fleet are redrawn in
// place: each redraw moves the cursor up over the lines it drew last and
// clears and rewrites each. In plain mode a progress line is printed every
// plainEvery instead, and nothing is redrawn.
type view struct {
	w      *bufio.Writer
	plain  bool
	lines  []string // the status lines, as last drawn
	drawn  int      // status lines drawn last, above the cursor
	closed bool
	last   time.Time // of the last plain progress line
}

func newView(out io.Writer, plain bool) *view {
	v := &view{w: bufio.NewWriter(out), plain: plain}
	if !plain {
		v.w.WriteString(hideCursor)
	}
	return v
}

// up moves the cursor to the first status line drawn last.
func (v *view) up() {
	if v.drawn > 0 {
		fmt.Fprintf(v.w, csi+"%dA", v.drawn)
	}
}

// event prints a line above the status lines, and draws them again below
// it.
func (v *view) event(line string) {
	if v.closed {
		return
	}
	if v.plain {
		v.w.WriteString(line + "\n")
		_ = v.w.Flush()
		return
	}
	v.up()
	v.w.WriteString("\r" + clearBelow + line + "\n")
	v.drawn = 0
	v.drawLines(v.lines)
	_ = v.w.Flush()
}

// drawLines writes lines from the cursor on, each over the line that was
// there, and clears what is left below of the lines drawn last.
func (v *view) drawLines(lines []string) {
	for _, l := range lines {
		v.w.WriteString("\r" + clearLine + l + "\n")
	}
	v.w.WriteString(clearBelow)
	v.drawn = len(lines)
}

// status redraws the status lines (terminal), or prints line as a progress
// line once every plainEvery (plain).
func (v *view) status(lines []string, line string) {
	if v.closed {
		return
	}
	if v.plain {
		if time.Since(v.last) >= plainEvery {
			v.last = time.Now()
			v.w.WriteString(line + "\n")
			_ = v.w.Flush()
		}
		return
	}
	v.lines = lines
	v.up()
	v.drawLines(lines)
	_ = v.w.Flush()
}

// close leaves the status lines as they were last drawn, shows the
// cursor again and flushes. A second call does nothing.
func (v *view) close() {
	if v.closed {
		return
	}
	v.closed = true
	if !v.plain {
		v.w.WriteString(showCursor)
	}
	_ = v.w.Flush()
}

// bar draws n of width cells full ('#'), and the rest empty ('.').
func bar(n, width int) string {
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// draw shows the workers' last reports and the fleet's slots in use.
func (d *demo) draw() {
	cfg := d.cfg
	var lines, parts []string
	for _, w := range d.workers {
		var l, p string
		st := w.state
		switch {
		case w.killed && !d.recovered:
			l = fmt.Sprintf("worker %d  %s  killed by SIGKILL: its %s wait for their leases", w.id,
				strings.ReplaceAll(bar(w.killedAt.held, cfg.limit), "#", "x"), permits(w.killedAt.held))
			p = fmt.Sprintf("worker %d: killed, %s not yet back", w.id, permits(w.killedAt.held))
		case w.killed:
			l = fmt.Sprintf("worker %d  %s  killed by SIGKILL after %d jobs: its permits are back", w.id, bar(0, cfg.limit), w.killedAt.done)
			p = fmt.Sprintf("worker %d: killed, permits back", w.id)
		default:
			l = fmt.Sprintf("worker %d  %s  held %d  running %d  done %3d/%d  lost %d", w.id, bar(st.held, cfg.limit),
				st.held, st.running, st.done, cfg.jobs, st.lost)
			p = fmt.Sprintf("worker %d: held %d, running %d, done %d/%d", w.id, st.held, st.running, st.done, cfg.jobs)
		}
		lines, parts = append(lines, l), append(parts, p)
	}
	fl := fmt.Sprintf("fleet     %s  in use %d of cap %d (Redis)  peak %d  waiting %d",
		bar(int(d.inUse), cfg.limit), d.inUse, cfg.limit, d.peak, d.waiting)
	if !d.granted {
		fl += fmt.Sprintf("  waiting for the first grant (%.1fs)", time.Since(d.start).Seconds())
	}
	lines = append(lines, fl)
	line := fmt.Sprintf("%s in use %d/%d (peak %d, %d waiting) | %s", d.since(time.Now()), d.inUse, cfg.limit, d.peak, d.waiting, strings.Join(parts, " | "))
	d.out.status(lines, line)
}
