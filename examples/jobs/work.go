package main

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/lazysched/lazysched/lazytask"
)

// errSimulated is the error of the jobs that are drawn to fail.
var errSimulated = errors.New("jobs: simulated failure")

// spec is one simulated job: how long it works and whether it fails.
type spec struct {
	d    time.Duration
	fail bool
}

// specs draws jobs of log-normal length (a few long ones, most short) with
// mean about cfg.Mean, none longer than cfg.Longest, from a seeded source so
// that a run can be repeated.
type specs struct {
	r      *rand.Rand
	median float64
	cfg    config
}

// sigma is the spread of the log-normal lengths: with 1.0 the longest of
// 100,000 jobs is some 80 times the median, so the cap at cfg.Longest bites.
const sigma = 1.0

func newSpecs(cfg config) *specs {
	return &specs{
		r:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		median: float64(cfg.Mean) / math.Exp(sigma*sigma/2), // mean = median·e^(σ²/2)
		cfg:    cfg,
	}
}

func (s *specs) next() spec {
	d := time.Duration(s.median * math.Exp(sigma*s.r.NormFloat64()))
	return spec{d: min(max(d, 10*time.Microsecond), s.cfg.Longest), fail: s.r.Float64() < s.cfg.FailRate}
}

// fn is the job's function: it works for sp.d unless its context ends first,
// and reports to g while it runs. A job force-run over the cap works for
// at least forced, so that its run can be seen on the display (the
// over-cap counter, the slots bar's '+'). It returns the time it worked.
func (sp spec) fn(g *gauge, forced time.Duration) func(context.Context) (time.Duration, error) {
	return func(ctx context.Context) (time.Duration, error) {
		over := lazytask.HandleOf(ctx).Info().OverCap
		g.enter(over)
		defer g.leave(over)
		if over {
			sp.d = max(sp.d, forced)
		}
		t := time.NewTimer(sp.d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
		if sp.fail {
			return sp.d, errSimulated
		}
		return sp.d, nil
	}
}
