package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gafferhq/gaffer/internal/auth"
	"github.com/gafferhq/gaffer/internal/config"
	"github.com/gafferhq/gaffer/supervisor"
)

// PluginSession is the session gafferd runs plugins in.
const PluginSession = "plugins"

// plugin is one folder DIR/<name>/ of the plugins directory.
type plugin struct {
	name string
	exe  string // DIR/<name>/<name> or DIR/<name>/bin/<name>; "" = site only
	site string // DIR/<name>/_site when it is a directory
	key  string // its API key, while it runs with keys required
}

// plugins are the plugins gafferd found at start.
type plugins struct {
	dir  string
	mu   sync.Mutex
	list []*plugin
}

// pluginsDir is the plugins directory in effect: -p, else the file's
// [gaffer] plugins_dir (relative to the config's directory), else
// $GAFFER_PLUGIN_DIR, else <config dir>/plugins when it exists; "" = none.
func pluginsDir(o *options, cfg *config.Config) string {
	dir := configDir(o, cfg)
	switch {
	case o.pluginsDir != "":
		return o.pluginsDir
	case cfg.Global.PluginsDir != "":
		if filepath.IsAbs(cfg.Global.PluginsDir) {
			return cfg.Global.PluginsDir
		}
		return filepath.Join(dir, cfg.Global.PluginsDir)
	case os.Getenv("GAFFER_PLUGIN_DIR") != "":
		return os.Getenv("GAFFER_PLUGIN_DIR")
	}
	def := filepath.Join(dir, "plugins")
	if fi, err := os.Stat(def); err == nil && fi.IsDir() {
		return def
	}
	return ""
}

// findPlugins lists the plugins of dir: each subfolder with an executable
// named as the folder (at its top or in bin/), or a _site folder.
func findPlugins(dir string) (*plugins, error) {
	ps := &plugins{dir: dir}
	if dir == "" {
		return ps, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := &plugin{name: e.Name()}
		for _, exe := range []string{filepath.Join(dir, p.name, p.name), filepath.Join(dir, p.name, "bin", p.name)} {
			if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				p.exe = exe
				break
			}
		}
		if fi, err := os.Stat(filepath.Join(dir, p.name, "_site")); err == nil && fi.IsDir() {
			p.site = filepath.Join(dir, p.name, "_site")
		}
		if p.exe != "" || p.site != "" {
			ps.list = append(ps.list, p)
		}
	}
	return ps, nil
}

// start loads every plugin's executable as job plugins.<name> (one process,
// restarted when it exits), with GAFFER_SOCKET, gafferd's unix socket, and
// GAFFER_API_KEY, a key with manage on "*" created for it when keys are
// required.
func (ps *plugins) start(ctx context.Context, d *daemon, sec *security, socket string) {
	for _, p := range ps.list {
		if p.exe == "" {
			continue
		}
		env := map[string]string{"GAFFER_SOCKET": socket, "GAFFER_PLUGIN": p.name}
		if sec.az.RequireKey && sec.az.Keys != nil {
			k, err := sec.az.Keys.Create("plugin "+p.name, auth.Permissions{Manage: []string{"*"}}, "")
			if err != nil {
				d.logger.Error("plugin: creating its API key", "plugin", p.name, "err", err)
				continue
			}
			ps.mu.Lock()
			p.key = k.Key
			ps.mu.Unlock()
			env["GAFFER_API_KEY"] = k.Key
		}
		cfg := supervisor.JobConfig{Name: p.name, Cmd: shellQuote(p.exe), NumProcesses: 1, Env: env, OSEnv: true,
			Cwd: filepath.Dir(p.exe), Priority: supervisor.LowestPriority}
		if err := d.sup.Load(ctx, PluginSession, cfg, true); err != nil {
			d.logger.Error("plugin not started", "plugin", p.name, "err", err)
			ps.revoke(sec, p)
			continue
		}
		d.logger.Info("plugin started", "plugin", p.name, "exe", p.exe)
	}
}

// stop revokes the plugins' keys; their processes stop with the engine.
func (ps *plugins) stop(sec *security) {
	for _, p := range ps.list {
		ps.revoke(sec, p)
	}
}

func (ps *plugins) revoke(sec *security, p *plugin) {
	ps.mu.Lock()
	key := p.key
	p.key = ""
	ps.mu.Unlock()
	if key != "" && sec.az.Keys != nil {
		sec.az.Keys.Delete(key)
	}
}

// site serves GET /_plugin/<name>/… from the plugin's _site folder,
// read-only; nothing outside that folder can be named (os.DirFS refuses
// "..", and the path is cleaned first).
func (ps *plugins) site() http.Handler {
	servers := map[string]http.Handler{}
	for _, p := range ps.list {
		if p.site != "" {
			servers[p.name] = http.StripPrefix("/_plugin/"+p.name, http.FileServerFS(os.DirFS(p.site)))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		h, ok := servers[name]
		if !ok {
			http.Error(w, "no such plugin", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// unixSocket is the path of gafferd's first unix listener, "" without one.
func unixSocket(ls []listener) string {
	for _, l := range ls {
		if a, ok := l.Addr().(*net.UnixAddr); ok && a.Name != "" {
			return a.Name
		}
	}
	return ""
}

// shellQuote quotes a path for JobConfig.Cmd, which is split shell-style.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
