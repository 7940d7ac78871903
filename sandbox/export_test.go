package sandbox

// LeftoverCgroups lists run cgroups that still exist (tests only).
func LeftoverCgroups(s *Sandbox) []string { return s.cgroups.Runs() }

// RootDir is where the runs' roots are built (tests only).
func RootDir(s *Sandbox) string { return s.rootPath() }

// UIDRange is the first and last host uid the sandbox uses (tests only).
func UIDRange(s *Sandbox) (int, int) { return s.cfg.UIDBase, s.cfg.UIDBase + s.cfg.MaxRuns }
