//! questions-ui.yml (the Rancher UI form) covers every setting the policy
//! accepts, and nothing else, with matching types and defaults.
//!
//! The accepted settings are not written down here: they are derived from
//! the policy itself by probing its settings parser
//! (`daemonset_csi_policy::policy::parse_settings`, the first step of
//! `validate_settings`) with an unknown field at every level. serde's
//! answers tell the shape: `unknown field ..., expected one of ...` (a
//! struct and its fields), `unknown variant ..., expected ...` (an enum and
//! its values), `invalid type: map, expected a sequence|a string|a boolean`
//! (a list, a string, a boolean), an error one key deeper (a free-form map).
//! A new setting added to src/settings.rs without its question fails here.

mod common;

use std::collections::BTreeMap;

use daemonset_csi_policy::policy::parse_settings;
use daemonset_csi_policy::settings::{Settings, default_forbidden_host_paths};
use serde_json::{Map, Value, json};

const PROBE: &str = "zz_probe";

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Struct(BTreeMap<String, Shape>),
    List(Box<Shape>),
    Map(Box<Shape>),
    Bool,
    Int,
    Str,
    Enum(Vec<String>),
    /// A section kept raw by the parser (a profile's `hostPaths`, ...):
    /// its content is checked by `validate_settings`, the form takes it as
    /// a free map.
    Raw,
}

#[derive(Debug, Clone)]
enum Seg {
    Field(String),
    Index,
    Key,
}

/// `value` placed at `path` inside an otherwise empty settings document.
fn wrap(path: &[Seg], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, seg| match seg {
        Seg::Field(name) => json!({ name.clone(): inner }),
        Seg::Index => json!([inner]),
        Seg::Key => json!({ "k": inner }),
    })
}

/// How parse_settings prints a path (`a.b[0].k`), as parse_settings
/// prefixes its messages with it.
fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(name) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Seg::Key => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('k');
            }
            Seg::Index => out.push_str("[0]"),
        }
    }
    out
}

/// The parse error for the document, split into (path, message); the root
/// path is `""`.
fn parse_error(document: &Value) -> Option<(String, String)> {
    let bytes = serde_json::to_vec(document).expect("json");
    let message = parse_settings(&bytes).err()?;
    Some(match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => (path.to_string(), rest.to_string()),
        _ => (String::new(), message),
    })
}

/// The backquoted names after `expected` in a serde message.
fn expected_names(message: &str) -> Vec<String> {
    let Some((_, tail)) = message.split_once("expected") else {
        return Vec::new();
    };
    tail.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn probe(path: &[Seg]) -> Shape {
    let document = wrap(path, json!({ PROBE: 1 }));
    let here = display(path);
    let Some((at, message)) = parse_error(&document) else {
        // Only the raw sections of a profile accept any map here.
        assert!(
            here.starts_with("daemonSets.profiles[0]."),
            "a map was accepted at `{here}`: cannot tell its shape"
        );
        return Shape::Raw;
    };
    let mut deeper: Vec<Seg> = path.to_vec();
    deeper.push(Seg::Key);
    let key_path = display(&deeper).replace(".k", &format!(".{PROBE}"));
    let key_path = if path.is_empty() {
        PROBE.to_string()
    } else {
        key_path
    };
    // parse_settings puts the unknown key itself in the path of an
    // `unknown field` error: `a.b.zz_probe: unknown field ...`.
    if message.starts_with("unknown field") {
        assert_eq!(
            at, key_path,
            "unexpected error location for a probe at `{here}`: {message}"
        );
        let fields = expected_names(&message)
            .into_iter()
            .map(|name| {
                let mut child = path.to_vec();
                child.push(Seg::Field(name.clone()));
                (name, probe(&child))
            })
            .collect();
        return Shape::Struct(fields);
    }
    // An enum read from a map takes the probe key as its variant: the error
    // names the enum's values (at the key or at the enum, either way).
    if message.starts_with("unknown variant") {
        return Shape::Enum(expected_names(&message));
    }
    // Any other error one key deeper: a free-form map, whose values are
    // probed in turn.
    if at == key_path {
        return Shape::Map(Box::new(probe(&deeper)));
    }
    assert_eq!(
        at, here,
        "unexpected error location for a probe at `{here}`: {message}"
    );
    if message.starts_with("unknown variant") {
        return Shape::Enum(expected_names(&message));
    }
    if message.contains("expected a sequence") {
        let mut item = path.to_vec();
        item.push(Seg::Index);
        return Shape::List(Box::new(probe(&item)));
    }
    if message.contains("expected a string") {
        return Shape::Str;
    }
    if message.contains("expected a boolean") {
        return Shape::Bool;
    }
    if message.contains("expected i64") {
        return Shape::Int;
    }
    panic!("cannot classify the setting at `{here}`: {message}");
}

/// Every setting of the policy: `path -> shape`, lists of structs expanded
/// as `path[].field`.
fn policy_settings() -> BTreeMap<String, Shape> {
    fn walk(prefix: &str, shape: &Shape, out: &mut BTreeMap<String, Shape>) {
        match shape {
            Shape::Struct(fields) => {
                for (name, child) in fields {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    match child {
                        Shape::Struct(_) => walk(&path, child, out),
                        Shape::List(item) if matches!(**item, Shape::Struct(_)) => {
                            out.insert(path.clone(), child.clone());
                            walk(&format!("{path}[]"), item, out);
                        }
                        _ => {
                            out.insert(path, child.clone());
                        }
                    }
                }
            }
            other => panic!("the settings root is not a struct: {other:?}"),
        }
    }
    let root = probe(&[]);
    let mut out = BTreeMap::new();
    walk("", &root, &mut out);
    out
}

fn questions() -> Vec<Value> {
    let text = std::fs::read_to_string(common::repo_root().join("questions-ui.yml"))
        .expect("questions-ui.yml");
    let doc: Value = serde_yaml::from_str(&text).expect("questions-ui.yml is YAML");
    doc["questions"]
        .as_array()
        .expect("a `questions` list")
        .clone()
}

/// Every question: `variable -> question`, sequence questions as
/// `variable[].sub`.
fn ui_settings() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for q in questions() {
        let var = q["variable"].as_str().expect("variable").to_string();
        for key in ["label", "type", "group", "description"] {
            assert!(q[key].is_string(), "question `{var}` has no `{key}`");
        }
        sequence_questions(&var, &q, &mut out);
        assert!(
            q.get("subquestions").is_none(),
            "`{var}`: this form uses flat questions; subquestions are not checked"
        );
        let previous = out.insert(var.clone(), q);
        assert!(previous.is_none(), "`{var}` asked twice");
    }
    out
}

