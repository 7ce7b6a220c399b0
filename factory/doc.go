// Package factory is the small "start a task somewhere" interface, and what
// is built on it: combinators, and servers that drain gracefully.
//
// A Factory takes a Lazy task and decides where and when it runs. Code that
// creates tasks on someone else's behalf (a fan-out helper, a server's
// accept loop, a library) takes a Factory instead of a scheduler, so that
// its caller chooses the cap, the scope and the error policy:
//
//	func fetchAll(ctx context.Context, f factory.Factory, urls []string) ([]Page, error) {
//		return factory.Map(ctx, f, urls, 8, fetch)
//	}
//
// *scheduler.Scope and *scheduler.Scheduler are Factories as they are
// (their Enqueue method); Goroutines runs every task on a goroutine of its
// own, with no cap, for code and tests that have no scheduler.
//
// Completed iterates over tasks the caller already holds, wherever they
// were submitted, in the order they end.
//
// WithOptions wraps a Factory so that every task made through it (by
// Submit, Go and the combinators) gets the same task options: a name, a
// priority, a timeout or labels for a whole fan-out.
//
// The combinators' tasks carry the values of the context they are given
// (lazytask.WithValues): a request id or a trace span reaches each task's
// function and the scheduler's hooks. They cancel their tasks themselves
// when that context ends. They submit without waiting for queue room: on a
// scheduler with a bounded queue (scheduler.WithQueueLimit), a task past
// the room is refused, and its result carries scheduler.ErrQueueFull, as
// Submit's refusal; give such a fan-out a Map limit within the room, or a
// scope of a scheduler whose queue is not bounded. Such a task is refused at
// its Enqueue, so it was never the scheduler's: it ends Canceled with that
// cause, no hook sees it (no span, no metric, not Info().Rejected), and
// Stats counts it nowhere, unlike a task that scheduler.Submit refuses.
//
// The combinators wait the way lazytask's Await does: called from inside a
// task of a scheduler, the calling task lends its slot while it waits, so
// a task that fans out on its own scheduler cannot deadlock the cap; when
// one of the combinator's tasks ends and so ends the wait, the slot it
// frees goes back to the caller ahead of every queued task (Race at cap 1
// can then cancel a loser that would run forever). If another task took
// the slot meanwhile, a wait that ended with the last of the combinator's
// tasks waits for it, ahead of every queued task, as Await does, and the
// cap holds. A wait that ended while some of them had yet to end (the
// caller of Completed, AsCompleted or Map runs code at each end) goes on
// over the cap, counted in the scheduler's Stats().OverCap, until the slot
// is free, since those tasks may be waiting for one still queued; so does
// a wait cut short by ctx while the slot is taken.
//
// Serve and ServeHTTP run servers in scopes: the accept loop in one, the
// connection or request handlers in a child scope with a cap. Shutdown
// stops accepting first, lets the handlers drain for a grace period, then
// cancels the stragglers and closes their connections.
//
// The subpackages: errgroup is a drop-in for golang.org/x/sync/errgroup
// built on the scheduler; pondexec runs a scheduler's tasks on a
// github.com/alitto/pond/v2 pool, and is the only package that imports it.
package factory
