package store

import (
	"errors"
	"net/url"
	"strings"
)

// DatabaseURL returns the connection string base pointed at the database name: the path of a
// postgres:// URL is replaced, and a keyword/value string gets a dbname (the last one wins).
func DatabaseURL(base, name string) (string, error) {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " dbname=" + name, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		// url's message quotes the URL, password included.
		return "", errors.New("the database URL is not a valid URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}
