//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// devices are the only device nodes a run sees.
var devices = []string{"null", "zero", "full", "random", "urandom"}

// This file runs in the init: it builds the run's root.

// buildRoot makes the run's root and pivots into it: a small read-only
// tmpfs with the runtime's files bound read-only, a minimal /dev, the
// policy's /proc and scratch space (policy.go), and an /etc that holds a
// passwd, group and hosts written here. The old root is detached.
func buildRoot(c *initConfig) error {
	root := c.RootDir
	steps := []struct {
		what string
		err  func() error
	}{
		{"make mounts private", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		{"mount root", func() error {
			return unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
		}},
		{"bind runtime", func() error { return bindView(root, c.View) }},
		{"mount /dev and scratch", func() error { return mountDev(root, c) }},
		{"mount /proc", func() error { return mountProc(root, c) }},
		{"mount the slot's /proc", func() error { return mountSlotProc(root, c) }},
		{"write files", func() error { return writeFiles(root, c) }},
		{"pivot root", func() error { return pivot(root) }},
	}
	for _, s := range steps {
		if err := s.err(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func bindView(root string, v view) error {
	for _, l := range v.Links {
		if err := os.MkdirAll(filepath.Dir(root+l.Path), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(l.Target, root+l.Path); err != nil {
			return err
		}
	}
	for _, b := range v.Binds {
		src := b.Src
		if src == "" {
			src = b.Path
		}
		if err := bindRO(src, root+b.Path, b.Dir); err != nil {
			return err
		}
	}
	for _, m := range v.Masks { // over a file the binds above show
		if err := unix.Mount("/dev/null", root+m, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mask %s: %w", m, err)
		}
		if err := remount(root+m, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV); err != nil {
			return err
		}
	}
	return nil
}

// bindRO binds src at dst (creating the mount point) and makes it
// read-only, nosuid and nodev, keeping the flags the kernel locks.
func bindRO(src, dst string, dir bool) error {
	if err := mountPoint(dst, dir); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", src, err)
	}
	return remount(dst, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
}

func mountPoint(p string, dir bool) error {
	if dir {
		return os.MkdirAll(p, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// remount changes a bind mount's flags. A user namespace may not clear the
// flags its mounts came with (nosuid, noexec, atime...), so they are kept.
func remount(p string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return err
	}
	for _, f := range [][2]uintptr{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f[0] != 0 {
			flags |= f[1]
		}
	}
	if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", p, err)
	}
	return nil
}

// mountDev mounts a minimal /dev, and the scratch space (its /dev/shm
// among it) before it makes /dev read-only.
func mountDev(root string, c *initConfig) error {
	dev := root + "/dev"
	if err := os.Mkdir(dev, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"); err != nil {
		return err
	}
	for _, d := range devices {
		if err := mountPoint(dev+"/"+d, false); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, dev+"/"+d, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(target, dev+"/"+name); err != nil {
			return err
		}
	}
	for _, d := range scratchDirs {
		if err := os.MkdirAll(root+d.path, 0o755); err != nil {
			return err
		}
	}
	if _, err := carryOut(c.Scratch, noValues); err != nil {
		return err
	}
	return remount(dev, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC)
}

func mountProc(root string, c *initConfig) error {
	if err := os.Mkdir(root+"/proc", 0o555); err != nil {
		return err
	}
	_, err := carryOut(c.Proc, noValues)
	return err
}

// noValues is for steps that refer to nothing of the init's.
func noValues(a stepArg) (uintptr, error) { return 0, fmt.Errorf("no %s here", a.Ref) }

// maskedProc are the /proc entries a run sees empty: what container
// runtimes mask (the kernel's memory, keys, timers, interrupts, hardware
// tables), and what would tell the host apart or link runs: the kernel
// command line (it names the host's agents and addresses) and the boot id.
// The kernel's own identity (version, config, modules) is not hidden:
// uname tells it anyway. A warm run mounts each of them, so the list is
// kept to what this kernel has.
var maskedProc = []string{"acpi", "asound", "scsi", "cmdline", "interrupts", "kcore", "keys", "key-users",
	"latency_stats", "sched_debug", "timer_list", "timer_stats", "sysrq-trigger", "sys/kernel/random/boot_id"}

// procMask is one entry of maskedProc that this kernel has, and whether it
// is a directory (a read-only empty tmpfs covers it) or a file (/dev/null
// does).
type procMask struct {
	Path string `json:"path"`
	Dir  bool   `json:"dir"`
}

// procMasks lists the entries of maskedProc that this kernel's /proc has;
// the sandbox finds them once, and hands them to every init and zygote.
func procMasks() []procMask {
	var out []procMask
	for _, p := range maskedProc {
		if st, err := os.Stat("/proc/" + p); err == nil {
			out = append(out, procMask{p, st.IsDir()})
		}
	}
	return out
}

// mountSlotProc gives a warm slot a second, fully visible /proc where
// only the slot's root may look: the kernel lets a user namespace mount a
// new proc (each run's, over /proc) only where one is fully visible, and
// /proc is not (/proc/sys is bound over it).
func mountSlotProc(root string, c *initConfig) error {
	if c.ZygoteFD == 0 {
		return nil
	}
	// The mount hides its mount point's mode: the folder above is the
	// fence.
	if err := os.Mkdir(root+slotDir, 0o700); err != nil {
		return err
	}
	dir := root + slotDir + "/proc"
	if err := os.Mkdir(dir, 0o555); err != nil {
		return err
	}
	if len(c.Pid1) > 0 {
		if err := os.WriteFile(root+slotDir+"/pid1", c.Pid1, 0o500); err != nil {
			return err
		}
	}
	return unix.Mount("proc", dir, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// slotDir holds a warm slot's own /proc, for the slot's root only.
const slotDir = "/.slot"

func writeFiles(root string, c *initConfig) error {
	files := map[string]string{
		"/etc/passwd": fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\nsandbox:x:%d:%d:sandbox:%s:/nonexistent\n", c.UID, c.UID, workDir),
		"/etc/group":  fmt.Sprintf("root:x:0:\nsandbox:x:%d:\n", c.UID),
		"/etc/hosts":  "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost sandbox\n",
	}
	for p, s := range files {
		if err := os.MkdirAll(filepath.Dir(root+p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(root+p, []byte(s), 0o644); err != nil {
			return err
		}
	}
	main := root + workDir + "/" + mainFile
	if err := os.WriteFile(main, c.Code, 0o644); err != nil {
		return err
	}
	return os.Chown(main, c.UID, c.UID)
}

// pivot makes root the root and detaches the old one (pivot_root with the
// same directory twice stacks the old root on top, then unmounts it).
func pivot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return err
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	return remount("/", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
}
