package jobs

import (
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// oneUnfinishedPerArgs keeps one unfinished job per args (per charge, per refund); once it has
// finished, another may be enqueued.
func oneUnfinishedPerArgs() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// onePassAtATime keeps a pass of a periodic job from piling up: while one waits or runs, another
// is not enqueued.
func onePassAtATime() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// retrySoon is when a job that failed on an error that left the gateway untouched (a 503, a
// refused connection) runs again: after a second, doubling up to ten minutes. River's default
// backoff, meant for bugs, waits hours by the fifth try.
func retrySoon(attempt int) time.Time {
	return time.Now().Add(min(time.Second<<min(attempt-1, 20), 10*time.Minute))
}

// every enqueues args every interval, and once when this process becomes River's leader.
func every(interval time.Duration, args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