/// The sequence questions of `q` as `var[].sub`, nested ones as
/// `var[].sub[].subsub`.
fn sequence_questions(var: &str, q: &Value, out: &mut BTreeMap<String, Value>) {
    let Some(subs) = q.get("sequence_questions") else {
        return;
    };
    for sub in subs.as_array().expect("sequence_questions list") {
        let name = sub["variable"].as_str().expect("variable");
        assert!(
            sub["label"].is_string() && sub["type"].is_string(),
            "{var}[].{name}"
        );
        let path = format!("{var}[].{name}");
        sequence_questions(&path, sub, out);
        let previous = out.insert(path.clone(), sub.clone());
        assert!(previous.is_none(), "`{path}` asked twice");
    }
}

fn ui_type_fits(shape: &Shape, question: &Value) -> bool {
    let ty = question["type"].as_str().unwrap_or_default();
    match shape {
        Shape::Bool => ty == "boolean",
        Shape::Int => ty == "int",
        Shape::Str => ty == "string" || ty == "enum",
        Shape::Enum(values) => {
            ty == "enum"
                && question["options"]
                    .as_array()
                    .map(|o| o.iter().filter_map(Value::as_str).collect::<Vec<_>>())
                    == Some(values.iter().map(String::as_str).collect())
        }
        Shape::List(item) => match **item {
            Shape::Struct(_) => ty == "sequence[",
            _ => ty == "array[",
        },
        Shape::Map(_) | Shape::Raw => ty == "map[",
        Shape::Struct(_) => false,
    }
}

#[test]
fn probing_finds_the_documented_shape() {
    // A guard on the probe itself: a few settings whose shape is known.
    let settings = policy_settings();
    assert_eq!(
        settings["daemonSets.mode"],
        Shape::Enum(vec!["enforce".into(), "warn".into()])
    );
    assert_eq!(settings["daemonSets.hostPaths.mutate"], Shape::Bool);
    assert_eq!(
        settings["daemonSets.hostPaths.forbidden"],
        Shape::List(Box::new(Shape::Str))
    );
    assert_eq!(
        settings["storageClasses.parameters[].required"],
        Shape::Map(Box::new(Shape::List(Box::new(Shape::Str))))
    );
    assert_eq!(
        settings["storageClasses.allowVolumeExpansion.allowed"],
        Shape::List(Box::new(Shape::Bool))
    );
    assert!(settings.contains_key("exemptions.serviceAccounts"));
    assert!(settings.len() > 40, "{}", settings.len());
}

