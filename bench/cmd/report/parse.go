package main

import (
	"bufio"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// results are the samples of a run, grouped by workload then runner, in
// the order they first appear.
type results struct {
	groups []*group
	header []string // goos, goarch, cpu... lines
}

type group struct {
	name    string // the workload: the name up to its last '/'
	runners []*series
}

type series struct {
	name    string // the runner: the last element of the name
	units   []string
	samples map[string][]float64 // unit → values
}

// procsRE and repeatRE strip the suffixes that make
// "BenchmarkW1/lazysched#02-2" out of "W1/lazysched".
var (
	procsRE  = regexp.MustCompile(`-\d+$`)
	repeatRE = regexp.MustCompile(`#\d+`)
)

// cleanName returns the benchmark's name without "Benchmark", repeat
// suffixes (#01) and the GOMAXPROCS suffix (-2).
func cleanName(s string) string {
	s = strings.TrimPrefix(s, "Benchmark")
	s = procsRE.ReplaceAllString(s, "")
	return repeatRE.ReplaceAllString(s, "")
}

func parse(sc *bufio.Scanner) (*results, error) {
	res := &results{}
	byName := map[string]*group{}
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") { // run.sh's notes: machine, load
			res.header = append(res.header, line)
			continue
		}
		if k, _, ok := strings.Cut(line, ":"); ok && slices.Contains([]string{"goos", "goarch", "pkg", "cpu"}, k) {
			if !slices.Contains(res.header, line) {
				res.header = append(res.header, line)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := cleanName(f[0])
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			continue // a benchmark without runners: not ours
		}
		gname, rname := name[:i], name[i+1:]
		g := byName[gname]
		if g == nil {
			g = &group{name: gname}
			byName[gname] = g
			res.groups = append(res.groups, g)
		}
		s := g.runner(rname)
		for j := 2; j+1 < len(f); j += 2 {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				continue
			}
			unit := f[j+1]
			if _, seen := s.samples[unit]; !seen {
				s.units = append(s.units, unit)
			}
			s.samples[unit] = append(s.samples[unit], v)
		}
	}
	return res, sc.Err()
}

func (g *group) runner(name string) *series {
	for _, s := range g.runners {
		if s.name == name {
			return s
		}
	}
	s := &series{name: name, samples: map[string][]float64{}}
	g.runners = append(g.runners, s)
	return s
}

func (g *group) find(name string) *series {
	for _, s := range g.runners {
		if s.name == name {
			return s
		}
	}
	return nil
}

// median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is the largest distance of a sample from the median, in percent
// of the median (benchstat's ±).
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 {
		return 0
	}
	d := 0.0
	for _, x := range xs {
		d = max(d, abs(x-m))
	}
	return 100 * d / abs(m)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// med returns the median of s's unit and whether s has it.
func (s *series) med(unit string) (float64, bool) {
	if s == nil {
		return 0, false
	}
	xs, ok := s.samples[unit]
	return median(xs), ok && len(xs) > 0
}
