//! What a run costs (pure): the price table the tool ships, from AWS's published
//! gpt-oss prices, with its date; the price of a model on a tier, `pricing:` from
//! `defaults.yaml` over the table; a usage's cost in USD; and input tokens counted with
//! the o200k tokenizer family gpt-oss uses (`o200k_harmony`, from tiktoken-rs), for
//! estimates made before anything is sent.

use crate::scenario::{ModelPrices, Price, Pricing, Scenario, ServiceTier};

/// When the shipped table was taken from AWS's price list.
pub(crate) const TABLE_DATE: &str = "2026-12-01";

/// Where the shipped table comes from.
pub(crate) const TABLE_SOURCE: &str = "https://aws.amazon.com/bedrock/pricing/ (OpenAI models, US East and West)";

/// A tier as prices are listed: the three service tiers, and batch inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Default,
    Flex,
    Priority,
    Batch,
}

impl Tier {
    pub(crate) fn of(service_tier: Option<ServiceTier>) -> Tier {
        match service_tier {
            None | Some(ServiceTier::Default) => Tier::Default,
            Some(ServiceTier::Flex) => Tier::Flex,
            Some(ServiceTier::Priority) => Tier::Priority,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tier::Default => "default",
            Tier::Flex => "flex",
            Tier::Priority => "priority",
            Tier::Batch => "batch",
        }
    }
}

/// Standard (on-demand) prices per million tokens, input and output. Flex is half of
/// standard, priority 1.75 times it, batch half (AWS's published ratios for these tiers).
const STANDARD: [(&str, f64, f64); 4] = [
    ("openai.gpt-oss-20b-1:0", 0.07, 0.30),
    ("openai.gpt-oss-120b-1:0", 0.15, 0.60),
    ("openai.gpt-oss-safeguard-20b", 0.07, 0.20),
    ("openai.gpt-oss-safeguard-120b", 0.15, 0.60),
];

/// Cross-region inference profile prefixes, which name the same model.
const PROFILES: &[&str] = &["us.", "eu.", "apac.", "jp.", "au.", "ca.", "global."];

/// `model` without a cross-region profile prefix (`us.openai.gpt-oss-120b-1:0` is
/// `openai.gpt-oss-120b-1:0`, at the same price).
fn unprofiled(model: &str) -> &str {
    PROFILES.iter().find_map(|p| model.strip_prefix(p)).unwrap_or(model)
}

/// The shipped price of `model` on `tier`: Bedrock's gpt-oss ids as Bedrock and Mantle
/// spell them (`openai.gpt-oss-120b-1:0`, `openai.gpt-oss-120b`), behind a cross-region
/// profile or not. Anything else (a local server's `gpt-oss-20b`) is not AWS's to price.
fn shipped(model: &str, tier: Tier) -> Option<Price> {
    let bare = unprofiled(model).strip_prefix("openai.")?;
    let bare = bare.strip_suffix("-1:0").unwrap_or(bare);
    let (_, input, output) = STANDARD.iter().find(|(id, _, _)| {
        let id = id.strip_prefix("openai.").unwrap_or(id);
        id.strip_suffix("-1:0").unwrap_or(id) == bare
    })?;
    let factor = match tier {
        Tier::Default => 1.0,
        Tier::Flex | Tier::Batch => 0.5,
        Tier::Priority => 1.75,
    };
    Some(Price { input: input * factor, output: output * factor })
}

/// The price of `model` on `tier`: the `pricing` given (from `defaults.yaml` or the
/// scenario) where it names that model and tier, else the shipped table. `None` for a
/// model neither knows (a local server's, say): its cost is unknown, not zero.
pub(crate) fn price(pricing: Option<&Pricing>, model: &str, tier: Tier) -> Option<Price> {
    // The id as written, else without its profile prefix, as the table matches it.
    let own = pricing.and_then(|p| {
        let listed = |id: &str| p.get(id).and_then(|m| on_tier(m, tier));
        listed(model).or_else(|| listed(unprofiled(model)))
    });
    own.or_else(|| shipped(model, tier))
}

fn on_tier(prices: &ModelPrices, tier: Tier) -> Option<Price> {
    match tier {
        Tier::Default => prices.default,
        Tier::Flex => prices.flex,
        Tier::Priority => prices.priority,
        Tier::Batch => prices.batch,
    }
}

impl Tier {
    /// The tier an answer was billed on: the one the server says it served, when it
    /// names one of them (`batch` for a batch inference job's); else the one asked for (a chat server may say `auto`).
    pub(crate) fn billed(asked: Option<ServiceTier>, served: Option<&str>) -> Tier {
        match served {
            Some("default") => Tier::Default,
            Some("flex") => Tier::Flex,
            Some("priority") => Tier::Priority,
            Some("batch") => Tier::Batch,
            _ => Tier::of(asked),
        }
    }
}

/// What an answer of `model` to a case of `spec` cost: its `input` and `output` tokens
/// at the price of the tier it was billed on (`served`, else the one `spec` asks for),
/// `spec`'s `pricing` over the table; `None` when no price is known.
pub(crate) fn answer(spec: &Scenario, model: &str, served: Option<&str>, input: u64, output: u64) -> Option<f64> {
    let asked = spec.params.as_ref().and_then(|p| p.service_tier);
    price(spec.pricing.as_ref(), model, Tier::billed(asked, served)).map(|p| cost(p, input, output))
}

