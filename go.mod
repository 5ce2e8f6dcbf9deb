module deskgate

go 1.26.0

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/emiago/sipgo v1.7.2
	github.com/fsnotify/fsnotify v1.10.1
	github.com/hashicorp/mdns v1.0.7
	github.com/icholy/digest v1.2.0
	go.etcd.io/bbolt v1.5.0
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sync v0.24.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/pool v0.2.1 // indirect
	github.com/gobwas/ws v1.3.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/miekg/dns v1.1.72 // indirect
	golang.org/x/mod v0.31.0 // indirect
	golang.org/x/net v0.48.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/tools v0.40.0 // indirect
)
