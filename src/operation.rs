//! The admission operations the policy judges.

use std::fmt;

/// `CREATE` or `UPDATE`; every other operation (`DELETE`, `CONNECT`) is
/// let through without being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

impl Operation {
    /// The operation of `request.operation`, when the policy judges it.
    pub fn judged(operation: Option<&str>) -> Option<Self> {
        match operation {
            Some("CREATE") => Some(Self::Create),
            Some("UPDATE") => Some(Self::Update),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::Operation;

    #[rstest]
    #[case::create(Some("CREATE"), Some(Operation::Create))]
    #[case::update(Some("UPDATE"), Some(Operation::Update))]
    #[case::delete(Some("DELETE"), None)]
    #[case::connect(Some("CONNECT"), None)]
    #[case::lower_case(Some("create"), None)]
    #[case::absent(None, None)]
    fn only_create_and_update_are_judged(
        #[case] text: Option<&str>,
        #[case] expected: Option<Operation>,
    ) {
        assert_eq!(Operation::judged(text), expected);
        if let Some(operation) = expected {
            assert_eq!(Some(operation.to_string().as_str()), text);
        }
    }
}
