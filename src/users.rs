//! Users and groups of the device, read from `<root>/etc/passwd` and `<root>/etc/group` so an
//! offline image gets its own ids (aziotcs, aziotks) and tests can declare them.

use std::collections::BTreeMap;

/// Name → id maps of the device's users and groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDb {
    users: BTreeMap<String, (u32, u32)>,
    groups: BTreeMap<String, u32>,
}

impl UserDb {
    /// Parse passwd and group texts; malformed lines are skipped, as libc does.
    pub fn parse(passwd: &str, group: &str) -> Self {
        let mut users = BTreeMap::new();
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [name, _, uid, gid, ..] = fields.as_slice()
                && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
            {
                users.insert((*name).to_string(), (uid, gid));
            }
        }
        let mut groups = BTreeMap::new();
        for line in group.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [name, _, gid, ..] = fields.as_slice()
                && let Ok(gid) = gid.parse()
            {
                groups.insert((*name).to_string(), gid);
            }
        }
        Self { users, groups }
    }

    /// (uid, primary gid) of `name`.
    pub fn user(&self, name: &str) -> Option<(u32, u32)> {
        self.users.get(name).copied()
    }

    /// gid of the group `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }

    /// uid of `name` and the gid of its same-named group (or its primary group).
    pub fn owner(&self, name: &str) -> Option<(u32, u32)> {
        let (uid, primary) = self.user(name)?;
        Some((uid, self.group(name).unwrap_or(primary)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_users_and_their_groups() {
        let db = UserDb::parse(
            "root:x:0:0:root:/root:/bin/bash\naziotcs:x:998:997::/home/aziotcs:/sbin/nologin\nbroken line\n",
            "root:x:0:\naziotcs:x:996:\n",
        );
        assert_eq!(db.user("root"), Some((0, 0)));
        assert_eq!(db.owner("aziotcs"), Some((998, 996)));
        assert_eq!(db.owner("aziotks"), None);
    }
}
