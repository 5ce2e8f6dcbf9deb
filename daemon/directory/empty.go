package directory

import "time"

// Empty returns a snapshot with no entries, used while no valid directory
// has ever been seen: the daemon still runs, answers and reports the error.
func Empty() *Snapshot { return newSnapshot(Document{}, nil, time.UTC) }
