// Package web serves gafferd's dashboard: one page of plain HTML, CSS and
// JavaScript embedded in the binary (no framework, no build step, nothing
// fetched from elsewhere).
//
// # What this package owns
//
//   - The static files (static/) and how they are served: the page at "/"
//     for browsers and at "/ui/" for everyone, assets under "/ui/", with
//     their content types, ETags (a hash of the embedded bytes) and strict
//     headers: a Content-Security-Policy allowing only the page's own
//     scripts, styles and images and connections back to the same host
//     (fetch and its websocket), X-Content-Type-Options nosniff,
//     X-Frame-Options DENY and Referrer-Policy no-referrer.
//   - Content negotiation for "/": a request whose Accept header prefers
//     text/html over application/json gets the page; every other client
//     (curl's "*/*", no Accept at all, "application/json") keeps getting
//     the REST welcome, so scripts that GET / are unaffected. Match tells
//     gafferd which requests to route here.
//
// The page itself talks to gafferd like any client: REST for snapshots
// (GET /jobs?info=true, GET /<pid>), XML-RPC for supervisor programs'
// states and clearProcessLogs, and /channel/websocket for everything live
// (EVENTS, STATS:<pid>, STREAM:<pid>) and for actions (CMD). It keeps an
// API key in sessionStorage when gafferd requires keys.
//
// # Concurrency
//
// A Handler is immutable after New and safe for concurrent use.
package web