/// A sum of costs where some may be unknown: the known ones added, `None` only when
/// none is known.
pub(crate) fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// A cost as reports show it: cents from a dollar up (`$12.40`), three significant
/// digits below (`$0.0123`, `$0.00000420`), so that a cheap case never reads as free.
pub(crate) fn usd(amount: f64) -> String {
    if amount == 0.0 {
        "$0.00".to_owned()
    } else if amount.abs() >= 1.0 {
        format!("${amount:.2}")
    } else {
        // At most 20 places: a hand-made price of 1e-300 still prints as a line.
        let places = ((-amount.abs().log10()).floor().max(0.0) as usize + 3).min(20);
        format!("${amount:.places$}")
    }
}

/// What `input` and `output` tokens cost at `price`, in USD.
pub(crate) fn cost(price: Price, input: u64, output: u64) -> f64 {
    (input as f64 * price.input + output as f64 * price.output) / 1_000_000.0
}

/// Tokens a conversation's texts take in the o200k harmony encoding, with the framing
/// harmony adds: `<|start|>role<|message|>text<|end|>` per message, and the system
/// message the model's chat template puts first (its knowledge cutoff, date, reasoning
/// level and channels), which the servers count as input too.
pub(crate) fn input_tokens<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    let bpe = tiktoken_rs::o200k_harmony_singleton();
    let mut total = HARMONY_SYSTEM_TOKENS;
    for text in texts {
        total += bpe.encode_ordinary(text).len() as u64 + PER_MESSAGE_TOKENS;
    }
    total
}

/// `<|start|>`, the role, `<|message|>` and `<|end|>`.
const PER_MESSAGE_TOKENS: u64 = 4;

/// The system message gpt-oss's chat template adds before the conversation.
const HARMONY_SYSTEM_TOKENS: u64 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_prices_know_every_spelling_of_a_gpt_oss_id() {
        let standard = Price { input: 0.15, output: 0.6 };
        for id in ["openai.gpt-oss-120b-1:0", "openai.gpt-oss-120b", "us.openai.gpt-oss-120b-1:0"] {
            assert_eq!(price(None, id, Tier::Default), Some(standard), "{id}");
        }
        assert_eq!(price(None, "openai.gpt-oss-20b-1:0", Tier::Flex), Some(Price { input: 0.035, output: 0.15 }));
        assert_eq!(price(None, "openai.gpt-oss-20b-1:0", Tier::Batch), Some(Price { input: 0.035, output: 0.15 }));
        let priority = price(None, "openai.gpt-oss-120b-1:0", Tier::Priority).unwrap();
        assert!((priority.input - 0.2625).abs() < 1e-12 && (priority.output - 1.05).abs() < 1e-12);
        assert_eq!(price(None, "my-local-model", Tier::Default), None, "unknown, not free");
        assert_eq!(price(None, "gpt-oss-20b", Tier::Default), None, "a local server's id is not AWS's");
        assert_eq!(price(None, "acme-openai.gpt-oss-20b", Tier::Default), None);
    }

    #[test]
    fn pricing_given_wins_for_the_tiers_it_names() {
        let mine = Price { input: 1.0, output: 2.0 };
        let pricing: Pricing =
            [("openai.gpt-oss-120b-1:0".to_owned(), ModelPrices { flex: Some(mine), ..ModelPrices::default() })].into();
        assert_eq!(price(Some(&pricing), "openai.gpt-oss-120b-1:0", Tier::Flex), Some(mine));
        assert_eq!(price(Some(&pricing), "us.openai.gpt-oss-120b-1:0", Tier::Flex), Some(mine), "behind a profile too");
        assert_eq!(
            price(Some(&pricing), "openai.gpt-oss-120b-1:0", Tier::Default),
            Some(Price { input: 0.15, output: 0.6 }),
            "the other tiers keep the table's"
        );
        let local: Pricing =
            [("llama".to_owned(), ModelPrices { default: Some(mine), ..ModelPrices::default() })].into();
        assert_eq!(price(Some(&local), "llama", Tier::Default), Some(mine));
    }

    #[test]
    fn amounts_read_as_dollars_with_the_places_that_matter() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(12.4), "$12.40");
        assert_eq!(usd(0.0123), "$0.0123");
        assert_eq!(usd(0.5), "$0.500");
        assert_eq!(usd(0.000_004_2), "$0.00000420");
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let p = Price { input: 0.15, output: 0.6 };
        assert!((cost(p, 1_000_000, 0) - 0.15).abs() < 1e-12);
        assert!((cost(p, 2_000, 500) - 0.0006).abs() < 1e-12);
        assert_eq!(cost(p, 0, 0), 0.0);
    }

    #[test]
    fn input_tokens_are_the_harmony_encodings_count_and_its_framing() {
        let empty = input_tokens([]);
        assert_eq!(empty, HARMONY_SYSTEM_TOKENS);
        // "Hello, world!" is four o200k tokens: Hello , world !
        assert_eq!(input_tokens(["Hello, world!"]), HARMONY_SYSTEM_TOKENS + 4 + PER_MESSAGE_TOKENS);
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(100);
        let n = input_tokens([long.as_str()]) - HARMONY_SYSTEM_TOKENS - PER_MESSAGE_TOKENS;
        assert!((900..=1100).contains(&n), "{n}");
    }
}
