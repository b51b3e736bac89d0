package container

// Dial is the plugin's real dialFunc, for tests against real sockets.
func Dial(typ, address string) (Runtime, error) { return dial(typ, address) }
