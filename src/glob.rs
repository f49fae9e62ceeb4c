//! CSI driver name patterns.
//!
//! A pattern is an exact driver name or a glob in which `*` stands for one
//! or more characters other than `.`: `*.csi.example.com` matches
//! `nfs.csi.example.com` but neither `a.b.csi.example.com` nor
//! `csi.example.com`. Matching is anchored at both ends and case-sensitive,
//! like driver names, so `evil-ebs.csi.aws.com.attacker.io` never matches a
//! pattern ending in `.csi.aws.com`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverGlob {
    pattern: String,
}

impl fmt::Display for DriverGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl DriverGlob {
    /// Checks the pattern: DNS-like labels of letters, digits, `-` and `*`,
    /// no empty label, no `**`, at most 253 characters.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("empty driver pattern".into());
        }
        if pattern.len() > 253 {
            return Err("driver pattern longer than 253 characters".into());
        }
        // Byte scans: every request compiles the allowed drivers, and
        // `str::split`'s and `contains`'s searchers cost thousands of
        // instructions a pattern in the module. The first bad byte starts
        // the first bad character (a continuation byte follows its lead).
        let bytes = pattern.as_bytes();
        if let Some(at) = bytes
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*' | b'_')))
        {
            let c = pattern
                .get(at..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('?');
            return Err(format!(
                "character {c:?} is not allowed in a driver pattern"
            ));
        }
        if bytes.windows(2).any(|pair| pair == b"**") {
            return Err("'**' is not supported: '*' never crosses a '.'".into());
        }
        if bytes.first() == Some(&b'.')
            || bytes.last() == Some(&b'.')
            || bytes.windows(2).any(|pair| pair == b"..")
        {
            return Err("empty label (leading, trailing or doubled '.')".into());
        }
        Ok(Self {
            pattern: pattern.to_string(),
        })
    }

    pub fn is_literal(&self) -> bool {
        !self.pattern.as_bytes().contains(&b'*')
    }

    pub fn matches(&self, name: &str) -> bool {
        glob_match(self.pattern.as_bytes(), name.as_bytes())
    }
}

/// Stars never produce a `.`, so the labels of the pattern and of the name
/// pair up one to one and each pair is matched on its own.
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    // Without a star every label is literal: the labels pair up exactly
    // when the whole texts are equal (most patterns: namespaces, names).
    if !crate::words::has_byte(pattern, b'*') {
        return pattern == name;
    }
    let mut pattern_labels = pattern.split(|&b| b == b'.');
    let mut name_labels = name.split(|&b| b == b'.');
    loop {
        match (pattern_labels.next(), name_labels.next()) {
            (Some(p), Some(n)) if label_match(p, n) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Greedy wildcard matching with single backtracking point, linear in
/// practice and never recursive, so a hostile name cannot blow the stack.
/// `*` must consume at least one character, so it is read as "any one
/// character, then any run". Image repository globs match their
/// `/`-separated segments with it too (`daemonset::image_reference`).
pub(crate) fn label_match(pattern: &[u8], label: &[u8]) -> bool {
    // Most labels are literal: no token list to build.
    if !crate::words::has_byte(pattern, b'*') {
        return pattern == label;
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        AnyOne,
        AnyRun,
        Byte(u8),
    }
    let tokens: Vec<Token> = pattern
        .iter()
        .flat_map(|&b| match b {
            b'*' => [Some(Token::AnyOne), Some(Token::AnyRun)],
            other => [Some(Token::Byte(other)), None],
        })
        .flatten()
        .collect();
    let (mut t, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < label.len() {
        match tokens.get(t) {
            Some(Token::AnyRun) => {
                backtrack = Some((t + 1, n));
                t += 1;
            }
            Some(Token::AnyOne) => {
                t += 1;
                n += 1;
            }
            Some(Token::Byte(b)) if *b == label[n] => {
                t += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((after_run, consumed)) => {
                    backtrack = Some((after_run, consumed + 1));
                    t = after_run;
                    n = consumed + 1;
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|&tok| tok == Token::AnyRun)
}

/// True when any pattern matches the name.
pub fn any_matches(patterns: &[DriverGlob], name: &str) -> bool {
    patterns.iter().any(|g| g.matches(name))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    /// The byte scans of `parse` answer as the `str` definitions did.
    #[test]
    fn parse_answers_as_the_str_definitions() {
        fn reference(pattern: &str) -> Result<(), String> {
            if let Some(c) = pattern
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '*' | '_')))
            {
                return Err(format!(
                    "character {c:?} is not allowed in a driver pattern"
                ));
            }
            if pattern.contains("**") {
                return Err("'**' is not supported: '*' never crosses a '.'".into());
            }
            if pattern.split('.').any(str::is_empty) {
                return Err("empty label (leading, trailing or doubled '.')".into());
            }
            Ok(())
        }
        let alphabet = ["a", ".", "*", "-", "_", "é", " "];
        let mut patterns = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = patterns
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            for pattern in &longer {
                assert_eq!(
                    DriverGlob::parse(pattern).map(drop),
                    reference(pattern),
                    "{pattern:?}"
                );
            }
            patterns = longer;
        }
    }

    fn glob(p: &str) -> DriverGlob {
        DriverGlob::parse(p).expect("valid test pattern")
    }

    #[rstest]
    #[case::literal("ebs.csi.aws.com", "ebs.csi.aws.com", true)]
    #[case::literal_with_a_suffix("ebs.csi.aws.com", "ebs.csi.aws.com.attacker.io", false)]
    #[case::literal_other_case("ebs.csi.aws.com", "EBS.csi.aws.com", false)]
    #[case::star_label("*.csi.example.com", "nfs.csi.example.com", true)]
    #[case::star_needs_a_label("*.csi.example.com", "csi.example.com", false)]
    #[case::star_needs_a_character("*.csi.example.com", ".csi.example.com", false)]
    #[case::star_one_label_only("*.csi.example.com", "a.b.csi.example.com", false)]
    #[case::star_with_a_suffix("*.csi.example.com", "nfs.csi.example.com.attacker.io", false)]
    #[case::star_inside("csi-*.example.com", "csi-nfs.example.com", true)]
    #[case::star_inside_needs_a_character("csi-*.example.com", "csi-.example.com", false)]
    #[case::star_inside_one_label("csi-*.example.com", "csi-a.b.example.com", false)]
    #[case::star_prefix("*-ebs.csi.aws.com", "evil-ebs.csi.aws.com", true)]
    #[case::star_prefix_with_a_suffix(
        "*-ebs.csi.aws.com",
        "evil-ebs.csi.aws.com.attacker.io",
        false
    )]
    #[case::backtracks("*a.example.com", "banana.example.com", true)]
    #[case::backtracks_twice("a*a*a.x", "aaaaa.x", true)]
    #[case::backtracks_too_short("a*a*a.x", "aa.x", false)]
    #[case::lone_star("*", "x", true)]
    #[case::lone_star_one_label("*", "x.y", false)]
    fn matches_labels_exactly(#[case] pattern: &str, #[case] name: &str, #[case] hit: bool) {
        assert_eq!(glob(pattern).matches(name), hit);
    }

    #[rstest]
    #[case::empty("")]
    #[case::trailing_dot("*.")]
    #[case::leading_dot(".csi")]
    #[case::empty_label("a..b")]
    #[case::double_star("**.x")]
    #[case::space("a b")]
    #[case::slash("a/b")]
    #[case::non_ascii("é.x")]
    fn refuses_malformed_patterns(#[case] bad: &str) {
        assert!(DriverGlob::parse(bad).is_err(), "{bad:?} should be refused");
    }
}
