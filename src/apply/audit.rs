//! The audit log: one JSON line per apply or rollback in `/var/log/edgeprep.log`.
