// Package cache is supervisor_cache's XML-RPC interface (namespace "cache",
// API 0.1): a string key/value store kept in the daemon's memory, so that
// scripts can leave values for each other across connections. It is lost
// when gafferd exits or restarts, as supervisord's is.
//
// It is served when a supervisord.conf has
//
//	[rpcinterface:cache]
//	supervisor.rpcinterface_factory = supervisor_cache.rpcinterface:make_cache_rpcinterface
//
// Faults follow supervisor_cache's rpcinterface.py: a key that is not a
// string, or is empty, and data that is not a string are BAD_ARGUMENTS;
// fetching a key not stored is BAD_NAME; every call but getAPIVersion
// answers SHUTDOWN_STATE while the daemon is shutting down. Every method
// needs an admin caller when API keys are required (supervisorrpc.Need).
package cache

import (
	"context"
	"slices"
	"sync"

	"github.com/gafferhq/gaffer/internal/api/xmlrpc"
)

// APIVersion is supervisor_cache's API version.
const APIVersion = "0.1"

// Cache is the store behind one daemon's cache.* methods. The zero value
// is empty and ready; it is safe for concurrent use.
type Cache struct {
	// Running, when set, reports whether the daemon accepts calls; false
	// answers SHUTDOWN_STATE.
	Running func() bool

	mu sync.Mutex
	m  map[string]string
}

// Register adds the cache.* methods to srv.
func (c *Cache) Register(srv *xmlrpc.Server) {
	for name, m := range c.methods() {
		srv.Register("cache."+name, m)
	}
}

func (c *Cache) running() error {
	if c.Running != nil && !c.Running() {
		return xmlrpc.NewFault(xmlrpc.ShutdownState)
	}
	return nil
}

// key checks a key argument as supervisor_cache's _validateKey does.
func key(v any) (string, error) {
	if b, ok := v.([]byte); ok { // base64: decoded to str by supervisor
		v = string(b)
	}
	k, ok := v.(string)
	if !ok {
		return "", xmlrpc.Faultf(xmlrpc.BadArguments, "Key must be a string")
	}
	if k == "" {
		return "", xmlrpc.Faultf(xmlrpc.BadArguments, "Key must not be empty")
	}
	return k, nil
}

// preamble checks the count of arguments (INCORRECT_PARAMETERS, as Python's
// TypeError), the daemon's state, and the key when the method takes one.
func (c *Cache) preamble(args []any, n int) (string, error) {
	if len(args) != n {
		return "", xmlrpc.NewFault(xmlrpc.IncorrectParameters)
	}
	if err := c.running(); err != nil {
		return "", err
	}
	if n == 0 {
		return "", nil
	}
	return key(args[0])
}

// locked is a method of n arguments: after preamble, fn runs with the
// store locked, given the arguments and the key (when n > 0).
func (c *Cache) locked(n int, fn func(args []any, k string) (any, error)) func(context.Context, []any) (any, error) {
	return func(_ context.Context, args []any) (any, error) {
		k, err := c.preamble(args, n)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return fn(args, k)
	}
}

func (c *Cache) methods() map[string]xmlrpc.Method {
	return map[string]xmlrpc.Method{
		"getAPIVersion": {Help: "Return the version of the RPC API used by supervisor_cache\n\n@return string version\n",
			Call: func(_ context.Context, args []any) (any, error) {
				if err := xmlrpc.Args(args); err != nil {
					return nil, err
				}
				return APIVersion, nil
			}},
		"getKeys": {Help: "Return keys for all data stored in the cache\n\n@return array result  An array of strings representing cache keys\n",
			Call: c.locked(0, func([]any, string) (any, error) {
				keys := make([]string, 0, len(c.m))
				for k := range c.m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				return keys, nil
			})},
		"getCount": {Help: "Return a count of all items in the cache\n\n@return integer count   Count of items\n",
			Call: c.locked(0, func([]any, string) (any, error) {
				return len(c.m), nil
			})},
		"store": {Help: "Store a string value in the cache, referenced by 'key'\n\n@param string key   A string to lookup the value\n@param string data  A string value\n@return boolean     Always true unless error\n",
			Call: c.locked(2, func(args []any, k string) (any, error) {
				data := args[1]
				if b, ok := data.([]byte); ok {
					data = string(b)
				}
				s, ok := data.(string)
				if !ok {
					return nil, xmlrpc.Faultf(xmlrpc.BadArguments, "Data must be a string")
				}
				if c.m == nil {
					c.m = map[string]string{}
				}
				c.m[k] = s
				return true, nil
			})},
		"fetch": {Help: "Retrieve data from cache stored under 'key'\n\n@param string key  The cache key\n@return string    Cache data stored at key\n",
			Call: c.locked(1, func(_ []any, k string) (any, error) {
				v, ok := c.m[k]
				if !ok {
					return nil, xmlrpc.Faultf(xmlrpc.BadName, "%s", k)
				}
				return v, nil
			})},
		"delete": {Help: "Delete data stored in cache under 'key'\n\n@param string key  The key to delete from the cache\n@return boolean   Always true unless error.\n",
			Call: c.locked(1, func(_ []any, k string) (any, error) {
				delete(c.m, k)
				return true, nil
			})},
		"clear": {Help: "Clear the cache\n\n@return boolean  Always true unless error.\n",
			Call: c.locked(0, func([]any, string) (any, error) {
				clear(c.m)
				return true, nil
			})},
	}
}
