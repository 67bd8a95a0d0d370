//! Atomic file writes: temp file in the same directory, mode and owner set, fsync, rename,
//! fsync of the directory. A reader sees the old file or the new one, never half of either.
