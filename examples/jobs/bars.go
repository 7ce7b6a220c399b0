package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/lazysched/lazysched/scheduler"
)

// bars is the display for a terminal: a bar of the jobs ended out of those
// submitted, and a bar of the slots in use out of the cap, each with the
// counters beside it.
type bars struct {
	p           *mpb.Progress
	jobs, slots *mpb.Bar
	st          atomic.Pointer[scheduler.Stats] // read by mpb's render goroutine
	start       time.Time
}

func newBars(out io.Writer, start time.Time) *bars {
	b := &bars{start: start, p: mpb.New(mpb.WithOutput(out), mpb.WithWidth(48),
		mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())} // refresh on any out (tests)
	b.st.Store(&scheduler.Stats{})
	// A total of 0 leaves the bars open until close: SetTotal changes the
	// scale without completing them.
	b.jobs = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name("jobs ", decor.WCSyncWidthR)),
		mpb.AppendDecorators(decor.Any(counts, decor.WCSyncWidth), decor.Any(percent, decor.WCSyncWidth), decor.Any(b.ends)))
	b.slots = b.p.New(0, mpb.BarStyle().Lbound("[").Filler("#").Tip("").Padding(".").Rbound("]"),
		mpb.PrependDecorators(decor.Name("slots ", decor.WCSyncWidthR)),
		mpb.AppendDecorators(decor.Any(counts, decor.WCSyncWidth), decor.Any(b.elapsed, decor.WCSyncWidth), decor.Any(b.now)))
	return b
}

func counts(s decor.Statistics) string { return fmt.Sprintf(" %d/%d", s.Current, s.Total) }

func percent(s decor.Statistics) string {
	if s.Total == 0 {
		return "   0%"
	}
	return fmt.Sprintf(" %3d%%", 100*s.Current/s.Total)
}

func (b *bars) elapsed(decor.Statistics) string {
	return fmt.Sprintf(" %.1fs", time.Since(b.start).Seconds())
}

func (b *bars) ends(decor.Statistics) string {
	st := b.st.Load()
	return fmt.Sprintf("  ok %d  failed %d  canceled %d", st.Succeeded, st.Failed, st.Canceled)
}

func (b *bars) now(decor.Statistics) string {
	st := b.st.Load()
	return fmt.Sprintf("  queued %d  running %d  over-cap %d", st.Queued, st.Running, st.OverCap)
}

func (b *bars) show(st scheduler.Stats, _ time.Duration) {
	b.st.Store(&st)
	b.jobs.SetTotal(int64(st.Submitted), false)
	b.jobs.SetCurrent(int64(st.Succeeded + st.Failed + st.Canceled))
	b.slots.SetTotal(int64(st.Limit), false)
	b.slots.SetCurrent(int64(st.InUse))
}

// close draws the last counters, ends both bars (the slots bar as it is,
// empty) and waits for mpb's goroutines to end.
func (b *bars) close(st scheduler.Stats, elapsed time.Duration) {
	b.show(st, elapsed)
	b.jobs.SetTotal(-1, true)
	b.slots.Abort(false)
	b.p.Wait()
}
