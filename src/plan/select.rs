//! Selection: which planned cases a run executes. Filters by case id (substring or
//! glob), tag, api and model, overrides the model, and shards the suite stably across
//! CI machines. Pure.

use globset::{Glob, GlobMatcher};

use super::Case;
use crate::scenario::Api;

/// What the command line asks for.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Selection {
    /// Substrings, globs (`*`, `?`, `[...]`) or exact ids (`=id`) matched against case
    /// ids; any may match.
    pub(crate) filters: Vec<String>,
    /// Any of these tags.
    pub(crate) tags: Vec<String>,
    /// Any of these APIs.
    pub(crate) apis: Vec<Api>,
    /// Any of these models.
    pub(crate) models: Vec<String>,
    /// Run every selected case against this model instead.
    pub(crate) set_model: Option<String>,
    /// `(k, n)`: the k-th of n shards, 1-based.
    pub(crate) shard: Option<(u32, u32)>,
    /// `--repeat N`: every selected case runs this many samples (the command-line form
    /// of `samples: N`).
    #[serde(default)]
    pub(crate) repeat: Option<u32>,
}

/// A `--shard` value that is not `K/N` with 1 <= K <= N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ShardError {
    #[error("`{0}` is not a shard; write K/N with whole numbers, e.g. 2/4")]
    Syntax(String),
    #[error("shard `{0}`: K must be between 1 and N")]
    Range(String),
}

/// Parses `K/N` with 1 <= K <= N.
pub(crate) fn parse_shard(text: &str) -> Result<(u32, u32), ShardError> {
    let syntax = || ShardError::Syntax(text.to_owned());
    let (k, n) = text.split_once('/').ok_or_else(syntax)?;
    let (k, n): (u32, u32) = match (k.trim().parse(), n.trim().parse()) {
        (Ok(k), Ok(n)) => (k, n),
        _ => return Err(syntax()),
    };
    if n == 0 || k == 0 || k > n {
        return Err(ShardError::Range(text.to_owned()));
    }
    Ok((k, n))
}

/// A `--filter` glob that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("--filter `{filter}`: {source}")]
pub(crate) struct FilterError {
    filter: String,
    source: globset::Error,
}

enum Pattern {
    Substring(String),
    /// A glob, which also selects the ids that contain its text: a matrix id copied
    /// from the output (`name[api=chat]`) is a glob too.
    Glob(GlobMatcher, String),
    Exact(String),
}

impl Selection {
    /// Whether a filter, tag, API or model picks among the cases (a shard only splits).
    pub(crate) fn picks(&self) -> bool {
        !(self.filters.is_empty() && self.tags.is_empty() && self.apis.is_empty() && self.models.is_empty())
    }

    /// What this selection makes of a suite before any sharding: the SHA-256 of the
    /// ids, models and samples of the cases it picks, in plan order (its first 16 hex
    /// digits). Shards of one split share it; another suite or selection differs.
    pub(crate) fn fingerprint(&self, cases: impl IntoIterator<Item = Case>) -> Result<String, FilterError> {
        use sha2::{Digest, Sha256};
        let whole = Selection { shard: None, ..self.clone() };
        let mut hash = Sha256::new();
        for case in whole.select(cases)? {
            hash.update(format!("{}\n{}\n{}\n", case.id, case.model, case.samples));
        }
        Ok(hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// The cases to run, in plan order, with `set_model` applied.
    #[cfg(test)]
    pub(crate) fn apply(&self, cases: impl IntoIterator<Item = Case>) -> Result<Vec<Case>, FilterError> {
        Ok(self.select(cases)?.collect())
    }

    /// The cases selected, one at a time, as `cases` yields them.
    pub(crate) fn select<'a>(
        &'a self,
        cases: impl IntoIterator<Item = Case> + 'a,
    ) -> Result<impl Iterator<Item = Case> + 'a, FilterError> {
        let patterns = self
            .filters
            .iter()
            .map(|f| {
                if let Some(id) = f.strip_prefix('=') {
                    Ok(Pattern::Exact(id.to_owned()))
                } else if f.contains(['*', '?', '[']) {
                    Glob::new(f)
                        .map(|g| Pattern::Glob(g.compile_matcher(), f.clone()))
                        .map_err(|source| FilterError { filter: f.clone(), source })
                } else {
                    Ok(Pattern::Substring(f.clone()))
                }
            })
            .collect::<Result<Vec<_>, FilterError>>()?;
        let selected = cases
            .into_iter()
            .filter(move |c| {
                patterns.is_empty()
                    || patterns.iter().any(|p| match p {
                        Pattern::Substring(s) => c.id.contains(s.as_str()),
                        Pattern::Glob(g, text) => g.is_match(&c.id) || c.id.contains(text.as_str()),
                        Pattern::Exact(id) => c.id == *id,
                    })
            })
            .filter(|c| self.tags.is_empty() || c.spec.tags.iter().any(|t| self.tags.contains(t)))
            .filter(|c| self.apis.is_empty() || self.apis.contains(&c.api))
            .filter(|c| self.models.is_empty() || self.models.contains(&c.model))
            .filter(|c| self.shard.is_none_or(|(k, n)| shard_of(&c.id, n) == k - 1))
            .map(|mut c| {
                if let Some(model) = &self.set_model {
                    c.model = model.clone();
                }
                if let Some(n) = self.repeat {
                    c.samples = n;
                }
                c
            });
        Ok(selected)
    }
}

