package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gafferhq/gaffer/internal/api/cache"
	"github.com/gafferhq/gaffer/internal/api/twiddler"
	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/supervisor"
)

// registerInterfaces serves the extra XML-RPC namespaces a supervisord.conf
// asks for with [rpcinterface:x] sections: supervisor_twiddler's and
// supervisor_cache's (config.Load refuses any other factory). They are
// read at start only, as supervisord reads them.
func (d *daemon) registerInterfaces(rpc *xmlrpc.Server, cfg *config.Config) {
	if cfg.Supervisord == nil {
		return
	}
	running := func() bool { return d.state.Load() == 1 }
	done := map[string]bool{}
	for _, factory := range cfg.Supervisord.RPCInterfaces {
		if done[factory] {
			continue // two sections naming one factory: one namespace
		}
		done[factory] = true
		switch factory {
		case config.TwiddlerRPCInterfaceFactory:
			dir := "."
			if len(cfg.Files) > 0 {
				dir = filepath.Dir(cfg.Files[0])
			}
			twiddler.Register(rpc, &twiddler.Daemon{
				Running: running, Logger: d.logger, Dir: dir,
				Groups: d.groupNames, AddGroup: d.addEmptyGroup, AddJobs: d.addJobs,
				RemoveProcess: d.removeProcess, GroupPriority: d.groupPriority,
			})
		case config.CacheRPCInterfaceFactory:
			(&cache.Cache{Running: running}).Register(rpc)
		}
	}
}

// groupNames lists the loaded groups, those created empty included.
func (d *daemon) groupNames() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, 0, len(d.loaded))
	for g := range d.loaded {
		names = append(names, g)
	}
	slices.Sort(names)
	return names
}

// addEmptyGroup is twiddler.addGroup: a group with no program yet.
func (d *daemon) addEmptyGroup(_ context.Context, name string, priority int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loaded[name] {
		return fmt.Errorf("group %q: %w", name, twiddler.ErrExists)
	}
	d.loaded[name] = true
	cfg := *d.cfg
	if cfg.Supervisord != nil {
		sd := *cfg.Supervisord
		sd.Groups = append(slices.Clone(sd.Groups), config.Group{Name: name, Priority: priority})
		cfg.Supervisord = &sd
	}
	d.cfg = &cfg
	return nil
}

// addJobs is twiddler.addProgramToGroup: load a program's processes into
// an existing group, starting them if autostart says so.
func (d *daemon) addJobs(ctx context.Context, group string, jobs []config.Job) error {
	d.mu.Lock()
	loaded := d.loaded[group]
	cfg := d.cfg
	d.mu.Unlock()
	if !loaded {
		return fmt.Errorf("group %q: %w", group, twiddler.ErrNoGroup)
	}
	have, err := d.sup.Jobs(ctx, group)
	if err != nil && !errors.Is(err, supervisor.ErrNotFound) {
		return err
	}
	for _, j := range jobs {
		if slices.Contains(have, j.FullName()) {
			return fmt.Errorf("process %q: %w", j.Config.Name, twiddler.ErrExists)
		}
	}
	if err := d.sup.LoadAll(ctx, groupSpecs(cfg, jobs)); err != nil {
		return err
	}
	d.mu.Lock()
	next := *d.cfg
	next.Jobs = append(slices.Clone(next.Jobs), jobs...)
	d.cfg = &next
	d.mu.Unlock()
	return nil
}

// removeProcess is twiddler.removeProcessFromGroup: unload one stopped
// process.
func (d *daemon) removeProcess(ctx context.Context, group, process string) error {
	d.mu.Lock()
	loaded := d.loaded[group]
	d.mu.Unlock()
	if !loaded {
		return fmt.Errorf("group %q: %w", group, twiddler.ErrNoGroup)
	}
	progs, err := d.sup.Programs(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(progs, func(p supervisor.ProgramInfo) bool { return p.Group == group && p.Name == process })
	if i < 0 {
		return fmt.Errorf("process %q: %w", process, twiddler.ErrNoProcess)
	}
	if p := progs[i]; p.State.Running() || p.State == supervisor.StateStopping {
		return fmt.Errorf("process %q: %w", process, twiddler.ErrStillRunning)
	}
	if err := d.sup.Unload(ctx, group+"."+process); err != nil {
		return err
	}
	d.mu.Lock()
	next := *d.cfg
	next.Jobs = slices.DeleteFunc(slices.Clone(next.Jobs), func(j config.Job) bool { return j.Session == group && j.Config.Name == process })
	d.cfg = &next
	d.mu.Unlock()
	return nil
}
