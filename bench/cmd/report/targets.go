package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// A check is one target of DESIGN §10.
type check struct {
	target string
	got    string
	ok     bool
	known  bool // false: the run has no figures for it
	info   bool // a figure to read beside the targets, not one of them
}

func (c check) verdict() string {
	switch {
	case !c.known:
		return "n/a"
	case c.info:
		return "(info)"
	case c.ok:
		return "holds"
	}
	return "MISSED"
}

// med returns the median of unit for runner in group.
func (r *results) med(group, runner, unit string) (float64, bool) {
	for _, g := range r.groups {
		if g.name == group {
			return g.find(runner).med(unit)
		}
	}
	return 0, false
}

// queueSizes returns the smallest and largest queue of a QueueOps group,
// as written in the runner names (queued=10k...).
func (r *results) queueSizes(group string) (small, big string) {
	small, big = "10k", "1M"
	lo, hi := 0.0, 0.0
	for _, g := range r.groups {
		if g.name != group {
			continue
		}
		for _, s := range g.runners {
			label, ok := strings.CutPrefix(s.name, "queued=")
			if !ok {
				continue
			}
			n := size(label)
			if lo == 0 || n < lo {
				lo, small = n, label
			}
			if n > hi {
				hi, big = n, label
			}
		}
	}
	return small, big
}

// size reads 10k as 10000 and 1M as 1000000.
func size(s string) float64 {
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v * mult
}

// bigQueueFactor is the most that an op on a 100-times-larger queue may
// cost, relative to the smaller one, to count as O(1) or O(log n): log n
// grows 1.5x from 10k to 1M, cache misses add some; a scan would be ~100x.
const bigQueueFactor = 5

func printTargets(w io.Writer, r *results) {
	var cs []check
	ratio := func(target, group, a, b, unit string, limit float64) {
		x, okA := r.med(group, a, unit)
		y, okB := r.med(group, b, unit)
		c := check{target: target, known: okA && okB && y != 0}
		if c.known {
			c.got = fmt.Sprintf("%.2fx (%s %.4g vs %s %.4g %s)", x/y, a, x, b, y, unit)
			c.ok = x/y <= limit
		}
		cs = append(cs, c)
	}
	bound := func(target, group, runner, unit string, limit float64, atLeast bool) {
		x, ok := r.med(group, runner, unit)
		c := check{target: target, known: ok}
		if ok {
			c.got = fmt.Sprintf("%.4g %s", x, unit)
			c.ok = x <= limit
			if atLeast {
				c.ok = x >= limit
			}
		}
		cs = append(cs, c)
	}
	ratio("W1, handles kept and awaited: time <= 1.0x pond Go's", "W1", "lazysched", "pond-go", "ns/task", 1.0)
	ratio("W1, handles dropped: time <= 0.8x pond Go's", "W1", "lazysched-drop", "pond-go", "ns/task", 0.8)
	bound("W1: <= 1 allocation per task (+1% slack, see README)", "W1", "lazysched", "allocs/task", 1.01, false)
	bound("W6: a queued task (handle slot included) <= 64 B", "W6", "lazysched", "B/pending", 64, false)
	bound("W6: a queued task's handle alone <= 64 B", "W6", "lazysched-drop", "B/pending", 64, false)
	ratio("W6: a submit with 1M queued <= 1.5x pond Go's", "W6", "lazysched", "pond-go", "ns/submit", 1.5)
	ratio("W7: 1,000 scopes <= 1.3x one scope, per task", "W7", "scopes=1000", "scopes=1", "ns/task", 1.3)
	ratio("W7: 10,000 scopes <= 1.3x one scope, per task", "W7", "scopes=10000", "scopes=1", "ns/task", 1.3)
	ratio("W8: 4,000,000 tasks <= 1.10x 10,000, per task", "W8", "tasks=4000000", "tasks=10000", "ns/task", 1.10)
	ratio("W9: 64 submitters <= 1.10x one, per task", "W9", "subs=64", "subs=1", "ns/task", 1.10)
	{
		// W5: efficiency at least the channel pool's: its inverse ratio.
		x, okA := r.med("W5", "fixedpool", "efficiency")
		y, okB := r.med("W5", "lazysched", "efficiency")
		c := check{target: "W5: efficiency >= the channel pool's", known: okA && okB && y != 0}
		if c.known {
			c.got = fmt.Sprintf("lazysched %.3g vs fixedpool %.3g", y, x)
			c.ok = y >= x
		}
		cs = append(cs, c)
	}
	ratio("hooks: empty hooks <= 1.10x none", "Hooks", "empty", "none", "ns/task", 1.10)
	ratio("OpenTelemetry (real SDK, no-op export) <= 2x no hooks", "Otel", "otel", "none", "ns/task", 2)
	// The same two on W5's CPU-bound tasks (DESIGN §10 states the hooks'
	// target beside W5), and the floor a span per task sets on no-op ones.
	ratio("hooks on W5's tasks: empty hooks <= 1.10x none", "OtelCPU", "empty", "none", "ns/task", 1.10)
	ratio("OpenTelemetry on W5's tasks <= 2x no hooks", "OtelCPU", "otel", "none", "ns/task", 2)
	ratio("OpenTelemetry's floor: a bare SDK span per no-op task vs none", "Otel", "sdk-span", "none", "ns/task", 0)
	cs[len(cs)-1].info = true
	for _, op := range []string{"promote", "cancel", "force"} {
		small, big := r.queueSizes("QueueOps/" + op)
		ratio(fmt.Sprintf("%s: %s queued <= %dx %s queued", op, big, bigQueueFactor, small),
			"QueueOps/"+op, "queued="+big, "queued="+small, "ns/call", bigQueueFactor)
	}
	fmt.Fprintln(w, "Targets (DESIGN §10), lazysched with a handle per task:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range cs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.target, c.verdict(), c.got)
	}
	tw.Flush()
	printFloor(w, r)
}

// printFloor sets lazysched beside the floor64 runner: the fixed pool plus
// one kept 64 B handle per task, the least a handle per task costs on this
// machine. What lazysched spends above it is the scheduler's own cost. For
// W5 the figure is an efficiency (higher is better), and the floor's shows
// how much of W5's target (the fixed pool's efficiency) a kept handle per
// task leaves room for.
func printFloor(w io.Writer, r *results) {
	rows := []struct {
		label, group, unit string
		vsFixed            bool
	}{
		{"W1 time", "W1", "ns/task", true},
		{"W5 efficiency", "W5", "efficiency", true},
		{"W6 submit", "W6", "ns/submit", false},
		{"W6 memory", "W6", "B/pending", false},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	printed := false
	for _, row := range rows {
		floor, ok1 := r.med(row.group, "floor64", row.unit)
		ours, ok2 := r.med(row.group, "lazysched", row.unit)
		fixed, ok3 := r.med(row.group, "fixedpool", row.unit)
		if !ok1 || !ok2 || floor == 0 {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "\nThe floor of a kept handle per task (floor64: the fixed pool plus one 64 B handle per task):")
			printed = true
		}
		line := fmt.Sprintf("  %s\tfloor64 %.4g %s\tlazysched %.2fx the floor", row.label, floor, row.unit, ours/floor)
		if ok3 && row.vsFixed && fixed != 0 {
			line += fmt.Sprintf("\tthe floor is %.2fx the fixed pool", floor/fixed)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}
