//! Backup sets under `/var/lib/edgeprep/backups/<id>/`: the originals of every file an apply
//! touches, with their modes and owners, and a manifest to restore them from.
