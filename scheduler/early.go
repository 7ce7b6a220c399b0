package scheduler

import "github.com/lazysched/lazysched/internal/core"

// Early reclaims: a running task that lent its slots to await another
// task of this scheduler gets them back when that task ends, in the same
// Release, before a queued task can take them. Its own Reclaim, when its
// wait returns a moment later, then finds them taken (or its place at the
// head of the reclaims) instead of racing the queue for them.

// reclaimEarlyLocked takes back, for each task that waited for the task
// now ending, the slots it lent, as Reclaim would: at once if they are
// free and no one waits ahead, else at the head of the queue (s.reclaims).
// If freeOnly (waits on a core.Gate), only where they are free at once.
func (s *Scheduler) reclaimEarlyLocked(waiters []*core.Task, freeOnly bool) {
	for _, c := range waiters {
		sc := s.scopeOf(c)
		if sc == nil || core.StateOf(c) != core.Running || *core.OwnerWord(c) != 1 {
			continue // another scheduler's, ended, or waiting elsewhere too
		}
		if _, ok := s.early[c]; ok {
			continue
		}
		w := core.Weight(c)
		if freeOnly && !core.LentOver(c) && (len(s.reclaims) > 0 || !sc.fitsPath(w)) {
			continue
		}
		if s.early == nil {
			s.early = make(map[*core.Task]*reclaim)
		}
		s.early[c] = s.takeBackLocked(c, sc, w)
	}
}

// takeEarlyLocked is Reclaim's first step: if c's slots were taken back
// early, it ends c's lend and returns true, with the reclaim to wait for,
// if they are not yet handed over.
func (s *Scheduler) takeEarlyLocked(c *core.Task) (*reclaim, bool) {
	r, ok := s.early[c]
	if !ok {
		return nil, false
	}
	delete(s.early, c)
	*core.OwnerWord(c)--
	return r, true
}

// dropEarlyLocked undoes an early reclaim of a task that ends before its
// wait returned (the wait was on a goroutine it left behind). Slots taken
// back for it are held as usual, and Release gives them back; a place
// among the reclaims not yet granted is dropped, and Release gives back
// nothing.
func (s *Scheduler) dropEarlyLocked(c *core.Task) {
	r, ok := s.early[c]
	if !ok {
		return
	}
	delete(s.early, c)
	if r == nil {
		*core.OwnerWord(c)--
		return
	}
	for i, x := range s.reclaims {
		if x == r {
			s.reclaims = append(s.reclaims[:i], s.reclaims[i+1:]...)
			break
		}
	}
	select {
	case <-r.ch:
		*core.OwnerWord(c)-- // granted meanwhile: held
	default:
	}
}

// relendEarlyLocked is for a task whose slots came back early while
// another of its goroutines starts a new wait before the first wait has
// returned: the slots are lent again, as if the first wait had not ended,
// so the new wait does not hold them; both waits' Reclaims then count down
// as nested waits do.
func (s *Scheduler) relendEarlyLocked(sc *Scope, c *core.Task) {
	r, ok := s.early[c]
	if !ok {
		return
	}
	delete(s.early, c)
	w := core.Weight(c)
	held := r == nil
	if r != nil {
		for i, x := range s.reclaims {
			if x == r {
				s.reclaims = append(s.reclaims[:i], s.reclaims[i+1:]...)
				break
			}
		}
		select {
		case <-r.ch:
			held = true // granted meanwhile
		default:
		}
	}
	s.lent++
	if held {
		if core.OverCap(c) {
			s.underCapLocked(c, w)
			core.SetLentOver(c, true)
		} else {
			sc.putPath(w)
		}
	}
	s.admitAllLocked()
}
