//! StorageClasses, CSIDrivers and VolumeAttributesClasses (storage.k8s.io/v1),
//! PersistentVolumes (core/v1).

pub mod class_fields;
pub mod csi_driver;
pub mod default_class;
pub mod driver_spec;
pub mod parameters;
pub mod persistent_volume;
pub mod secrets;
pub mod storage_class;
pub mod token_requests;
pub mod volume_attributes_class;