#[test]
fn every_setting_has_a_question_and_every_question_a_setting() {
    let policy = policy_settings();
    let ui = ui_settings();
    let missing: Vec<&String> = policy.keys().filter(|k| !ui.contains_key(*k)).collect();
    let extra: Vec<&String> = ui.keys().filter(|k| !policy.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "questions-ui.yml is out of step with the policy's settings.\n\
         settings without a question: {missing:?}\n\
         questions that are not settings: {extra:?}"
    );
    for (path, shape) in &policy {
        let question = &ui[path];
        assert!(
            ui_type_fits(shape, question),
            "`{path}`: the policy takes {shape:?}, the question has type `{}`{}",
            question["type"],
            question
                .get("options")
                .map(|o| format!(" with options {o}"))
                .unwrap_or_default()
        );
    }
}

/// Set `value` at a dotted path of a JSON object.
fn set_path(root: &mut Value, dotted: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let map = node.as_object_mut().expect("object");
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        node = map
            .entry((*part).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The settings with the forbidden host path lists they leave out (`None`)
/// spelled as the default list they stand for: a form always sends a list.
fn with_default_lists(mut settings: Settings) -> Settings {
    for list in [
        &mut settings.daemon_sets.host_paths.forbidden,
        &mut settings.persistent_volumes.host_paths.forbidden,
    ] {
        if list.is_none() {
            *list = Some(default_forbidden_host_paths());
        }
    }
    settings
}

/// Filling the form with its defaults yields exactly the policy's defaults.
#[test]
fn the_form_defaults_are_the_policy_defaults() {
    let mut settings = json!({});
    for q in questions() {
        let default = q.get("default").cloned().unwrap_or(Value::Null);
        if !default.is_null() {
            set_path(
                &mut settings,
                q["variable"].as_str().expect("variable"),
                default,
            );
        }
    }
    let parsed = parse_settings(&serde_json::to_vec(&settings).expect("json"))
        .unwrap_or_else(|e| panic!("the form's defaults are refused: {e}\n{settings:#}"));
    assert_eq!(
        with_default_lists(parsed),
        with_default_lists(Settings::default()),
        "the form's defaults differ from the policy's: {settings:#}"
    );
    let verdict = daemonset_csi_policy::evaluate::validate_settings(
        &serde_json::to_vec(&settings).expect("json"),
    );
    assert!(verdict.valid, "{:?}", verdict.message);
}

/// Every option an enum question offers is a value the policy accepts.
#[test]
fn every_enum_option_is_accepted() {
    // A minimal valid item for each list of objects, to hold the option.
    let item_base: BTreeMap<&str, Value> = BTreeMap::from([
        (
            "daemonSets.hostPaths.allowed",
            json!({"pathPrefix": "/var/log"}),
        ),
        (
            "daemonSets.tolerations.forbidden",
            json!({"key": "example.com/k"}),
        ),
        (
            "daemonSets.tolerations.allowed",
            json!({"key": "example.com/k"}),
        ),
        (
            "daemonSets.tolerations.required",
            json!({"key": "example.com/k"}),
        ),
        (
            "storageClasses.parameters",
            json!({"provisioner": "ebs.csi.aws.com"}),
        ),
        ("csiDrivers.inline", json!({"driver": "nfs.csi.k8s.io"})),
        (
            "daemonSets.profiles",
            json!({"name": "agent", "match": {"namespaces": ["agents"]}}),
        ),
    ]);
    let mut checked = 0;
    for q in questions() {
        let var = q["variable"].as_str().expect("variable");
        let mut cases: Vec<(Value, String)> = Vec::new();
        if q["type"] == "enum" {
            for option in q["options"].as_array().expect("options") {
                let mut settings = json!({});
                let mut value = option.clone();
                // A `set` value must also be allowed: leave `allowed` unset.
                if var.ends_with(".set") {
                    value = option.clone();
                }
                set_path(&mut settings, var, value);
                cases.push((settings, format!("{var} = {option}")));
            }
        }
        for sub in q
            .get("sequence_questions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if sub["type"] != "enum" {
                continue;
            }
            let name = sub["variable"].as_str().expect("variable");
            for option in sub["options"].as_array().expect("options") {
                let mut item = item_base
                    .get(var)
                    .cloned()
                    .unwrap_or_else(|| panic!("no base item for `{var}`"));
                item[name] = option.clone();
                // `Exists` takes no value; `Equal` needs one for required ones.
                if name == "operator" && option == "Equal" && var.ends_with("required") {
                    item["value"] = json!("v");
                }
                // `Lt` and `Gt` compare integers: a required one needs a value.
                if name == "operator"
                    && (option == "Lt" || option == "Gt")
                    && var.ends_with("required")
                {
                    item["value"] = json!("5");
                }
                let mut settings = json!({});
                set_path(&mut settings, var, json!([item]));
                cases.push((settings, format!("{var}[].{name} = {option}")));
            }
        }
        for (settings, what) in cases {
            let verdict = daemonset_csi_policy::evaluate::validate_settings(
                &serde_json::to_vec(&settings).expect("json"),
            );
            assert!(verdict.valid, "{what} is refused: {:?}", verdict.message);
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} enum options checked");
}