/// The shard (0-based) a case id falls in: FNV-1a of the id, so that the partition is
/// the same on every machine and does not move when other cases are added.
pub(crate) fn shard_of(id: &str, n: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(n)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use serde_json::json;

    fn case(id: &str, api: Api, model: &str, tags: &[&str]) -> Case {
        let spec: Scenario = serde_json::from_value(json!({"name": "n", "prompt": "p", "tags": tags})).unwrap();
        Case {
            id: id.into(),
            file: "f.yaml".into(),
            project_root: ".".into(),
            source: "f.yaml".into(),
            variant: Vec::new(),
            api,
            model: model.into(),
            region: "us-west-2".into(),
            samples: 1,
            timeout: std::time::Duration::from_secs(1),
            tool_timeouts: Default::default(),
            row: None,
            skip: None,
            spec: spec.into(),
        }
    }

    fn suite() -> Vec<Case> {
        vec![
            case("hello-chat", Api::Chat, "20b", &["smoke"]),
            case("hello-converse", Api::Converse, "20b", &["smoke", "bedrock"]),
            case("compare[api=chat,model=120b]", Api::Chat, "120b", &["ja"]),
        ]
    }

    fn ids(cases: Vec<Case>) -> Vec<String> {
        cases.into_iter().map(|c| c.id).collect()
    }

    #[test]
    fn filters_by_substring_glob_tag_api_and_model() {
        let s = |sel: Selection| ids(sel.apply(suite()).unwrap());
        assert_eq!(
            s(Selection { filters: vec!["hello".into()], ..Default::default() }),
            ["hello-chat", "hello-converse"]
        );
        assert_eq!(
            s(Selection { filters: vec!["*api=chat*".into()], ..Default::default() }),
            ["compare[api=chat,model=120b]"]
        );
        assert_eq!(s(Selection { tags: vec!["bedrock".into()], ..Default::default() }), ["hello-converse"]);
        assert_eq!(
            s(Selection { apis: vec![Api::Chat], ..Default::default() }),
            ["hello-chat", "compare[api=chat,model=120b]"]
        );
        assert_eq!(
            s(Selection { models: vec!["120b".into()], ..Default::default() }),
            ["compare[api=chat,model=120b]"]
        );
        let over = Selection { set_model: Some("other".into()), ..Default::default() }.apply(suite()).unwrap();
        assert!(over.iter().all(|c| c.model == "other"));
        let repeated = Selection { repeat: Some(7), ..Default::default() }.apply(suite()).unwrap();
        assert!(repeated.iter().all(|c| c.samples == 7), "--repeat is samples for every case");
    }

    #[test]
    fn shards_of_one_split_share_a_plan_fingerprint_and_other_selections_differ() {
        let print = |s: Selection| s.fingerprint(suite()).unwrap();
        let shard = |k| print(Selection { shard: Some((k, 3)), ..Default::default() });
        assert_eq!(shard(1), shard(3));
        assert_eq!(shard(1), print(Selection::default()), "the plan before sharding");
        assert_eq!(shard(1).len(), 16);
        assert_ne!(shard(1), print(Selection { tags: vec!["smoke".into()], ..Default::default() }));
        assert_ne!(shard(1), print(Selection { repeat: Some(2), ..Default::default() }));
        assert_ne!(shard(1), print(Selection { set_model: Some("x".into()), ..Default::default() }));
    }

    /// Issue 14: a matrix case id copied from the output into `--filter` selected
    /// nothing: its `[` made it a glob, and the "id contains" match was skipped.
    #[test]
    fn a_matrix_id_copied_into_filter_selects_its_case() {
        let s = |f: &str| ids(Selection { filters: vec![f.into()], ..Default::default() }.apply(suite()).unwrap());
        assert_eq!(s("compare[api=chat,model=120b]"), ["compare[api=chat,model=120b]"]);
        assert_eq!(s("api=chat,model=120b]"), ["compare[api=chat,model=120b]"]);
    }

    #[test]
    fn shards_partition_the_suite() {
        let many: Vec<Case> = (0..300).map(|i| case(&format!("case-{i}"), Api::Chat, "m", &[])).collect();
        let mut seen = Vec::new();
        for k in 1..=4 {
            let part = ids(Selection { shard: Some((k, 4)), ..Default::default() }.apply(many.clone()).unwrap());
            assert!(part.len() > 40, "shards are roughly even: {}", part.len());
            seen.extend(part);
        }
        seen.sort();
        let mut all = ids(many);
        all.sort();
        assert_eq!(seen, all, "every case in exactly one shard");
    }

    #[test]
    fn shards_are_fnv1a_so_every_machine_agrees() {
        // FNV-1a 64 reference values: "" is the offset basis, "a" is 0xaf63dc4c8601ec8c.
        assert_eq!(shard_of("", 1000), (0xcbf2_9ce4_8422_2325_u64 % 1000) as u32);
        assert_eq!(shard_of("a", 1000), (0xaf63_dc4c_8601_ec8c_u64 % 1000) as u32);
        assert_eq!(shard_of("foobar", 1000), (0x8594_4171_f739_67e8_u64 % 1000) as u32);
        assert_eq!(shard_of("case-7", 4), 1);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(parse_shard("0/4").is_err());
        assert!(parse_shard("5/4").is_err());
        assert!(parse_shard("2-4").is_err());
    }
}
