package sqlite

import (
	"context"
	"database/sql"

	"golang.org/x/sys/unix"
)

// storedBytes is what the database holds: its pages in use (a deleted
// job's pages are free for the next, though the file does not shrink).
func storedBytes(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT (page_count - freelist_count) * page_size
		FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&n)
	return n, err
}

// quarterOfDisk is a quarter of the size of dir's file system (1 GiB where
// it cannot be told).
func quarterOfDisk(dir string) int64 {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 1 << 30
	}
	return int64(st.Blocks) * int64(st.Bsize) / 4
}
