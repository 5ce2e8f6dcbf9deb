// Package provisioning owns the HTTP provisioning server for desk phones:
// request path parsing, User-Agent checks, optional basic auth, per-source
// rate limiting, the vendor-independent key layout of each phone (keys.go,
// pure), one renderer per vendor turning a layout into that vendor's files,
// and Affected, which tells the daemon which phones need a check-sync after
// a directory change. It imports only daemon/directory and daemon/store of
// deskgate's packages; it must not import routing, the daemon or discovery.
package provisioning
