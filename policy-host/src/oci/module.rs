//! The annotated policy module: its `io.kubewarden.metadata` custom section
//! and the manifest annotations `kwctl push` derives from it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::oci::error::{Error, ErrorKind, Result};

/// Name of the custom section written by `kwctl annotate`.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
/// Annotation whose value is copied to `org.opencontainers.image.source`.
pub const ANNOTATION_POLICY_SOURCE: &str = "io.kubewarden.policy.source";
/// The OCI annotation naming the source repository.
pub const ANNOTATION_OCI_SOURCE: &str = "org.opencontainers.image.source";

const WASM_MAGIC: &[u8] = b"\0asm";

/// The metadata JSON of a module's first `io.kubewarden.metadata` section;
/// `Ok(None)` when there is none.
pub fn read_metadata(module: &[u8]) -> Result<Option<Value>> {
    if !module.starts_with(WASM_MAGIC) {
        return Err(Error::invalid(
            "the file is not a WebAssembly module (no `\\0asm` header)",
        ));
    }
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let payload = payload
            .map_err(|e| Error::invalid(format!("the file is not a valid wasm module: {e}")))?;
        if let wasmparser::Payload::CustomSection(reader) = payload
            && reader.name() == METADATA_SECTION
        {
            let value: Value = serde_json::from_slice(reader.data()).map_err(|e| {
                Error::invalid(format!(
                    "the `{METADATA_SECTION}` custom section is not JSON: {e}"
                ))
            })?;
            return Ok(Some(value));
        }
    }
    Ok(None)
}

/// The metadata's `annotations`, all string values.
pub fn metadata_annotations(metadata: &Value) -> Result<BTreeMap<String, String>> {
    match metadata.get("annotations") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(Error::invalid(format!(
                    "metadata annotation `{k}` is not a string: {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(Error::invalid(format!(
            "metadata `annotations` is not a map: {other}"
        ))),
    }
}

/// What `kwctl push` puts in the manifest: the metadata annotations except
/// multi-line ones (the README in `io.kubewarden.policy.usage`), plus
/// `org.opencontainers.image.source` copied from `io.kubewarden.policy.source`.
pub fn manifest_annotations(metadata: &Value) -> Result<BTreeMap<String, String>> {
    let mut annotations: BTreeMap<String, String> = metadata_annotations(metadata)?
        .into_iter()
        .filter(|(_, v)| !v.contains('\n'))
        .collect();
    if let Some(source) = annotations.get(ANNOTATION_POLICY_SOURCE).cloned() {
        annotations.insert(ANNOTATION_OCI_SOURCE.to_string(), source);
    }
    Ok(annotations)
}

/// The manifest annotations of an annotated module; an unannotated module is
/// refused (policy-server would not load it), unless `force`.
pub fn annotations_for_push(module: &[u8], force: bool) -> Result<BTreeMap<String, String>> {
    match read_metadata(module)? {
        Some(metadata) => manifest_annotations(&metadata),
        None if force => Ok(BTreeMap::new()),
        None => Err(Error::new(
            ErrorKind::NotAnnotated,
            format!(
                "the module has no `{METADATA_SECTION}` custom section: annotate it first \
                 (`make annotated-policy.wasm`); policy-server refuses an unannotated policy"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multi_line_annotations_are_dropped_and_source_copied() {
        let metadata = json!({"annotations": {
            "io.kubewarden.policy.usage": "# Title\n\nbody",
            "io.kubewarden.policy.source": "https://example.com/src",
            "io.kubewarden.policy.title": "t"
        }});
        let a = manifest_annotations(&metadata).unwrap();
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            vec![
                "io.kubewarden.policy.source",
                "io.kubewarden.policy.title",
                "org.opencontainers.image.source"
            ]
        );
        assert_eq!(
            a["org.opencontainers.image.source"],
            "https://example.com/src"
        );
    }

    #[test]
    fn not_wasm_is_refused() {
        assert!(read_metadata(b"hello").is_err());
        // a minimal empty module has no metadata
        assert_eq!(read_metadata(b"\0asm\x01\0\0\0").unwrap(), None);
        let e = annotations_for_push(b"\0asm\x01\0\0\0", false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAnnotated);
        assert!(
            annotations_for_push(b"\0asm\x01\0\0\0", true)
                .unwrap()
                .is_empty()
        );
    }
}
