//! What is on the device now, read once under the root: the files the plan may change.

/// The device as edgeprep found it.
#[derive(Debug, Clone, Default)]
pub struct DeviceState {}
