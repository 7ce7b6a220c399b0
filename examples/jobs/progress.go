package main

import (
	"fmt"
	"io"
	"time"

	"github.com/lazysched/lazysched/scheduler"
)

// display shows the operator's moves as they happen and the scheduler's
// counters while the jobs run: redrawn bars on a terminal, plain lines
// elsewhere. Its methods may be called from several goroutines.
type display interface {
	event(line string) // one move, or a message
	show(st scheduler.Stats, elapsed time.Duration)
	close(st scheduler.Stats, elapsed time.Duration)
}

// sampleEvery is how often the sampler reads Stats; displays may show less.
const sampleEvery = 100 * time.Millisecond

// sampler reads the scheduler's Stats a few times a second, hands them to
// a display and keeps the highest Running and OverCap it saw.
type sampler struct {
	s     *scheduler.Scheduler
	d     display
	start time.Time

	// read after loop has returned
	peakRunning, peakOverCap int
}

// loop samples until stop is closed, then shows the last sample and closes
// the display.
func (m *sampler) loop(stop <-chan struct{}) {
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			m.d.show(m.sample(), time.Since(m.start))
		case <-stop:
			m.d.close(m.sample(), time.Since(m.start))
			return
		}
	}
}

func (m *sampler) sample() scheduler.Stats {
	st := m.s.Stats()
	m.peakRunning = max(m.peakRunning, st.Running)
	m.peakOverCap = max(m.peakOverCap, st.OverCap)
	return st
}

// lines is the display for a pipe or a file: each move as a line when it
// happens, and a line of counters per period. It writes no escapes.
type lines struct {
	out   io.Writer
	every time.Duration
	next  time.Duration // elapsed time of the next line
}

func (l *lines) event(line string) { fmt.Fprintln(l.out, line) }

func (l *lines) show(st scheduler.Stats, elapsed time.Duration) {
	if elapsed < l.next {
		return
	}
	l.next = elapsed.Truncate(l.every) + l.every
	fmt.Fprintln(l.out, statsLine(st, elapsed))
}

func (l *lines) close(st scheduler.Stats, elapsed time.Duration) {
	fmt.Fprintln(l.out, statsLine(st, elapsed))
}

func statsLine(st scheduler.Stats, elapsed time.Duration) string {
	return fmt.Sprintf("%7.2fs  Stats()    queued %d  running %d  over-cap %d  ended %d/%d  failed %d  canceled %d",
		elapsed.Seconds(), st.Queued, st.Running, st.OverCap,
		st.Succeeded+st.Failed+st.Canceled, st.Submitted, st.Failed, st.Canceled)
}
