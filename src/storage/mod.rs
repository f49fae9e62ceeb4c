//! StorageClasses and CSIDrivers (storage.k8s.io/v1).

pub mod class_fields;
pub mod csi_driver;
pub mod default_class;
pub mod parameters;
pub mod secrets;
pub mod storage_class;
pub mod token_requests;
