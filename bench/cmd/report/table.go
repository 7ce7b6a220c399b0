package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// baseline is the runner the ratios compare with.
const baseline = "lazysched"

// primaryUnits are the metrics a workload is judged by, best first; the
// first one a group has gets the ratio column.
var primaryUnits = []string{"ns/task", "B/pending", "ns/call", "ns/op"}

// columns are the units shown, in this order; others follow.
var columns = []string{"ns/task", "allocs/task", "B/task", "efficiency", "B/pending", "heapB/pending", "ns/submit", "ns/call"}

func (g *group) units() []string {
	var all []string
	for _, s := range g.runners {
		for _, u := range s.units {
			if !slices.Contains(all, u) {
				all = append(all, u)
			}
		}
	}
	var out []string
	for _, u := range columns {
		if slices.Contains(all, u) {
			out = append(out, u)
		}
	}
	for _, u := range all {
		if !slices.Contains(out, u) && u != "ns/op" && u != "ns/cputask" {
			out = append(out, u)
		}
	}
	if len(out) == 0 && slices.Contains(all, "ns/op") {
		out = append(out, "ns/op")
	}
	return out
}

func (g *group) primary() string {
	us := g.units()
	for _, p := range primaryUnits {
		if slices.Contains(us, p) {
			return p
		}
	}
	if len(us) > 0 {
		return us[0]
	}
	return ""
}

// base is the series ratios are taken against: lazysched if the group has
// it, else its first runner (QueueOps: the smaller queue).
func (g *group) base() *series {
	if s := g.find(baseline); s != nil {
		return s
	}
	return g.runners[0]
}

func printTables(w io.Writer, res *results) {
	for _, h := range res.header {
		fmt.Fprintln(w, h)
	}
	for _, g := range res.groups {
		fmt.Fprintln(w)
		prim := g.primary()
		base := g.base()
		bv, _ := base.med(prim)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		units := g.units()
		head := []string{g.name, "n"}
		for _, u := range units {
			head = append(head, u)
			if u == prim {
				head = append(head, "±", "x "+base.name)
			}
		}
		fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
		for _, s := range g.runners {
			row := []string{s.name, fmt.Sprint(len(s.samples[prim]))}
			for _, u := range units {
				v, ok := s.med(u)
				row = append(row, cell(v, ok))
				if u == prim {
					if ok {
						row = append(row, fmt.Sprintf("%.0f%%", spread(s.samples[u])))
					} else {
						row = append(row, "")
					}
					if ok && bv != 0 {
						row = append(row, fmt.Sprintf("%.2f", v/bv))
					} else {
						row = append(row, "-")
					}
				}
			}
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		tw.Flush()
	}
}

// cell formats a median with three significant digits or so.
func cell(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	a := abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.1e", v)
}
