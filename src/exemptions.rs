//! Requests the policy lets through untouched, by namespace, object name or
//! requester.

use crate::settings::Exemptions;
use crate::settings_errors::SettingErrors;

/// Who asks, and for what.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// DaemonSets are namespaced; StorageClasses and CSIDrivers are not.
    pub namespaced: bool,
    pub username: &'a str,
    pub groups: &'a [String],
}

/// Validates the exemption lists (they are used as they are).
pub fn validate_settings(exemptions: &Exemptions, errors: &mut SettingErrors) {
    let lists = [
        ("namespaces", &exemptions.namespaces),
        ("names", &exemptions.names),
        ("users", &exemptions.users),
        ("groups", &exemptions.groups),
        ("serviceAccounts", &exemptions.service_accounts),
    ];
    for (list, entries) in lists {
        for (i, entry) in entries.iter().enumerate() {
            if crate::words::trim(entry).is_empty() {
                errors.add(format!("exemptions.{list}[{i}]"), "empty entry");
            }
        }
    }
    for (i, sa) in exemptions.service_accounts.iter().enumerate() {
        if !matches!(sa.split_once('/'), Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/'))
        {
            errors.add(
                format!("exemptions.serviceAccounts[{i}]"),
                format!("{sa:?} must be namespace/name"),
            );
        }
    }
    for (i, name) in exemptions.names.iter().enumerate() {
        if name.matches('/').count() > 1 || name.starts_with('/') || name.ends_with('/') {
            errors.add(
                format!("exemptions.names[{i}]"),
                format!("{name:?} must be name or namespace/name"),
            );
        }
    }
}

/// The exemption that applies, described for the warning, if any.
pub fn matching(exemptions: &Exemptions, who: &Requester<'_>) -> Option<String> {
    let found = |list: &str, entries: &[String], hit: &dyn Fn(&str) -> bool| {
        entries
            .iter()
            .position(|e| hit(e))
            .map(|i| format!("exemptions.{list}[{i}] ({})", entries[i]))
    };
    // `namespace/name`, compared in place: formatting it cost every
    // request about 1.5 K instructions (and, in a fresh instance, the
    // formatter's first indirect calls).
    let is_qualified = |e: &str| {
        e.strip_prefix(who.namespace)
            .and_then(|rest| rest.strip_prefix('/'))
            == Some(who.name)
    };
    let namespaced = who.namespaced;
    found("namespaces", &exemptions.namespaces, &|e| {
        namespaced && e == who.namespace
    })
    .or_else(|| {
        found("names", &exemptions.names, &|e| {
            !who.name.is_empty()
                && if namespaced {
                    is_qualified(e)
                } else {
                    e == who.name
                }
        })
    })
    .or_else(|| found("users", &exemptions.users, &|e| e == who.username))
    .or_else(|| {
        found("groups", &exemptions.groups, &|e| {
            who.groups.iter().any(|g| g == e)
        })
    })
    .or_else(|| {
        found("serviceAccounts", &exemptions.service_accounts, &|e| {
            e.split_once('/').is_some_and(|(ns, name)| {
                who.username
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.split_once(':'))
                    == Some((ns, name))
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn exemptions() -> Exemptions {
        Exemptions {
            namespaces: vec!["kube-system".into()],
            names: vec!["logging/fluent-bit".into(), "legacy-gp2".into()],
            users: vec!["admin@example.com".into()],
            groups: vec!["platform-admins".into()],
            service_accounts: vec!["argocd/argocd-application-controller".into()],
        }
    }

    /// A namespaced requester (a DaemonSet) when `namespace` is not empty.
    fn who<'a>(namespace: &'a str, name: &'a str, username: &'a str) -> Requester<'a> {
        Requester {
            namespace,
            name,
            namespaced: !namespace.is_empty(),
            username,
            groups: &[],
        }
    }

    #[rstest]
    #[case::namespace(who("kube-system", "", ""), Some("exemptions.namespaces[0]"))]
    #[case::namespace_of_a_cluster_scoped_object(
        Requester { namespaced: false, ..who("kube-system", "", "") },
        None
    )]
    #[case::qualified_name(who("logging", "fluent-bit", ""), Some("exemptions.names[0]"))]
    #[case::name_in_another_namespace(who("default", "fluent-bit", ""), None)]
    #[case::cluster_scoped_name(who("", "legacy-gp2", ""), Some("exemptions.names[1]"))]
    #[case::user(who("", "", "admin@example.com"), Some("exemptions.users[0]"))]
    #[case::service_account(
        who("", "", "system:serviceaccount:argocd:argocd-application-controller"),
        Some("exemptions.serviceAccounts[0]")
    )]
    #[case::service_account_impostor(
        who("", "", "system:serviceaccount:argocd:argocd-application-controller:x"),
        None
    )]
    #[case::nobody(who("default", "x", "mallory@example.com"), None)]
    fn matches_name_the_exemption(#[case] who: Requester<'_>, #[case] expected: Option<&str>) {
        let hit = matching(&exemptions(), &who);
        match expected {
            Some(prefix) => assert!(
                hit.as_deref().is_some_and(|h| h.starts_with(prefix)),
                "{hit:?}"
            ),
            None => assert_eq!(hit, None),
        }
    }

    #[test]
    fn groups_match_any_of_the_requesters() {
        let groups = [
            "system:authenticated".to_string(),
            "platform-admins".to_string(),
        ];
        let who = Requester {
            groups: &groups,
            ..Default::default()
        };
        let hit = matching(&exemptions(), &who).unwrap_or_default();
        assert!(hit.starts_with("exemptions.groups[0]"), "{hit}");
    }

    #[test]
    fn refuses_malformed_entries() {
        let mut errors = SettingErrors::default();
        validate_settings(
            &Exemptions {
                service_accounts: vec!["no-slash".into()],
                names: vec!["a/b/c".into(), " ".into()],
                ..Default::default()
            },
            &mut errors,
        );
        assert_eq!(errors.into_vec().len(), 3);
    }
}
