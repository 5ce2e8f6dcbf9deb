package main

import (
	"fmt"
	"net/http"

	"deskgate/daemon/controlapi"
)

func runCredentials(e *env) error {
	if err := wantArgs(e, 1); err != nil {
		return err
	}
	path := controlapi.UserPath(controlapi.PathCredentials, e.args[0])
	method := http.MethodGet
	if e.flags["rotate"] != "" {
		path += "?rotate=1"
		method = http.MethodPost
	}
	var c controlapi.Credentials
	if err := e.cli.Do(e.ctx, method, path, nil, &c); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, c)
	}
	fmt.Fprintf(e.stdout, "user: %s\nusername: %s\npassword: %s\nrealm: %s\n", c.User, c.Username, c.Password, c.Realm)
	return nil
}
