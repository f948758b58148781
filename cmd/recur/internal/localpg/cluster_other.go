//go:build !unix

package localpg

import "context"

// ensureCluster: running a throwaway cluster needs flock and set-uid
// process attributes, which only unix systems have here.
func ensureCluster(context.Context, *Options) (*database, error) {
	return nil, ErrNoPostgres
}
