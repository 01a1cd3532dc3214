//! `?consistency=` on every read.

use serde::{Deserialize, Serialize};

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Consistency {
    /// Through the leader's read index: sees every acknowledged write.
    #[default]
    Linearizable,
    /// The serving node's replica as it is: may lag behind the leader.
    Stale,
}

impl Consistency {
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Linearizable => "linearizable",
            Consistency::Stale => "stale",
        }
    }
}

impl std::str::FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "linearizable" => Ok(Consistency::Linearizable),
            "stale" => Ok(Consistency::Stale),
            other => Err(format!(
                "consistency={other:?}: expected linearizable or stale"
            )),
        }
    }
}

impl TryFrom<String> for Consistency {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl std::fmt::Display for Consistency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
