//! Users and groups of the device, read from `<root>/etc/passwd` and `<root>/etc/group` so an
//! offline image gets its own ids (aziotcs, aziotks) and tests can declare them.
